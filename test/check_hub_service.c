/* The service's side of the hub: service_set_observed is an ordinary change (a revision,
 * the store, the change log) and the commit hook hears of every commit that changed. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "rpc/loop.h"
#include "server/relay_io.h"
#include "server/service.h"
#include "test/check_suites.h"
#include "test/storetest.h"
#include "test/testcert.h"

struct hook_seen {
	int calls;
	uint64_t revision;
};

static void
hook(void *arg, uint64_t revision)
{
	struct hook_seen *h = arg;

	h->calls++;
	h->revision = revision;
}

static int
count_change(const uint8_t key[WG_KEY_LEN], uint64_t revision, void *arg)
{
	(void)key;
	*(uint64_t *)arg = revision;
	return 0;
}

START_TEST(test_set_observed_commits)
{
	struct store *st = stest_open_ok();
	struct loop *l = loop_new();
	struct service_config cfg;
	struct service *svc;
	struct peer p;
	struct hook_seen h = { 0, 0 };
	uint8_t stranger[WG_KEY_LEN];
	uint64_t logged = 0;
	char err[200];
	struct seen *s;

	stest_peer_v4(&p, 7);
	stest_put_commit(st, &p, 1);
	service_config_default(&cfg);
	ck_assert_ptr_nonnull(svc = service_new(l, st, &cfg, err, sizeof(err)));
	ck_assert_int_eq(service_on_commit(svc, hook, &h), 0);
	ck_assert_int_eq(service_set_observed(svc, p.key, "198.51.100.2:40000"), 0);
	ck_assert_int_eq(loop_run_once(l, 0), 0);
	ck_assert_int_eq(h.calls, 1);
	ck_assert_uint_eq(h.revision, 2);
	ck_assert_uint_eq(service_revision(svc), 2);
	ck_assert_str_eq(service_peer_get(svc, p.key)->observed_endpoint, "198.51.100.2:40000");
	s = stest_walk(st);
	ck_assert_uint_eq(s->n, 1);
	ck_assert_str_eq(s->p[0].observed_endpoint, "198.51.100.2:40000");
	ck_assert_uint_eq(s->p[0].revision, 2);
	ck_assert_int_eq(store_changes_since(st, p.network, 1, count_change, &logged), 0);
	ck_assert_uint_eq(logged, 2);
	/* the same endpoint again, or a peer that is not stored: no commit, no hook */
	memset(stranger, 0xee, sizeof(stranger));
	ck_assert_int_eq(service_set_observed(svc, p.key, "198.51.100.2:40000"), 0);
	ck_assert_int_eq(service_set_observed(svc, stranger, "192.0.2.1:1"), 0);
	ck_assert_int_eq(loop_run_once(l, 0), 0);
	ck_assert_int_eq(h.calls, 1);
	ck_assert_uint_eq(service_revision(svc), 2);
	/* too long for the record */
	ck_assert_int_eq(service_set_observed(svc, p.key,
	    "[1111:2222:3333:4444:5555:6666:7777:8888]:65535-and-then-some-more"), -1);
	for (int i = 1; i < SERVICE_COMMIT_HOOKS; i++)
		ck_assert_int_eq(service_on_commit(svc, hook, &h), 0);
	ck_assert_int_eq(service_on_commit(svc, hook, &h), -1);
	service_del(svc);
	loop_del(l);
	store_close(st);
}
END_TEST

/* A handshake initiation with a MAC1 no host's key makes, from 127.0.0.1 to the relay:
 * a source IP no host holds is a stranger, one a host holds fails on MAC1. */
static void
send_initiation(struct loop *l, int port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint8_t pkt[148] = { 1, 0, 0, 0, 0x11, 0x22, 0x33, 0x44 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(sendto(fd, pkt, sizeof(pkt), 0, (struct sockaddr *)&to, sizeof(to)),
	    sizeof(pkt));
	close(fd);
	for (int i = 0; i < 5; i++)
		ck_assert_int_ge(loop_run_once(l, 20), 0);
}

/* The relay follows the service's commits: the IP of the hub's observed endpoint becomes
 * one of the host's IPs once the change commits, with no polling. */
START_TEST(test_relay_follows_observed)
{
	struct store *st = stest_open_ok();
	struct loop *l = loop_new();
	struct testcert_ca *ca = testcert_ca_new("n");
	struct testcert_spec spec = { .cn = "h", .org = "n", .ips = { "10.9.0.9" },
		.not_before_offset = -7200, .not_after_offset = 86400 };
	struct service_config cfg;
	struct service *svc;
	struct relay_io *io = NULL;
	struct relay_io_stats rs;
	struct peer p;
	char b64[45], err[300];
	unsigned char *der = NULL;
	X509 *x;
	int len;

	ck_assert_ptr_nonnull(ca);
	testcert_random_key_b64(b64);
	spec.key_b64 = b64;
	ck_assert_ptr_nonnull(x = testcert_issue(ca, &spec, NULL));
	ck_assert_int_gt(len = i2d_X509(x, &der), 0);
	memset(&p, 0, sizeof(p));
	ck_assert(wg_key_from_base64(b64, p.key));
	snprintf(p.name, sizeof(p.name), "h");
	snprintf(p.network, sizeof(p.network), "n");
	stest_addr("192.0.2.1", &p.wan);
	p.cert = der;
	p.cert_len = (size_t)len;
	stest_put_commit(st, &p, 1);
	service_config_default(&cfg);
	ck_assert_ptr_nonnull(svc = service_new(l, st, &cfg, err, sizeof(err)));
	ck_assert_msg(relay_io_new(l, st, "127.0.0.1:0", NULL, &io, err, sizeof(err)) == 0, "%s",
	    err);
	ck_assert_int_eq(relay_io_follow(io, svc), 0);
	send_initiation(l, relay_io_port(io));
	relay_io_stats_get(io, &rs);
	ck_assert_uint_eq(rs.table.verdicts[RELAY_DROP_STRANGER], 1);
	ck_assert_int_eq(service_set_observed(svc, p.key, "127.0.0.1:40000"), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_ge(loop_run_once(l, 20), 0);
	send_initiation(l, relay_io_port(io));
	relay_io_stats_get(io, &rs);
	ck_assert_uint_eq(rs.table.verdicts[RELAY_DROP_STRANGER], 1);
	ck_assert_uint_eq(rs.table.verdicts[RELAY_DROP_MAC1], 1);
	relay_io_del(io);
	service_del(svc);
	loop_del(l);
	store_close(st);
	OPENSSL_free(der);
	X509_free(x);
	testcert_ca_del(ca);
}
END_TEST

Suite *
hub_service_suite(void)
{
	Suite *s = suite_create("hub_service");
	TCase *tc = tcase_create("observed");

	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_set_observed_commits);
	tcase_add_test(tc, test_relay_follows_observed);
	suite_add_tcase(s, tc);
	return s;
}
