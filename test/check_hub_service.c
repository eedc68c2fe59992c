/* The service's side of the hub: service_set_observed is an ordinary change (a revision,
 * the store, the change log) and the commit hook hears of every commit that changed. */
#include "config.h"

#include <check.h>
#include <string.h>

#include "rpc/loop.h"
#include "server/service.h"
#include "test/check_suites.h"
#include "test/storetest.h"

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

Suite *
hub_service_suite(void)
{
	Suite *s = suite_create("hub_service");
	TCase *tc = tcase_create("observed");

	tcase_add_checked_fixture(tc, stest_dir_setup, stest_dir_teardown);
	tcase_add_test(tc, test_set_observed_commits);
	suite_add_tcase(s, tc);
	return s;
}
