/* The UAPI's replies read (wg_uapi.c has the socket and the "set" request): the "get"
 * reply's key=value lines and the "errno=N" that answers a "set". The parser is strict
 * and bounded, and fed line by line so the socket reader never holds a whole reply. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "wg/wg.h"
#include "wg/wg_uapi_impl.h"
#include "rpc/log.h"

#define UAPI_ERRNO_MAX 4095
#define QUOTE_MAX 64

/* --- small parsers ------------------------------------------------------------------- */

/* Copies s into out for a log line: non-printable bytes become '?', long values are cut. */
static void
uapi_quote(const char *s, char out[QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < QUOTE_MAX; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/* Logs "wg uapi: bad <key> "<value>"" and returns -EPROTO. */
static int
uapi_bad(const char *key, const char *value)
{
	char q[QUOTE_MAX + 4];

	uapi_quote(value, q);
	log_warnx("wg uapi: bad %s \"%s\"", key, q);
	return -EPROTO;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* 64 lowercase hex digits into 32 bytes. */
static bool
key_from_hex(const char *s, uint8_t key[WG_KEY_LEN])
{
	int hi, lo;
	size_t i;

	if (strnlen(s, KEY_HEX_LEN + 1) != KEY_HEX_LEN)
		return false;
	for (i = 0; i < WG_KEY_LEN; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		key[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Decimal digits only: no sign, no leading zero, at most max. */
static bool
parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0'))
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (max - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* "N" or "-N" with 0 <= N <= UAPI_ERRNO_MAX; *out = -N. */
static bool
parse_errno_value(const char *s, int *out)
{
	uint64_t n;

	if (s[0] == '-' && s[1] != '0')
		s++;
	if (!parse_uint(s, UAPI_ERRNO_MAX, &n))
		return false;
	*out = -(int)n;
	return true;
}

/* X25519 public key of priv (WireGuard's static key pair). */
static bool
public_from_private(const uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN])
{
	EVP_PKEY *k;
	size_t len = WG_KEY_LEN;
	bool ok;

	k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, WG_KEY_LEN);
	if (k == NULL)
		return false;
	ok = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == WG_KEY_LEN;
	EVP_PKEY_free(k);
	return ok;
}

/* "192.0.2.1:51820", "[2001:db8::1]:51820" or "[fe80::1%eth0]:51820" (the zone a number
 * or a local interface name). */
static bool
parse_endpoint(const char *s, struct wg_peer *peer)
{
	char host[INET6_ADDRSTRLEN + 1 + IF_NAMESIZE], err[8];
	const char *hend, *port, *zone = NULL;
	struct netaddr a;
	uint64_t portnum, scope = 0;
	size_t hlen;
	bool bracket = s[0] == '[';
	char *pct;

	if (bracket) {
		hend = strchr(s, ']');
		if (hend == NULL || hend[1] != ':')
			return false;
		s++;
		port = hend + 2;
	} else {
		hend = strrchr(s, ':');
		if (hend == NULL)
			return false;
		port = hend + 1;
	}
	hlen = (size_t)(hend - s);
	if (hlen == 0 || hlen >= sizeof(host))
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (!parse_uint(port, 65535, &portnum) || portnum == 0)
		return false;
	pct = strchr(host, '%');
	if (pct != NULL) {
		*pct = '\0';
		zone = pct + 1;
	}
	if (!netaddr_parse(host, false, &a, err, sizeof(err)))
		return false;
	/* Brackets exactly around v6 addresses; a zone only on v6. */
	if ((a.family == AF_INET6) != bracket || (zone != NULL && a.family != AF_INET6))
		return false;
	if (zone != NULL) {
		if (zone[0] == '\0')
			return false;
		if (!parse_uint(zone, UINT32_MAX, &scope)) {
			scope = strlen(zone) < IF_NAMESIZE ? if_nametoindex(zone) : 0;
			if (scope == 0)
				return false;
		}
	}
	memset(&peer->endpoint, 0, sizeof(peer->endpoint));
	if (a.family == AF_INET) {
		peer->endpoint.in4.sin_family = AF_INET;
		peer->endpoint.in4.sin_port = htons((uint16_t)portnum);
		memcpy(&peer->endpoint.in4.sin_addr, a.addr, 4);
	} else {
		peer->endpoint.in6.sin6_family = AF_INET6;
		peer->endpoint.in6.sin6_port = htons((uint16_t)portnum);
		peer->endpoint.in6.sin6_scope_id = (uint32_t)scope;
		memcpy(&peer->endpoint.in6.sin6_addr, a.addr, 16);
	}
	peer->flags |= WG_PEER_HAS_ENDPOINT;
	return true;
}

/* Key names: [a-z0-9_]+. */
static bool
key_syntax_ok(const char *k)
{
	if (*k == '\0')
		return false;
	for (; *k != '\0'; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') || *k == '_'))
			return false;
	return true;
}

/* --- the "get" reply, line by line ---------------------------------------------------- */

static int
get_new_peer(struct uapi_get_parser *p)
{
	struct wg_device *dev = p->dev;
	struct wg_peer *np;
	size_t ncap;

	if (dev->n_peers >= WG_PEERS_MAX) {
		log_warnx("wg uapi: more than %d peers", WG_PEERS_MAX);
		return -E2BIG;
	}
	if (dev->n_peers == p->cap) {
		ncap = p->cap == 0 ? 16 : p->cap * 2;
		if (ncap > WG_PEERS_MAX)
			ncap = WG_PEERS_MAX;
		np = realloc(dev->peers, ncap * sizeof(*np));
		if (np == NULL)
			return -ENOMEM;
		dev->peers = np;
		p->cap = ncap;
	}
	memset(&dev->peers[dev->n_peers], 0, sizeof(dev->peers[0]));
	dev->n_peers++;
	return 0;
}

/* Device-level keys, before the first public_key. */
static int
get_device_line(struct uapi_get_parser *p, const char *key, char *value)
{
	uint8_t priv[WG_KEY_LEN];
	uint64_t n;
	int rc = 0;

	if (strcmp(key, "private_key") == 0) {
		if (!key_from_hex(value, priv)) {
			log_warnx("wg uapi: bad private_key (not 64 lowercase hex digits)");
			rc = -EPROTO;
		} else if (!public_from_private(priv, p->dev->public_key)) {
			log_warnx("wg uapi: cannot derive the public key");
			rc = -EPROTO;
		} else {
			p->dev->has_public_key = true;
		}
		OPENSSL_cleanse(priv, sizeof(priv));
		OPENSSL_cleanse(value, strlen(value));
	} else if (strcmp(key, "listen_port") == 0) {
		if (!parse_uint(value, 65535, &n))
			return uapi_bad(key, value);
		p->dev->listen_port = (uint16_t)n;
	} else if (strcmp(key, "fwmark") == 0) {
		if (!parse_uint(value, UINT32_MAX, &n))
			return uapi_bad(key, value);
	}
	/* other keys: ignored */
	return rc;
}

/* Peer-level keys, for the last peer. */
static int
get_peer_line(struct uapi_get_parser *p, const char *key, char *value)
{
	struct wg_peer *peer = &p->dev->peers[p->dev->n_peers - 1];
	uint8_t psk[WG_KEY_LEN];
	char err[8];
	uint64_t n;
	bool ok;

	if (strcmp(key, "preshared_key") == 0) {
		ok = key_from_hex(value, psk);
		OPENSSL_cleanse(psk, sizeof(psk));
		OPENSSL_cleanse(value, strlen(value));
		if (!ok) {
			log_warnx("wg uapi: bad preshared_key (not 64 lowercase hex digits)");
			return -EPROTO;
		}
	} else if (strcmp(key, "protocol_version") == 0) {
		if (strcmp(value, "1") != 0)
			return uapi_bad(key, value);
	} else if (strcmp(key, "endpoint") == 0) {
		if (!parse_endpoint(value, peer))
			return uapi_bad(key, value);
	} else if (strcmp(key, "last_handshake_time_sec") == 0) {
		if (!parse_uint(value, INT64_MAX, &n))
			return uapi_bad(key, value);
		peer->last_handshake_s = (int64_t)n;
	} else if (strcmp(key, "last_handshake_time_nsec") == 0) {
		if (!parse_uint(value, 999999999, &n))
			return uapi_bad(key, value);
	} else if (strcmp(key, "rx_bytes") == 0) {
		if (!parse_uint(value, UINT64_MAX, &peer->rx_bytes))
			return uapi_bad(key, value);
	} else if (strcmp(key, "tx_bytes") == 0) {
		if (!parse_uint(value, UINT64_MAX, &peer->tx_bytes))
			return uapi_bad(key, value);
	} else if (strcmp(key, "persistent_keepalive_interval") == 0) {
		if (!parse_uint(value, 65535, &n))
			return uapi_bad(key, value);
		peer->keepalive_s = (uint16_t)n;
		peer->flags |= WG_PEER_HAS_KEEPALIVE;
	} else if (strcmp(key, "allowed_ip") == 0) {
		if (peer->n_allowed >= WG_ALLOWED_MAX) {
			log_warnx("wg uapi: a peer has more than %d allowed IPs", WG_ALLOWED_MAX);
			return -E2BIG;
		}
		if (strchr(value, '/') == NULL ||
		    !netaddr_parse(value, true, &peer->allowed[peer->n_allowed], err, sizeof(err)))
			return uapi_bad(key, value);
		peer->n_allowed++;
	}
	/* other keys: ignored */
	return 0;
}

static bool
is_device_key(const char *key)
{
	return strcmp(key, "private_key") == 0 || strcmp(key, "listen_port") == 0 ||
	    strcmp(key, "fwmark") == 0;
}

static bool
is_peer_key(const char *key)
{
	static const char *const keys[] = {
		"preshared_key", "protocol_version", "endpoint", "last_handshake_time_sec",
		"last_handshake_time_nsec", "rx_bytes", "tx_bytes",
		"persistent_keepalive_interval", "allowed_ip",
	};
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

/* One line, NUL-terminated, without its '\n'; line is scratch (it is cut at '='). */
static int
get_line(struct uapi_get_parser *p, char *line, size_t len)
{
	char *key = line, *value;
	int rc;

	if (len == 0) {
		if (!p->got_errno) {
			log_warnx("wg uapi: empty line before errno=");
			return -EPROTO;
		}
		p->done = true;
		return 0;
	}
	value = strchr(line, '=');
	if (value != NULL)
		*value++ = '\0';
	if (p->got_errno) /* only the key is quoted: the value might be a secret */
		return uapi_bad("line after errno=, key", key);
	if (value == NULL)
		return uapi_bad("line (no '=')", line);
	if (!key_syntax_ok(key))
		return uapi_bad("key", key);

	if (strcmp(key, "errno") == 0) {
		if (!parse_errno_value(value, &p->err))
			return uapi_bad(key, value);
		p->got_errno = true;
		return 0;
	}
	if (strcmp(key, "public_key") == 0) {
		if ((rc = get_new_peer(p)) < 0)
			return rc;
		if (!key_from_hex(value, p->dev->peers[p->dev->n_peers - 1].key))
			return uapi_bad(key, value);
		return 0;
	}
	if (p->dev->n_peers == 0) {
		if (is_peer_key(key))
			return uapi_bad("peer key before the first public_key", key);
		return get_device_line(p, key, value);
	}
	if (is_device_key(key))
		return uapi_bad("device key after a peer", key);
	return get_peer_line(p, key, value);
}

int
uapi_get_feed(struct uapi_get_parser *p, const char *buf, size_t len, size_t *used)
{
	char line[UAPI_LINE_MAX + 1];
	const char *nl;
	size_t pos = 0, n;
	int rc = 0;

	while (!p->done) {
		nl = memchr(buf + pos, '\n', len - pos);
		if (nl == NULL) {
			if (len - pos > UAPI_LINE_MAX) {
				log_warnx("wg uapi: line longer than %d bytes", UAPI_LINE_MAX);
				rc = -EPROTO;
			}
			break;
		}
		n = (size_t)(nl - (buf + pos));
		if (n > UAPI_LINE_MAX) {
			log_warnx("wg uapi: line longer than %d bytes", UAPI_LINE_MAX);
			rc = -EPROTO;
			break;
		}
		if (memchr(buf + pos, '\0', n) != NULL) {
			log_warnx("wg uapi: NUL byte in a line");
			rc = -EPROTO;
			break;
		}
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		rc = get_line(p, line, n);
		OPENSSL_cleanse(line, n);
		if (rc < 0)
			break;
		pos += n + 1;
	}
	*used = pos;
	return rc;
}

int
uapi_get_parser_init(struct uapi_get_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->dev = calloc(1, sizeof(*p->dev));
	return p->dev == NULL ? -ENOMEM : 0;
}

int
wg_uapi_parse_get(const char *buf, size_t len, struct wg_device **out)
{
	struct uapi_get_parser p;
	size_t used = 0;
	int rc;

	*out = NULL;
	if ((rc = uapi_get_parser_init(&p)) < 0)
		return rc;
	if ((rc = uapi_get_feed(&p, buf, len, &used)) < 0)
		goto out;
	if (!p.done) {
		log_warnx("wg uapi: reply ends before errno= and its empty line");
		rc = -EPROTO;
	} else if (used != len) {
		log_warnx("wg uapi: %zu bytes after the end of the reply", len - used);
		rc = -EPROTO;
	} else {
		rc = p.err;
	}
out:
	if (rc == 0)
		*out = p.dev;
	else
		wg_device_free(p.dev);
	return rc;
}

int
wg_uapi_parse_errno(const char *buf, size_t len)
{
	static const char prefix[] = "errno=";
	char value[16];
	size_t plen = sizeof(prefix) - 1, vlen;
	int err;

	if (len < plen + 3 || memcmp(buf, prefix, plen) != 0 || buf[len - 2] != '\n' ||
	    buf[len - 1] != '\n')
		goto bad;
	vlen = len - plen - 2;
	if (vlen >= sizeof(value) || memchr(buf + plen, '\n', vlen) != NULL ||
	    memchr(buf + plen, '\0', vlen) != NULL)
		goto bad;
	memcpy(value, buf + plen, vlen);
	value[vlen] = '\0';
	if (!parse_errno_value(value, &err))
		goto bad;
	return err;
bad:
	log_warnx("wg uapi: set reply is not \"errno=N\" and an empty line");
	return -EPROTO;
}
