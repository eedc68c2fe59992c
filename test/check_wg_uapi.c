/* Tests for wg/wg_uapi.c: the UAPI text protocol (parse, format, errno) and the UAPI
 * socket against a fake daemon. The kernel backend is in check_wg_kernel.c, the live
 * wireguard-go steps in check_wg_live.c. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "wg/wg.h"
#include "test/check_suites.h"
#include "test/wgtest.h"

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

/* --- UAPI text: core -------------------------------------------------------------------- */

START_TEST(test_uapi_parse_realistic)
{
	struct wg_device *d;
	uint8_t pub[WG_KEY_LEN], k[WG_KEY_LEN];
	char ep[80];

	ck_assert_int_eq(wg_uapi_parse_get(realistic, strlen(realistic), &d), 0);
	wgt_hex_key(PUB, pub);
	ck_assert(d->has_public_key);
	ck_assert_mem_eq(d->public_key, pub, WG_KEY_LEN); /* derived from private_key */
	ck_assert_uint_eq(d->listen_port, 51820);
	ck_assert_uint_eq(d->n_peers, 2);

	wgt_hex_key(K1, k);
	ck_assert_mem_eq(d->peers[0].key, k, WG_KEY_LEN);
	ck_assert_uint_eq(d->peers[0].flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
	ck_assert_str_eq(wgt_endpoint_str(&d->peers[0], ep, sizeof(ep)), "192.0.2.10:51820");
	ck_assert_int_eq(d->peers[0].last_handshake_s, 1700000000);
	ck_assert_uint_eq(d->peers[0].tx_bytes, 1024);
	ck_assert_uint_eq(d->peers[0].rx_bytes, 2048);
	ck_assert_uint_eq(d->peers[0].keepalive_s, 25);
	ck_assert_uint_eq(d->peers[0].n_allowed, 2);
	ck_assert(wgt_allowed_has(&d->peers[0], "10.9.0.2/32"));
	ck_assert(wgt_allowed_has(&d->peers[0], "fd00:9::2/128"));

	wgt_hex_key(K2, k);
	ck_assert_mem_eq(d->peers[1].key, k, WG_KEY_LEN);
	ck_assert_str_eq(wgt_endpoint_str(&d->peers[1], ep, sizeof(ep)), "[2001:db8::7]:51821");
	ck_assert_int_eq(d->peers[1].last_handshake_s, 0);
	ck_assert_uint_eq(d->peers[1].keepalive_s, 0);
	ck_assert(d->peers[1].flags & WG_PEER_HAS_KEEPALIVE);
	ck_assert_uint_eq(d->peers[1].n_allowed, 2);
	ck_assert(wgt_allowed_has(&d->peers[1], "fd00:9::3/128"));
	ck_assert(wgt_allowed_has(&d->peers[1], "10.9.1.0/24"));
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
	struct wg_device *d = wgt_dev_new("wg0", 3);
	char *text;

	wgt_hex_key(K1, d->peers[0].key);
	d->peers[0].flags = WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE;
	d->peers[0].keepalive_s = 25;
	wgt_set_endpoint(&d->peers[0], "192.0.2.10", 51820);
	wgt_add_ip(&d->peers[0], "10.9.0.2/32");
	wgt_add_ip(&d->peers[0], "fd00:9::2/128");
	wgt_hex_key(K2, d->peers[1].key);
	wgt_set_endpoint(&d->peers[1], "2001:db8::7", 51821);
	wgt_hex_key(PUB, d->peers[2].key);
	d->peers[2].flags = WG_PEER_REMOVE;
	wgt_add_ip(&d->peers[2], "10.9.9.9/32"); /* not sent with remove */

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
	struct wg_device *d = wgt_dev_new("wg0", 1);
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
	struct wg_device *d = wgt_dev_new("wgfake0", 1);

	wgt_hex_key(K1, d->peers[0].key);
	wgt_add_ip(&d->peers[0], "10.9.0.2/32");
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

Suite *
wg_uapi_suite(void)
{
	Suite *s = suite_create("wg_uapi");
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
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_uapi_allowed_max);
	tcase_add_test(tc, test_uapi_peers_max);
	tcase_add_test(tc, test_uapi_line_max);
	tcase_add_test(tc, test_uapi_format_limits);
	tcase_add_test(tc, test_uapi_socket_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_uapi_refused, 0, (int)(sizeof(refused) / sizeof(refused[0])));
	tcase_add_test(tc, test_uapi_refused_nul);
	tcase_add_test(tc, test_uapi_set_errno_refused);
	tcase_add_test(tc, test_uapi_socket_truncated);
	tcase_add_test(tc, test_uapi_socket_missing);
	suite_add_tcase(s, tc);
	return s;
}
