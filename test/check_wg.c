/* Tests for agent/wg*.c: the UAPI text protocol (parse, format, errno), the UAPI socket
 * against a fake daemon, the kernel's netlink messages built and parsed back (splitting
 * included), and, when test/wg.test exports WS_WG_IFNAME, a live wireguard-go. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/wireguard.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "agent/wg.h"
#include "agent/wg_kernel.h"
#include "test/check_suites.h"

Suite *wg_suite(void); /* also in check_suites.h once the runner lists it */

/* A real pair (wg genkey | wg pubkey) and two peer public keys, in UAPI hex. */
#define PRIV "a8b86411b5892ed4dc618585892a80def9440c921c701d0b0a016ac6f689a169"
#define PUB "1bc26d99654e189756af81f1f7bb07f518c44669836a10104c0c0bd469924c19"
#define K1 "c048f4decc27276e730a5055f74ee13b29b40df548d9a6802f7face5f903423e"
#define K2 "23304af7117e8e94793a7421fe947993f45cdb5e67f75c4fa37fda7330bb4965"
#define ZERO "0000000000000000000000000000000000000000000000000000000000000000"
#define FAMILY 0x1d /* any generic netlink family id: messages are never sent */

static const char realistic[] =
    "private_key=" PRIV "\nlisten_port=51820\nfwmark=51\n"
    "public_key=" K1 "\npreshared_key=" ZERO "\nprotocol_version=1\n"
    "endpoint=192.0.2.10:51820\nlast_handshake_time_sec=1700000000\n"
    "last_handshake_time_nsec=123456789\ntx_bytes=1024\nrx_bytes=2048\n"
    "persistent_keepalive_interval=25\nallowed_ip=10.9.0.2/32\nallowed_ip=fd00:9::2/128\n"
    "public_key=" K2 "\npreshared_key=" ZERO "\nprotocol_version=1\n"
    "endpoint=[2001:db8::7]:51821\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
    "tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
    "allowed_ip=fd00:9::3/128\nallowed_ip=10.9.1.0/24\nerrno=0\n\n";

/* --- helpers -------------------------------------------------------------------------- */

static void
hex_key(const char *hex, uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; i < WG_KEY_LEN; i++)
		ck_assert_int_eq(sscanf(hex + 2 * i, "%2hhx", &key[i]), 1);
}

/* A distinct key per index. */
static void
index_key(unsigned i, uint8_t key[WG_KEY_LEN])
{
	for (size_t j = 0; j < WG_KEY_LEN; j++)
		key[j] = (uint8_t)(0xa5 ^ j);
	memcpy(key, &i, sizeof(i));
}

static void
add_ip(struct wg_peer *p, const char *s)
{
	char err[128];

	ck_assert_msg(netaddr_parse(s, true, &p->allowed[p->n_allowed], err, sizeof(err)), "%s", err);
	p->n_allowed++;
}

static void
set_endpoint(struct wg_peer *p, const char *ip, uint16_t port)
{
	memset(&p->endpoint, 0, sizeof(p->endpoint));
	if (strchr(ip, ':') != NULL) {
		p->endpoint.in6.sin6_family = AF_INET6;
		p->endpoint.in6.sin6_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET6, ip, &p->endpoint.in6.sin6_addr), 1);
	} else {
		p->endpoint.in4.sin_family = AF_INET;
		p->endpoint.in4.sin_port = htons(port);
		ck_assert_int_eq(inet_pton(AF_INET, ip, &p->endpoint.in4.sin_addr), 1);
	}
	p->flags |= WG_PEER_HAS_ENDPOINT;
}

static char *
endpoint_str(const struct wg_peer *p, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "";

	if (p->endpoint.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &p->endpoint.in4.sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(p->endpoint.in4.sin_port));
	} else if (p->endpoint.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &p->endpoint.in6.sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(p->endpoint.in6.sin6_port));
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
}

static struct wg_device *
dev_new(const char *ifname, size_t n)
{
	struct wg_device *d = calloc(1, sizeof(*d));

	ck_assert_ptr_nonnull(d);
	snprintf(d->ifname, sizeof(d->ifname), "%s", ifname);
	d->n_peers = n;
	d->peers = calloc(n == 0 ? 1 : n, sizeof(*d->peers));
	ck_assert_ptr_nonnull(d->peers);
	return d;
}

static bool
allowed_has(const struct wg_peer *p, const char *s)
{
	struct netaddr a;
	char err[64];

	ck_assert(netaddr_parse(s, true, &a, err, sizeof(err)));
	for (size_t i = 0; i < p->n_allowed; i++)
		if (netaddr_equal(&p->allowed[i], &a))
			return true;
	return false;
}

/* Asserts that got is what set-message peer want says, allowed IPs in order. */
static void
peer_eq(const struct wg_peer *got, const struct wg_peer *want)
{
	char a[80], b[80];

	ck_assert_mem_eq(got->key, want->key, WG_KEY_LEN);
	ck_assert_uint_eq(got->flags, want->flags);
	ck_assert_str_eq(endpoint_str(got, a, sizeof(a)), endpoint_str(want, b, sizeof(b)));
	ck_assert_uint_eq(got->keepalive_s, want->keepalive_s);
	ck_assert_uint_eq(got->n_allowed, want->n_allowed);
	for (size_t i = 0; i < want->n_allowed; i++)
		ck_assert(netaddr_equal(&got->allowed[i], &want->allowed[i]));
}

/* --- UAPI text: core -------------------------------------------------------------------- */

START_TEST(test_uapi_parse_realistic)
{
	struct wg_device *d;
	uint8_t pub[WG_KEY_LEN], k[WG_KEY_LEN];
	char ep[80];

	ck_assert_int_eq(wg_uapi_parse_get(realistic, strlen(realistic), &d), 0);
	hex_key(PUB, pub);
	ck_assert(d->has_public_key);
	ck_assert_mem_eq(d->public_key, pub, WG_KEY_LEN); /* derived from private_key */
	ck_assert_uint_eq(d->listen_port, 51820);
	ck_assert_uint_eq(d->n_peers, 2);

	hex_key(K1, k);
	ck_assert_mem_eq(d->peers[0].key, k, WG_KEY_LEN);
	ck_assert_uint_eq(d->peers[0].flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
	ck_assert_str_eq(endpoint_str(&d->peers[0], ep, sizeof(ep)), "192.0.2.10:51820");
	ck_assert_int_eq(d->peers[0].last_handshake_s, 1700000000);
	ck_assert_uint_eq(d->peers[0].tx_bytes, 1024);
	ck_assert_uint_eq(d->peers[0].rx_bytes, 2048);
	ck_assert_uint_eq(d->peers[0].keepalive_s, 25);
	ck_assert_uint_eq(d->peers[0].n_allowed, 2);
	ck_assert(allowed_has(&d->peers[0], "10.9.0.2/32"));
	ck_assert(allowed_has(&d->peers[0], "fd00:9::2/128"));

	hex_key(K2, k);
	ck_assert_mem_eq(d->peers[1].key, k, WG_KEY_LEN);
	ck_assert_str_eq(endpoint_str(&d->peers[1], ep, sizeof(ep)), "[2001:db8::7]:51821");
	ck_assert_int_eq(d->peers[1].last_handshake_s, 0);
	ck_assert_uint_eq(d->peers[1].keepalive_s, 0);
	ck_assert(d->peers[1].flags & WG_PEER_HAS_KEEPALIVE);
	ck_assert_uint_eq(d->peers[1].n_allowed, 2);
	ck_assert(allowed_has(&d->peers[1], "fd00:9::3/128"));
	ck_assert(allowed_has(&d->peers[1], "10.9.1.0/24"));
	wg_device_free(d);
}
END_TEST

START_TEST(test_uapi_parse_empty_device)
{
	static const char reply[] = "errno=0\n\n";
	struct wg_device *d;

	ck_assert_int_eq(wg_uapi_parse_get(reply, strlen(reply), &d), 0);
	ck_assert(!d->has_public_key);
	ck_assert_uint_eq(d->listen_port, 0);
	ck_assert_uint_eq(d->n_peers, 0);
	wg_device_free(d);
}
END_TEST

START_TEST(test_uapi_parse_errno_reply)
{
	struct wg_device *d = (struct wg_device *)1;

	/* wireguard-go writes the errno negative; the protocol text has it positive */
	ck_assert_int_eq(wg_uapi_parse_get("errno=-22\n\n", 11, &d), -EINVAL);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(wg_uapi_parse_get("errno=5\n\n", 9, &d), -EIO);
	ck_assert_ptr_null(d);
}
END_TEST

START_TEST(test_uapi_unknown_key_ignored)
{
	static const char reply[] = "listen_port=1\nfuture_thing=x y\npublic_key=" K1
	    "\nnew_peer_stat=7\nerrno=0\n\n";
	struct wg_device *d;

	ck_assert_int_eq(wg_uapi_parse_get(reply, strlen(reply), &d), 0);
	ck_assert_uint_eq(d->n_peers, 1);
	ck_assert_uint_eq(d->listen_port, 1);
	wg_device_free(d);
}
END_TEST

START_TEST(test_uapi_parse_set_errno)
{
	ck_assert_int_eq(wg_uapi_parse_errno("errno=0\n\n", 9), 0);
	ck_assert_int_eq(wg_uapi_parse_errno("errno=-98\n\n", 11), -EADDRINUSE);
	ck_assert_int_eq(wg_uapi_parse_errno("errno=22\n\n", 10), -EINVAL);
}
END_TEST

START_TEST(test_uapi_format_set)
{
	static const char want[] =
	    "set=1\n"
	    "public_key=" K1 "\n"
	    "endpoint=192.0.2.10:51820\n"
	    "persistent_keepalive_interval=25\n"
	    "replace_allowed_ips=true\n"
	    "allowed_ip=10.9.0.2/32\n"
	    "allowed_ip=fd00:9::2/128\n"
	    "public_key=" K2 "\n"
	    "endpoint=[2001:db8::7]:51821\n"
	    "public_key=" PUB "\n"
	    "remove=true\n"
	    "\n";
	struct wg_device *d = dev_new("wg0", 3);
	char *text;

	hex_key(K1, d->peers[0].key);
	d->peers[0].flags = WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE;
	d->peers[0].keepalive_s = 25;
	set_endpoint(&d->peers[0], "192.0.2.10", 51820);
	add_ip(&d->peers[0], "10.9.0.2/32");
	add_ip(&d->peers[0], "fd00:9::2/128");
	hex_key(K2, d->peers[1].key);
	set_endpoint(&d->peers[1], "2001:db8::7", 51821);
	hex_key(PUB, d->peers[2].key);
	d->peers[2].flags = WG_PEER_REMOVE;
	add_ip(&d->peers[2], "10.9.9.9/32"); /* not sent with remove */

	ck_assert_int_eq(wg_uapi_format_set(d, &text), 0);
	ck_assert_str_eq(text, want);
	free(text);
	wg_device_free(d);
}
END_TEST

/* --- UAPI text: limits ---------------------------------------------------------------- */

/* One peer with n allowed IPs. */
static int
parse_n_allowed(unsigned n)
{
	char buf[4096];
	struct wg_device *d;
	size_t len;
	int rc;

	len = (size_t)snprintf(buf, sizeof(buf), "public_key=" K1 "\n");
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "allowed_ip=10.0.%u.0/24\n", i);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "errno=0\n\n");
	rc = wg_uapi_parse_get(buf, len, &d);
	if (rc == 0) {
		ck_assert_uint_eq(d->peers[0].n_allowed, n);
		wg_device_free(d);
	}
	return rc;
}

START_TEST(test_uapi_allowed_max)
{
	ck_assert_int_eq(parse_n_allowed(WG_ALLOWED_MAX), 0);
	ck_assert_int_eq(parse_n_allowed(WG_ALLOWED_MAX + 1), -E2BIG);
}
END_TEST

/* n peers, each with a distinct key. */
static int
parse_n_peers(size_t n)
{
	const size_t line = sizeof("public_key=") - 1 + 64 + 1;
	char *buf = malloc(n * line + 16), *p;
	struct wg_device *d;
	int rc;

	ck_assert_ptr_nonnull(buf);
	p = buf;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "public_key=%056x%08zx\n", 0, i);
	p += sprintf(p, "errno=0\n\n");
	rc = wg_uapi_parse_get(buf, (size_t)(p - buf), &d);
	if (rc == 0) {
		ck_assert_uint_eq(d->n_peers, n);
		wg_device_free(d);
	}
	free(buf);
	return rc;
}

START_TEST(test_uapi_peers_max)
{
	ck_assert_int_eq(parse_n_peers(WG_PEERS_MAX), 0);
	ck_assert_int_eq(parse_n_peers(WG_PEERS_MAX + 1), -E2BIG);
}
END_TEST

START_TEST(test_uapi_line_max)
{
	char buf[2200];
	struct wg_device *d;
	int n;

	n = snprintf(buf, sizeof(buf), "x_unknown=%01014d\nerrno=0\n\n", 0); /* 1024 bytes */
	ck_assert_int_eq(wg_uapi_parse_get(buf, (size_t)n, &d), 0);
	wg_device_free(d);
	n = snprintf(buf, sizeof(buf), "x_unknown=%01015d\nerrno=0\n\n", 0);
	ck_assert_int_eq(wg_uapi_parse_get(buf, (size_t)n, &d), -EPROTO);
}
END_TEST

START_TEST(test_uapi_format_limits)
{
	struct wg_device *d = dev_new("wg0", 1);
	char *text = (char *)1;

	d->peers[0].n_allowed = WG_ALLOWED_MAX + 1;
	ck_assert_int_eq(wg_uapi_format_set(d, &text), -EINVAL);
	ck_assert_ptr_null(text);
	d->peers[0].n_allowed = 1; /* family 0 */
	ck_assert_int_eq(wg_uapi_format_set(d, &text), -EINVAL);
	d->peers[0].n_allowed = 0;
	d->peers[0].flags = WG_PEER_HAS_ENDPOINT; /* family 0 */
	ck_assert_int_eq(wg_uapi_format_set(d, &text), -EINVAL);
	d->n_peers = WG_PEERS_MAX + 1; /* refused before the array is read */
	ck_assert_int_eq(wg_uapi_format_set(d, &text), -E2BIG);
	d->n_peers = 1;
	wg_device_free(d);
}
END_TEST

/* --- UAPI text: errors ---------------------------------------------------------------- */

#define PEER "public_key=" K1 "\n"
#define END "errno=0\n\n"

static const struct {
	const char *what, *text;
} refused[] = {
	{ "uppercase hex key", "public_key=" "C048F4DECC27276E730A5055F74EE13B29B40DF548D9A6802F7FACE5F903423E\n" END },
	{ "short key", "public_key=c048f4de\n" END },
	{ "non-hex key", "public_key=" "g048f4decc27276e730a5055f74ee13b29b40df548d9a6802f7face5f903423e\n" END },
	{ "bad private key", "private_key=1234\n" END },
	{ "endpoint without port", PEER "endpoint=192.0.2.1\n" END },
	{ "endpoint with empty port", PEER "endpoint=192.0.2.1:\n" END },
	{ "endpoint port 0", PEER "endpoint=192.0.2.1:0\n" END },
	{ "endpoint port 65536", PEER "endpoint=192.0.2.1:65536\n" END },
	{ "v6 endpoint without brackets", PEER "endpoint=2001:db8::1:51820\n" END },
	{ "v6 endpoint without port", PEER "endpoint=[2001:db8::1]\n" END },
	{ "v4 endpoint in brackets", PEER "endpoint=[192.0.2.1]:51820\n" END },
	{ "hostname endpoint", PEER "endpoint=example.com:51820\n" END },
	{ "unknown zone", PEER "endpoint=[fe80::1%nosuchif0]:51820\n" END },
	{ "allowed_ip without prefix", PEER "allowed_ip=10.0.0.1\n" END },
	{ "allowed_ip prefix 33", PEER "allowed_ip=10.0.0.1/33\n" END },
	{ "allowed_ip bad address", PEER "allowed_ip=10.0.0.256/32\n" END },
	{ "allowed_ip leading zero", PEER "allowed_ip=10.0.0.01/32\n" END },
	{ "listen_port leading zero", "listen_port=051820\n" END },
	{ "listen_port negative", "listen_port=-1\n" END },
	{ "listen_port too big", "listen_port=65536\n" END },
	{ "keepalive too big", PEER "persistent_keepalive_interval=65536\n" END },
	{ "rx_bytes overflow", PEER "rx_bytes=18446744073709551616\n" END },
	{ "nsec too big", PEER "last_handshake_time_nsec=1000000000\n" END },
	{ "protocol_version 2", PEER "protocol_version=2\n" END },
	{ "line without =", PEER "endpoint\n" END },
	{ "uppercase key name", "Listen_port=1\n" END },
	{ "empty key", "=1\n" END },
	{ "peer key before public_key", "allowed_ip=10.0.0.1/32\n" END },
	{ "device key after a peer", PEER "listen_port=1\n" END },
	{ "empty line before errno", PEER "\n" END },
	{ "no final empty line", PEER "errno=0\n" },
	{ "no errno", PEER "\n" },
	{ "no newline at all", "errno=0" },
	{ "bytes after the end", PEER END "x" },
	{ "line after errno", "errno=0\nlisten_port=1\n\n" },
	{ "errno not a number", "errno=x\n\n" },
	{ "errno out of range", "errno=-4096\n\n" },
	{ "empty reply", "" },
	{ "CR line ends", "listen_port=1\r\n" END },
};

START_TEST(test_uapi_refused)
{
	struct wg_device *d = (struct wg_device *)1;
	const char *t = refused[_i].text;

	ck_assert_msg(wg_uapi_parse_get(t, strlen(t), &d) == -EPROTO, "accepted: %s",
	    refused[_i].what);
	ck_assert_ptr_null(d);
}
END_TEST

START_TEST(test_uapi_refused_nul)
{
	static const char t[] = "listen_port=1\0\nerrno=0\n\n";
	struct wg_device *d;

	ck_assert_int_eq(wg_uapi_parse_get(t, sizeof(t) - 1, &d), -EPROTO);
}
END_TEST

START_TEST(test_uapi_set_errno_refused)
{
	static const char *const bad[] = {
		"", "errno=0", "errno=0\n", "errno=\n\n", "errno=0\n\nx", "errno=00\n\n",
		"errno=-0\n\n", "errno=+1\n\n", "Errno=0\n\n", "errno=0 \n\n", "errno=99999\n\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(wg_uapi_parse_errno(bad[i], strlen(bad[i])) == -EPROTO, "accepted %zu", i);
}
END_TEST

/* --- UAPI socket, against a fake daemon ------------------------------------------------ */

struct fake {
	int lfd;
	const char *reply;   /* NULL: say nothing until the client hangs up */
	char got[4096];
	size_t got_len;
	char dir[64];
};

static void *
fake_run(void *arg)
{
	struct fake *f = arg;
	ssize_t n;
	int fd = accept(f->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (f->got_len < sizeof(f->got) - 1) {
		n = read(fd, f->got + f->got_len, sizeof(f->got) - 1 - f->got_len);
		if (n <= 0)
			break;
		f->got_len += (size_t)n;
		if (f->got_len >= 2 && memcmp(f->got + f->got_len - 2, "\n\n", 2) == 0)
			break;
	}
	f->got[f->got_len] = '\0';
	if (f->reply != NULL) {
		n = write(fd, f->reply, strlen(f->reply));
		(void)n;
	} else {
		char c;
		while (read(fd, &c, 1) > 0)
			;
	}
	close(fd);
	return NULL;
}

static void
fake_start(struct fake *f, pthread_t *t, const char *reply)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	f->reply = reply;
	snprintf(f->dir, sizeof(f->dir), "/tmp/check_wg.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f->dir));
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/wgfake0.sock", f->dir);
	f->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(f->lfd, 0);
	ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(f->lfd, 1), 0);
	ck_assert_int_eq(pthread_create(t, NULL, fake_run, f), 0);
}

static void
fake_stop(struct fake *f, pthread_t t)
{
	char path[128];

	pthread_join(t, NULL);
	close(f->lfd);
	snprintf(path, sizeof(path), "%s/wgfake0.sock", f->dir);
	unlink(path);
	rmdir(f->dir);
}

START_TEST(test_uapi_socket_get)
{
	struct fake f;
	pthread_t t;
	struct wg_device *d;

	fake_start(&f, &t, realistic);
	wg_set_uapi_dir(f.dir);
	ck_assert_int_eq(wg_backend_detect("wgfake0"), WG_BACKEND_UAPI);
	ck_assert_int_eq(wg_backend_detect("wgnone0"), WG_BACKEND_KERNEL);
	ck_assert_int_eq(wg_device_get(WG_BACKEND_AUTO, "wgfake0", &d), 0);
	fake_stop(&f, t);
	ck_assert_str_eq(f.got, "get=1\n\n");
	ck_assert_str_eq(d->ifname, "wgfake0");
	ck_assert_uint_eq(d->n_peers, 2);
	wg_device_free(d);
	wg_set_uapi_dir(NULL);
}
END_TEST

START_TEST(test_uapi_socket_set)
{
	struct fake f;
	pthread_t t;
	struct wg_device *d = dev_new("wgfake0", 1);

	hex_key(K1, d->peers[0].key);
	add_ip(&d->peers[0], "10.9.0.2/32");
	fake_start(&f, &t, "errno=-22\n\n");
	wg_set_uapi_dir(f.dir);
	ck_assert_int_eq(wg_device_set(WG_BACKEND_UAPI, d), -EINVAL);
	fake_stop(&f, t);
	ck_assert_str_eq(f.got, "set=1\npublic_key=" K1 "\nallowed_ip=10.9.0.2/32\n\n");
	wg_device_free(d);
	wg_set_uapi_dir(NULL);
}
END_TEST

START_TEST(test_uapi_socket_truncated)
{
	struct fake f;
	pthread_t t;
	struct wg_device *d = (struct wg_device *)1;

	fake_start(&f, &t, "listen_port=1\n"); /* then closes */
	wg_set_uapi_dir(f.dir);
	ck_assert_int_eq(wg_device_get(WG_BACKEND_UAPI, "wgfake0", &d), -EPROTO);
	ck_assert_ptr_null(d);
	fake_stop(&f, t);
	wg_set_uapi_dir(NULL);
}
END_TEST

START_TEST(test_uapi_socket_missing)
{
	struct wg_device *d;

	wg_set_uapi_dir("/nonexistent-dir");
	ck_assert_int_eq(wg_device_get(WG_BACKEND_UAPI, "wgnone0", &d), -ENODEV);
	ck_assert_int_eq(wg_device_get(WG_BACKEND_UAPI, "../etc", &d), -EINVAL);
	ck_assert_int_eq(wg_device_get(WG_BACKEND_UAPI, "", &d), -EINVAL);
	ck_assert_int_eq(wg_device_get(WG_BACKEND_UAPI, "sixteen-chars-xx", &d), -EINVAL);
	wg_set_uapi_dir(NULL);
}
END_TEST

START_TEST(test_uapi_socket_timeout)
{
	struct fake f;
	pthread_t t;
	struct wg_device *d;

	fake_start(&f, &t, NULL); /* reads the request, never answers */
	wg_set_uapi_dir(f.dir);
	ck_assert_int_eq(wg_device_get(WG_BACKEND_UAPI, "wgfake0", &d), -ETIMEDOUT);
	fake_stop(&f, t);
	wg_set_uapi_dir(NULL);
}
END_TEST

/* --- kernel netlink: build, then parse back ------------------------------------------- */

/* Parses every message into one device (reassembly). */
static struct wg_device *
reassemble(struct nl_msg **msgs, size_t n)
{
	struct wg_device *d = calloc(1, sizeof(*d));

	ck_assert_ptr_nonnull(d);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(msgs[i]), d), 0);
	return d;
}

/* Checks the message frame: size, command, flags, NLA_F_NESTED on the peer list. */
static void
check_frame(struct nl_msg *m, size_t msg_max)
{
	struct nlmsghdr *nlh = nlmsg_hdr(m);
	struct genlmsghdr *g = nlmsg_data(nlh);
	struct nlattr *peers;

	ck_assert_uint_le(nlh->nlmsg_len, msg_max);
	ck_assert_int_eq(nlh->nlmsg_type, FAMILY);
	ck_assert(nlh->nlmsg_flags & NLM_F_REQUEST);
	ck_assert(nlh->nlmsg_flags & NLM_F_ACK);
	ck_assert_uint_eq(g->cmd, WG_CMD_SET_DEVICE);
	ck_assert_uint_eq(g->version, WG_GENL_VERSION);
	peers = nla_find(genlmsg_attrdata(g, 0), genlmsg_attrlen(g, 0), WGDEVICE_A_PEERS);
	ck_assert_ptr_nonnull(peers);
	ck_assert(peers->nla_type & NLA_F_NESTED); /* the kernel's strict parser wants it */
}

START_TEST(test_kernel_roundtrip)
{
	struct wg_device *d = dev_new("wg0", 3), *back;
	struct nl_msg **msgs;
	size_t n;

	index_key(1, d->peers[0].key);
	d->peers[0].flags = WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE;
	d->peers[0].keepalive_s = 25;
	set_endpoint(&d->peers[0], "2001:db8::7", 51821);
	add_ip(&d->peers[0], "10.9.0.2/32");
	add_ip(&d->peers[0], "fd00:9::2/128");
	index_key(2, d->peers[1].key);
	set_endpoint(&d->peers[1], "192.0.2.10", 51820);
	index_key(3, d->peers[2].key);
	d->peers[2].flags = WG_PEER_REMOVE;

	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), 0);
	ck_assert_uint_eq(n, 1);
	check_frame(msgs[0], WG_NL_MSG_MAX);
	back = reassemble(msgs, n);
	ck_assert_str_eq(back->ifname, "wg0");
	ck_assert_uint_eq(back->n_peers, 3);
	for (size_t i = 0; i < 3; i++)
		peer_eq(&back->peers[i], &d->peers[i]);
	wg_kernel_msgs_free(msgs, n);
	wg_device_free(back);
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_no_peers)
{
	struct wg_device *d = dev_new("wg0", 0);
	struct nl_msg **msgs;
	size_t n = 7;

	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), 0);
	ck_assert_uint_eq(n, 0);
	wg_kernel_msgs_free(msgs, n);
	wg_device_free(d);
}
END_TEST

/* A dump part as the kernel writes it: device attributes, then peers. */
static struct nl_msg *
dump_msg(bool first, const uint8_t *peer_key, const char *const *ips, size_t n_ips)
{
	struct nl_msg *m = nlmsg_alloc();
	struct nlattr *peers, *peer, *aips, *aip;
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], psk[WG_KEY_LEN];
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(51821) };
	int64_t ts[2] = { 1700000000, 5 };
	struct netaddr a;
	char err[64];

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(genlmsg_put(m, 1, 1, FAMILY, 0, NLM_F_MULTI, WG_CMD_GET_DEVICE, 1));
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr), 1);
	hex_key(PRIV, priv);
	hex_key(PUB, pub);
	memset(psk, 0x77, sizeof(psk));
	if (first) {
		ck_assert_int_eq(nla_put_u16(m, WGDEVICE_A_LISTEN_PORT, 51820), 0);
		ck_assert_int_eq(nla_put_u32(m, WGDEVICE_A_FWMARK, 0), 0);
		ck_assert_int_eq(nla_put_u32(m, WGDEVICE_A_IFINDEX, 7), 0);
		ck_assert_int_eq(nla_put_string(m, WGDEVICE_A_IFNAME, "wg7"), 0);
		ck_assert_int_eq(nla_put(m, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, priv), 0);
		ck_assert_int_eq(nla_put(m, WGDEVICE_A_PUBLIC_KEY, WG_KEY_LEN, pub), 0);
	} else {
		ck_assert_int_eq(nla_put_string(m, WGDEVICE_A_IFNAME, "wg7"), 0);
	}
	peers = nla_nest_start(m, NLA_F_NESTED | WGDEVICE_A_PEERS);
	peer = nla_nest_start(m, NLA_F_NESTED | 0);
	ck_assert_int_eq(nla_put(m, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, peer_key), 0);
	if (first) {
		ck_assert_int_eq(nla_put(m, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, psk), 0);
		ck_assert_int_eq(nla_put(m, WGPEER_A_ENDPOINT, sizeof(sin6), &sin6), 0);
		ck_assert_int_eq(nla_put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25), 0);
		ck_assert_int_eq(nla_put(m, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), ts), 0);
		ck_assert_int_eq(nla_put_u64(m, WGPEER_A_RX_BYTES, 2048), 0);
		ck_assert_int_eq(nla_put_u64(m, WGPEER_A_TX_BYTES, 1024), 0);
		ck_assert_int_eq(nla_put_u32(m, WGPEER_A_PROTOCOL_VERSION, 1), 0);
	}
	aips = nla_nest_start(m, NLA_F_NESTED | WGPEER_A_ALLOWEDIPS);
	for (size_t i = 0; i < n_ips; i++) {
		ck_assert(netaddr_parse(ips[i], true, &a, err, sizeof(err)));
		aip = nla_nest_start(m, NLA_F_NESTED | 0);
		ck_assert_int_eq(nla_put_u16(m, WGALLOWEDIP_A_FAMILY, a.family), 0);
		ck_assert_int_eq(nla_put(m, WGALLOWEDIP_A_IPADDR, a.family == AF_INET ? 4 : 16,
		    a.addr), 0);
		ck_assert_int_eq(nla_put_u8(m, WGALLOWEDIP_A_CIDR_MASK, a.prefix), 0);
		nla_nest_end(m, aip);
	}
	nla_nest_end(m, aips);
	nla_nest_end(m, peer);
	nla_nest_end(m, peers);
	return m;
}

START_TEST(test_kernel_parse_dump)
{
	static const char *const ips1[] = { "10.9.0.2/32", "fd00:9::2/128" };
	static const char *const ips2[] = { "10.9.1.0/24" };
	static const uint8_t zero[WG_KEY_LEN];
	struct nl_msg *m1, *m2;
	struct wg_device *d = calloc(1, sizeof(*d));
	struct nlattr *priv;
	uint8_t k[WG_KEY_LEN], pub[WG_KEY_LEN];
	char ep[80];

	hex_key(K1, k);
	m1 = dump_msg(true, k, ips1, 2);
	m2 = dump_msg(false, k, ips2, 1); /* the same peer, continued */
	ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(m1), d), 0);
	ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(m2), d), 0);
	hex_key(PUB, pub);
	ck_assert_str_eq(d->ifname, "wg7");
	ck_assert(d->has_public_key);
	ck_assert_mem_eq(d->public_key, pub, WG_KEY_LEN);
	ck_assert_uint_eq(d->listen_port, 51820);
	ck_assert_uint_eq(d->n_peers, 1);
	ck_assert_mem_eq(d->peers[0].key, k, WG_KEY_LEN);
	ck_assert_uint_eq(d->peers[0].flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
	ck_assert_str_eq(endpoint_str(&d->peers[0], ep, sizeof(ep)), "[2001:db8::7]:51821");
	ck_assert_uint_eq(d->peers[0].keepalive_s, 25);
	ck_assert_int_eq(d->peers[0].last_handshake_s, 1700000000);
	ck_assert_uint_eq(d->peers[0].rx_bytes, 2048);
	ck_assert_uint_eq(d->peers[0].tx_bytes, 1024);
	ck_assert_uint_eq(d->peers[0].n_allowed, 3);
	ck_assert(allowed_has(&d->peers[0], "10.9.1.0/24"));
	/* the private key does not outlive the parse, even in the received message */
	priv = nlmsg_find_attr(nlmsg_hdr(m1), GENL_HDRLEN, WGDEVICE_A_PRIVATE_KEY);
	ck_assert_ptr_nonnull(priv);
	ck_assert_mem_eq(nla_data(priv), zero, WG_KEY_LEN);
	nlmsg_free(m1);
	nlmsg_free(m2);
	wg_device_free(d);
}
END_TEST

/* --- kernel netlink: limits (splitting) ----------------------------------------------- */

/* n peers with k allowed IPs each, endpoint, keepalive, REPLACE. */
static struct wg_device *
mesh(size_t n, size_t k)
{
	struct wg_device *d = dev_new("wg0", n);
	char ip[64];

	for (size_t i = 0; i < n; i++) {
		struct wg_peer *p = &d->peers[i];

		index_key((unsigned)i, p->key);
		p->flags = WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE;
		p->keepalive_s = 25;
		set_endpoint(p, i % 2 ? "2001:db8::7" : "192.0.2.10", (uint16_t)(10000 + i));
		for (size_t j = 0; j < k; j++) {
			if (j % 2)
				snprintf(ip, sizeof(ip), "fd00:%zx::%zx/128", j, i);
			else
				snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu/32", j, i / 256, i % 256);
			add_ip(p, ip);
		}
	}
	return d;
}

struct split_stats {
	size_t msgs;
	size_t continuations;  /* peer fragments after the first */
	size_t heads_alone;    /* first fragments without any of the peer's allowed IPs */
};

/* Builds d under msg_max, checks every frame and the per-message fragments (each head
 * once, REPLACE and endpoint only there, each allowed IP once), and the reassembly. */
static void
split_check(const struct wg_device *d, size_t msg_max, struct split_stats *st)
{
	struct nl_msg **msgs;
	struct wg_device *back, *part;
	size_t n, heads = 0, ips = 0, want_ips = 0;

	memset(st, 0, sizeof(*st));
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, msg_max, &msgs, &n), 0);
	for (size_t i = 0; i < n; i++) {
		check_frame(msgs[i], msg_max);
		part = calloc(1, sizeof(*part));
		ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(msgs[i]), part), 0);
		ck_assert_uint_ge(part->n_peers, 1);
		for (size_t j = 0; j < part->n_peers; j++) {
			const struct wg_peer *p = &part->peers[j];

			ips += p->n_allowed;
			if (p->flags & (WG_PEER_HAS_ENDPOINT | WG_PEER_REMOVE)) {
				heads++;
				if (p->n_allowed == 0 && !(p->flags & WG_PEER_REMOVE))
					st->heads_alone++;
			} else { /* a continuation: only the key and allowed IPs */
				ck_assert(p->flags == 0 && p->n_allowed > 0);
				st->continuations++;
			}
		}
		wg_device_free(part);
	}
	for (size_t i = 0; i < d->n_peers; i++)
		want_ips += d->peers[i].n_allowed;
	ck_assert_uint_eq(heads, d->n_peers);
	ck_assert_uint_eq(ips, want_ips);
	back = reassemble(msgs, n);
	ck_assert_uint_eq(back->n_peers, d->n_peers);
	for (size_t i = 0; i < d->n_peers; i++)
		peer_eq(&back->peers[i], &d->peers[i]);
	wg_device_free(back);
	wg_kernel_msgs_free(msgs, n);
	st->msgs = n;
}

START_TEST(test_kernel_split_1000_peers)
{
	struct wg_device *d = mesh(1000, 4);
	struct split_stats st;

	split_check(d, WG_NL_MSG_MAX, &st);
	ck_assert_uint_gt(st.msgs, 10); /* ~220 bytes a peer: 27 messages of 8 KiB */
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_split_inside_peer)
{
	struct wg_device *d = mesh(3, WG_ALLOWED_MAX);
	struct split_stats st;
	size_t continuations = 0, heads_alone = 0;

	d->peers[1].flags = WG_PEER_REMOVE;
	d->peers[1].n_allowed = 0;
	memset(&d->peers[1].endpoint, 0, sizeof(d->peers[1].endpoint));
	d->peers[1].keepalive_s = 0;

	/* every budget from the smallest up: each cut point, including right after a head */
	for (size_t max = WG_NL_MSG_MIN; max <= 1600; max += 4) {
		split_check(d, max, &st);
		continuations += st.continuations;
		heads_alone += st.heads_alone;
	}
	ck_assert_uint_gt(continuations, 0);
	ck_assert_uint_gt(heads_alone, 0);
	split_check(d, WG_NL_MSG_MIN, &st);
	ck_assert_uint_ge(st.msgs, 4);
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_build_limits)
{
	struct wg_device *d = mesh(1, 1);
	struct nl_msg **msgs = (struct nl_msg **)1;
	size_t n = 7;

	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MIN - 1, &msgs, &n), -EINVAL);
	ck_assert_ptr_null(msgs);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_LIMIT + 1, &msgs, &n), -EINVAL);
	d->peers[0].n_allowed = WG_ALLOWED_MAX + 1;
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), -EINVAL);
	d->peers[0].n_allowed = 1;
	d->peers[0].allowed[0].family = 0;
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), -EINVAL);
	d->n_peers = WG_PEERS_MAX + 1;
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), -E2BIG);
	d->n_peers = 1;
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_parse_allowed_max)
{
	const char *ips[WG_ALLOWED_MAX + 1];
	char buf[WG_ALLOWED_MAX + 1][32];
	struct wg_device *d = calloc(1, sizeof(*d));
	struct nl_msg *m;
	uint8_t k[WG_KEY_LEN];

	index_key(1, k);
	for (size_t i = 0; i <= WG_ALLOWED_MAX; i++) {
		snprintf(buf[i], sizeof(buf[i]), "10.0.0.%zu/32", i);
		ips[i] = buf[i];
	}
	m = dump_msg(true, k, ips, WG_ALLOWED_MAX);
	ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(m), d), 0);
	nlmsg_free(m);
	/* one more in a continuation */
	m = dump_msg(false, k, ips + WG_ALLOWED_MAX, 1);
	ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(m), d), -E2BIG);
	nlmsg_free(m);
	wg_device_free(d);
}
END_TEST

/* --- kernel netlink: errors ----------------------------------------------------------- */

/* Malformed peer number i: see the switch. */
static struct nl_msg *
bad_peer_msg(int i)
{
	struct nl_msg *m = nlmsg_alloc();
	struct nlattr *peers, *peer, *aips, *aip;
	uint8_t key[WG_KEY_LEN] = { 1 }, addr[16] = { 10 };
	struct sockaddr_in sin = { .sin_family = AF_INET };

	genlmsg_put(m, 1, 1, FAMILY, 0, 0, WG_CMD_GET_DEVICE, 1);
	peers = nla_nest_start(m, NLA_F_NESTED | WGDEVICE_A_PEERS);
	peer = nla_nest_start(m, NLA_F_NESTED | 0);
	if (i == 0) /* something, or libnl drops the empty nest */
		nla_put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	else
		nla_put(m, WGPEER_A_PUBLIC_KEY, i == 1 ? WG_KEY_LEN - 1 : WG_KEY_LEN, key);
	if (i == 2)
		nla_put(m, WGPEER_A_ENDPOINT, sizeof(sin) - 2, &sin);
	if (i == 3) {
		sin.sin_family = AF_UNIX;
		nla_put(m, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
	}
	if (i == 4)
		nla_put(m, WGPEER_A_LAST_HANDSHAKE_TIME, 8, key);
	if (i >= 5) {
		aips = nla_nest_start(m, NLA_F_NESTED | WGPEER_A_ALLOWEDIPS);
		aip = nla_nest_start(m, NLA_F_NESTED | 0);
		nla_put_u16(m, WGALLOWEDIP_A_FAMILY, i == 5 ? AF_UNIX : AF_INET);
		nla_put(m, WGALLOWEDIP_A_IPADDR, i == 6 ? 16 : 4, addr);
		if (i != 8)
			nla_put_u8(m, WGALLOWEDIP_A_CIDR_MASK, i == 7 ? 33 : 32);
		nla_nest_end(m, aip);
		nla_nest_end(m, aips);
	}
	nla_nest_end(m, peer);
	nla_nest_end(m, peers);
	return m;
}

START_TEST(test_kernel_parse_refused)
{
	/* 0 no key, 1 short key, 2 short endpoint, 3 AF_UNIX endpoint, 4 short handshake time,
	 * 5 AF_UNIX allowed IP, 6 v4 with 16 bytes, 7 /33, 8 no prefix */
	struct wg_device *d = calloc(1, sizeof(*d));
	struct nl_msg *m = bad_peer_msg(_i);

	ck_assert_msg(wg_kernel_parse(nlmsg_hdr(m), d) == -EPROTO, "accepted case %d", _i);
	nlmsg_free(m);
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_no_such_device)
{
	struct wg_device *d = (struct wg_device *)1, *set = dev_new("wgnone0", 1);

	/* no module, or no such link: either way no such WireGuard interface */
	ck_assert_int_eq(wg_device_get(WG_BACKEND_KERNEL, "wgnone0", &d), -ENODEV);
	ck_assert_ptr_null(d);
	index_key(1, set->peers[0].key);
	ck_assert_int_eq(wg_device_set(WG_BACKEND_KERNEL, set), -ENODEV);
	wg_device_free(set);
}
END_TEST

/* --- live wireguard-go, driven by test/wg.test ------------------------------------------- */

/* The interface named by WS_WG_IFNAME, or NULL: the live tests then do nothing. */
static const char *
live_ifname(void)
{
	const char *ifname = getenv("WS_WG_IFNAME");

	if (ifname == NULL || ifname[0] == '\0')
		return NULL;
	if (getenv("WS_WG_UAPI_DIR") != NULL)
		wg_set_uapi_dir(getenv("WS_WG_UAPI_DIR"));
	return ifname;
}

/* Key i (0..2) of WS_WG_PEERS, three base64 keys separated by spaces. */
static void
live_key(int i, uint8_t key[WG_KEY_LEN])
{
	const char *s = getenv("WS_WG_PEERS");
	char b64[45];

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_ge(strlen(s), (size_t)(45 * i + 44));
	memcpy(b64, s + 45 * i, 44);
	b64[44] = '\0';
	ck_assert_msg(wg_key_from_base64(b64, key), "bad key in WS_WG_PEERS: %s", b64);
}

static const struct wg_peer *
find_peer(const struct wg_device *d, int i)
{
	uint8_t key[WG_KEY_LEN];

	live_key(i, key);
	for (size_t j = 0; j < d->n_peers; j++)
		if (memcmp(d->peers[j].key, key, WG_KEY_LEN) == 0)
			return &d->peers[j];
	return NULL;
}

static struct wg_device *
live_get(const char *ifname)
{
	struct wg_device *d;

	ck_assert_int_eq(wg_device_get(WG_BACKEND_AUTO, ifname, &d), 0);
	return d;
}

START_TEST(test_live_get)
{
	const char *ifname = live_ifname();
	struct wg_device *d;
	uint8_t pub[WG_KEY_LEN];

	if (ifname == NULL)
		return;
	ck_assert_int_eq(wg_backend_detect(ifname), WG_BACKEND_UAPI);
	d = live_get(ifname);
	ck_assert_str_eq(d->ifname, ifname);
	ck_assert(d->has_public_key);
	ck_assert(wg_key_from_base64(getenv("WS_WG_PUBKEY"), pub));
	ck_assert_mem_eq(d->public_key, pub, WG_KEY_LEN);
	ck_assert_uint_eq(d->listen_port, (unsigned)atoi(getenv("WS_WG_PORT")));
	ck_assert_uint_eq(d->n_peers, 0);
	wg_device_free(d);
}
END_TEST

START_TEST(test_live_add)
{
	const char *ifname = live_ifname();
	struct wg_device *want, *d;
	const struct wg_peer *p;
	char ep[80];

	if (ifname == NULL)
		return;
	want = dev_new(ifname, 3);
	for (int i = 0; i < 3; i++) {
		live_key(i, want->peers[i].key);
		want->peers[i].flags = WG_PEER_REPLACE_ALLOWED;
	}
	set_endpoint(&want->peers[0], "192.0.2.1", 51820);
	want->peers[0].flags |= WG_PEER_HAS_KEEPALIVE;
	want->peers[0].keepalive_s = 25;
	add_ip(&want->peers[0], "10.9.0.2/32");
	add_ip(&want->peers[0], "fd00:9::2/128");
	set_endpoint(&want->peers[1], "2001:db8::2", 51821);
	add_ip(&want->peers[1], "10.9.0.3/32");
	add_ip(&want->peers[2], "10.9.0.4/32");
	add_ip(&want->peers[2], "10.9.1.0/24");
	ck_assert_int_eq(wg_device_set(WG_BACKEND_AUTO, want), 0);

	d = live_get(ifname);
	ck_assert_uint_eq(d->n_peers, 3);
	ck_assert_ptr_nonnull(p = find_peer(d, 0));
	ck_assert_str_eq(endpoint_str(p, ep, sizeof(ep)), "192.0.2.1:51820");
	ck_assert_uint_eq(p->keepalive_s, 25);
	ck_assert_uint_eq(p->n_allowed, 2);
	ck_assert(allowed_has(p, "10.9.0.2/32") && allowed_has(p, "fd00:9::2/128"));
	ck_assert_ptr_nonnull(p = find_peer(d, 1));
	ck_assert_str_eq(endpoint_str(p, ep, sizeof(ep)), "[2001:db8::2]:51821");
	ck_assert_uint_eq(p->keepalive_s, 0);
	ck_assert(p->n_allowed == 1 && allowed_has(p, "10.9.0.3/32"));
	ck_assert_ptr_nonnull(p = find_peer(d, 2));
	ck_assert(!(p->flags & WG_PEER_HAS_ENDPOINT));
	ck_assert(p->n_allowed == 2 && allowed_has(p, "10.9.1.0/24"));
	wg_device_free(d);
	wg_device_free(want);
}
END_TEST

START_TEST(test_live_update)
{
	const char *ifname = live_ifname();
	struct wg_device *upd, *d;
	const struct wg_peer *p;
	char ep[80];

	if (ifname == NULL)
		return;
	upd = dev_new(ifname, 1);
	live_key(0, upd->peers[0].key);
	set_endpoint(&upd->peers[0], "198.51.100.7", 4500); /* endpoint only */
	ck_assert_int_eq(wg_device_set(WG_BACKEND_AUTO, upd), 0);
	d = live_get(ifname);
	ck_assert_uint_eq(d->n_peers, 3);
	ck_assert_ptr_nonnull(p = find_peer(d, 0));
	ck_assert_str_eq(endpoint_str(p, ep, sizeof(ep)), "198.51.100.7:4500");
	ck_assert_uint_eq(p->keepalive_s, 25);
	ck_assert_uint_eq(p->n_allowed, 2); /* untouched */
	wg_device_free(d);
	wg_device_free(upd);
}
END_TEST

START_TEST(test_live_remove)
{
	const char *ifname = live_ifname();
	struct wg_device *rm, *d;

	if (ifname == NULL)
		return;
	rm = dev_new(ifname, 1);
	live_key(1, rm->peers[0].key);
	rm->peers[0].flags = WG_PEER_REMOVE;
	ck_assert_int_eq(wg_device_set(WG_BACKEND_AUTO, rm), 0);
	d = live_get(ifname);
	ck_assert_uint_eq(d->n_peers, 2);
	ck_assert_ptr_null(find_peer(d, 1));
	ck_assert_ptr_nonnull(find_peer(d, 0));
	ck_assert_ptr_nonnull(find_peer(d, 2));
	wg_device_free(d);
	wg_device_free(rm);
}
END_TEST

Suite *
wg_suite(void)
{
	Suite *s = suite_create("wg");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_uapi_parse_realistic);
	tcase_add_test(tc, test_uapi_parse_empty_device);
	tcase_add_test(tc, test_uapi_parse_errno_reply);
	tcase_add_test(tc, test_uapi_unknown_key_ignored);
	tcase_add_test(tc, test_uapi_parse_set_errno);
	tcase_add_test(tc, test_uapi_format_set);
	tcase_add_test(tc, test_uapi_socket_get);
	tcase_add_test(tc, test_uapi_socket_set);
	tcase_add_test(tc, test_kernel_roundtrip);
	tcase_add_test(tc, test_kernel_no_peers);
	tcase_add_test(tc, test_kernel_parse_dump);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_uapi_allowed_max);
	tcase_add_test(tc, test_uapi_peers_max);
	tcase_add_test(tc, test_uapi_line_max);
	tcase_add_test(tc, test_uapi_format_limits);
	tcase_add_test(tc, test_uapi_socket_timeout);
	tcase_add_test(tc, test_kernel_split_1000_peers);
	tcase_add_test(tc, test_kernel_split_inside_peer);
	tcase_add_test(tc, test_kernel_build_limits);
	tcase_add_test(tc, test_kernel_parse_allowed_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_uapi_refused, 0, (int)(sizeof(refused) / sizeof(refused[0])));
	tcase_add_test(tc, test_uapi_refused_nul);
	tcase_add_test(tc, test_uapi_set_errno_refused);
	tcase_add_test(tc, test_uapi_socket_truncated);
	tcase_add_test(tc, test_uapi_socket_missing);
	tcase_add_loop_test(tc, test_kernel_parse_refused, 0, 9);
	tcase_add_test(tc, test_kernel_no_such_device);
	suite_add_tcase(s, tc);

	/* Live steps, one case each so test/wg.test can check `wg show` in between; without
	 * WS_WG_IFNAME they do nothing. */
	tc = tcase_create("uapi-live-get");
	tcase_add_test(tc, test_live_get);
	suite_add_tcase(s, tc);
	tc = tcase_create("uapi-live-add");
	tcase_add_test(tc, test_live_add);
	suite_add_tcase(s, tc);
	tc = tcase_create("uapi-live-update");
	tcase_add_test(tc, test_live_update);
	suite_add_tcase(s, tc);
	tc = tcase_create("uapi-live-remove");
	tcase_add_test(tc, test_live_remove);
	suite_add_tcase(s, tc);
	return s;
}
