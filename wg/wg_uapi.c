/* The cross-platform userspace API (wireguard-go, boringtun): "get=1" and "set=1" over
 * <dir>/<ifname>.sock, key=value lines, an "errno=N" reply. This file has the "set"
 * request and the socket; wg_uapi_parse.c reads the replies. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "wg/wg.h"
#include "wg/wg_uapi_impl.h"
#include "rpc/log.h"

#define UAPI_ERRNO_REPLY_MAX 64
#define UAPI_IO_TIMEOUT_S 5    /* per read/write: a silent daemon */
#define UAPI_TOTAL_TIMEOUT_S 30 /* per operation: a daemon that trickles */

/* --- the "set" request -------------------------------------------------------------- */

static void
key_to_hex(const uint8_t key[WG_KEY_LEN], char out[KEY_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < WG_KEY_LEN; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 0xf];
	}
	out[KEY_HEX_LEN] = '\0';
}

struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	size_t ncap;
	char *np;
	int n;

	if (b->err != 0)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		ncap = b->cap * 2 + (size_t)n + 1;
		np = realloc(b->p, ncap);
		if (np == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

static int
format_endpoint(struct sbuf *b, const struct wg_peer *peer)
{
	char host[INET6_ADDRSTRLEN];

	switch (peer->endpoint.sa.sa_family) {
	case AF_INET:
		if (inet_ntop(AF_INET, &peer->endpoint.in4.sin_addr, host, sizeof(host)) == NULL)
			return -EINVAL;
		sbuf_printf(b, "endpoint=%s:%u\n", host, (unsigned)ntohs(peer->endpoint.in4.sin_port));
		return 0;
	case AF_INET6:
		if (inet_ntop(AF_INET6, &peer->endpoint.in6.sin6_addr, host, sizeof(host)) == NULL)
			return -EINVAL;
		if (peer->endpoint.in6.sin6_scope_id != 0)
			sbuf_printf(b, "endpoint=[%s%%%u]:%u\n", host,
			    (unsigned)peer->endpoint.in6.sin6_scope_id,
			    (unsigned)ntohs(peer->endpoint.in6.sin6_port));
		else
			sbuf_printf(b, "endpoint=[%s]:%u\n", host,
			    (unsigned)ntohs(peer->endpoint.in6.sin6_port));
		return 0;
	default:
		return -EINVAL;
	}
}

int
wg_uapi_format_set(const struct wg_device *dev, char **out)
{
	struct sbuf b = { 0 };
	char hex[KEY_HEX_LEN + 1], addr[NETADDR_STRLEN];
	const struct wg_peer *peer;
	size_t i, j;
	int rc = 0;

	*out = NULL;
	if (dev->n_peers > WG_PEERS_MAX)
		return -E2BIG;
	b.cap = 256 + dev->n_peers * 160;
	if ((b.p = malloc(b.cap)) == NULL)
		return -ENOMEM;
	b.p[0] = '\0';
	sbuf_printf(&b, "set=1\n");
	for (i = 0; i < dev->n_peers && rc == 0; i++) {
		peer = &dev->peers[i];
		key_to_hex(peer->key, hex);
		sbuf_printf(&b, "public_key=%s\n", hex);
		if (peer->flags & WG_PEER_REMOVE) {
			sbuf_printf(&b, "remove=true\n");
			continue;
		}
		if (peer->flags & WG_PEER_HAS_ENDPOINT)
			rc = format_endpoint(&b, peer);
		if (peer->flags & WG_PEER_HAS_KEEPALIVE)
			sbuf_printf(&b, "persistent_keepalive_interval=%u\n",
			    (unsigned)peer->keepalive_s);
		if (peer->flags & WG_PEER_REPLACE_ALLOWED)
			sbuf_printf(&b, "replace_allowed_ips=true\n");
		if (peer->n_allowed > WG_ALLOWED_MAX)
			rc = -EINVAL;
		for (j = 0; j < peer->n_allowed && rc == 0; j++) {
			if (peer->allowed[j].family != AF_INET && peer->allowed[j].family != AF_INET6)
				rc = -EINVAL;
			else
				sbuf_printf(&b, "allowed_ip=%s\n",
				    netaddr_format(&peer->allowed[j], true, addr));
		}
	}
	sbuf_printf(&b, "\n");
	if (rc == 0)
		rc = b.err;
	if (rc == 0)
		*out = b.p;
	else
		free(b.p);
	return rc;
}

/* --- the socket ------------------------------------------------------------------------ */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connects to <dir>/<ifname>.sock with read/write timeouts. Returns the fd or -errno
 * (-ENODEV when nothing listens there). */
static int
uapi_connect(const char *dir, const char *ifname)
{
	struct sockaddr_un sun;
	struct timeval tv = { .tv_sec = UAPI_IO_TIMEOUT_S };
	int fd = -1, n, rc;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", dir, ifname);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		goto fail;
	return fd;
fail:
	rc = errno;
	close(fd);
	if (rc == ENOENT || rc == ECONNREFUSED || rc == ENOTDIR)
		return -ENODEV;
	if (rc == EAGAIN || rc == EINPROGRESS)
		return -ETIMEDOUT;
	return -rc;
}

static int
uapi_send(int fd, const char *buf, size_t len, int64_t deadline)
{
	ssize_t n;

	while (len > 0) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads what is there (0 at EOF) or returns -errno (-ETIMEDOUT). */
static ssize_t
uapi_recv(int fd, char *buf, size_t cap, int64_t deadline)
{
	ssize_t n;

	for (;;) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		n = recv(fd, buf, cap, 0);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? -ETIMEDOUT : -errno;
	}
}

int
wg_uapi_get(const char *dir, const char *ifname, struct wg_device **out)
{
	static const char req[] = "get=1\n\n";
	char *buf = NULL;
	struct uapi_get_parser p = { 0 };
	int64_t deadline = now_ms() + UAPI_TOTAL_TIMEOUT_S * 1000;
	size_t fill = 0, used;
	ssize_t n;
	int fd = -1, rc;

	*out = NULL;
	if ((rc = uapi_get_parser_init(&p)) < 0)
		goto out;
	if ((buf = malloc(UAPI_READ_CHUNK)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((fd = uapi_connect(dir, ifname)) < 0) {
		rc = fd;
		goto out;
	}
	if ((rc = uapi_send(fd, req, sizeof(req) - 1, deadline)) < 0)
		goto out;
	while (!p.done) {
		n = uapi_recv(fd, buf + fill, UAPI_READ_CHUNK - fill, deadline);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (n == 0) {
			log_warnx("wg uapi: %s: the daemon closed before the end of the reply", ifname);
			rc = -EPROTO;
			goto out;
		}
		fill += (size_t)n;
		if ((rc = uapi_get_feed(&p, buf, fill, &used)) < 0)
			goto out;
		if (p.done && used != fill) {
			log_warnx("wg uapi: %s: bytes after the end of the reply", ifname);
			rc = -EPROTO;
			goto out;
		}
		memmove(buf, buf + used, fill - used);
		fill -= used;
	}
	rc = p.err;
	if (rc == 0)
		snprintf(p.dev->ifname, sizeof(p.dev->ifname), "%s", ifname);
out:
	if (fd >= 0)
		close(fd);
	if (buf != NULL) {
		OPENSSL_cleanse(buf, UAPI_READ_CHUNK); /* it held the private key in hex */
		free(buf);
	}
	if (rc == 0)
		*out = p.dev;
	else
		wg_device_free(p.dev);
	return rc;
}

/* Sends a "set=1" request and reads its errno= reply. */
static int
uapi_set_exchange(const char *dir, const char *ifname, const char *req)
{
	char reply[UAPI_ERRNO_REPLY_MAX];
	int64_t deadline = now_ms() + UAPI_TOTAL_TIMEOUT_S * 1000;
	size_t fill = 0;
	ssize_t n;
	int fd = -1, rc, send_rc;

	if ((fd = uapi_connect(dir, ifname)) < 0)
		return fd;
	/* A daemon that refuses a line answers and stops reading: the write may then fail
	 * while its errno= is waiting to be read. */
	send_rc = uapi_send(fd, req, strlen(req), deadline);
	if (send_rc < 0 && send_rc != -EPIPE && send_rc != -ECONNRESET) {
		rc = send_rc;
		goto out;
	}
	for (;;) {
		if (fill >= 2 && reply[fill - 1] == '\n' && reply[fill - 2] == '\n')
			break;
		if (fill == sizeof(reply)) {
			log_warnx("wg uapi: %s: set reply longer than %zu bytes", ifname,
			    sizeof(reply));
			rc = -EPROTO;
			goto out;
		}
		n = uapi_recv(fd, reply + fill, sizeof(reply) - fill, deadline);
		if (n < 0) {
			rc = send_rc < 0 ? send_rc : (int)n;
			goto out;
		}
		if (n == 0)
			break;
		fill += (size_t)n;
	}
	if (fill == 0 && send_rc < 0) {
		rc = send_rc;
		goto out;
	}
	rc = wg_uapi_parse_errno(reply, fill);
out:
	close(fd);
	return rc;
}

int
wg_uapi_set(const char *dir, const struct wg_device *dev)
{
	char *req = NULL;
	int rc;

	if ((rc = wg_uapi_format_set(dev, &req)) < 0 || dev->n_peers == 0)
		goto out; /* nothing to change */
	rc = uapi_set_exchange(dir, dev->ifname, req);
out:
	free(req);
	return rc;
}

int
wg_uapi_set_private_key(const char *dir, const char *ifname, const uint8_t key[WG_KEY_LEN])
{
	char req[sizeof("set=1\nprivate_key=\n\n") + KEY_HEX_LEN];
	char hex[KEY_HEX_LEN + 1];
	int rc;

	key_to_hex(key, hex);
	snprintf(req, sizeof(req), "set=1\nprivate_key=%s\n\n", hex);
	rc = uapi_set_exchange(dir, ifname, req);
	OPENSSL_cleanse(hex, sizeof(hex));
	OPENSSL_cleanse(req, sizeof(req));
	return rc;
}
