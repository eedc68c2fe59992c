/* Tests for agent/renew.c: when a certificate is renewed, how long polls wait, and the
 * check that a renewed certificate binds exactly what the current one does. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "agent/renew.h"
#include "test/check_suites.h"

START_TEST(test_due_two_thirds)
{
	/* a 90 s certificate renews at 60 s, an 825-day one at 550 days */
	ck_assert_int_eq(renew_due(1000, 1090), 1060);
	ck_assert_int_eq(renew_due(0, 825LL * 86400), 550LL * 86400);
	ck_assert_int_eq(renew_due(1700000000, 1700000000 + 3), 1700000002);
	/* unreadable or backwards times: at notAfter, never before notBefore */
	ck_assert_int_eq(renew_due(500, 500), 500);
	ck_assert_int_eq(renew_due(600, 500), 500);
}
END_TEST

START_TEST(test_poll_cap)
{
	ck_assert_uint_eq(renew_poll_cap_ms(0, 86400), RENEW_POLL_CAP_MS);
	ck_assert_uint_eq(renew_poll_cap_ms(0, 30), 3000);     /* a tenth of 30 s left */
	ck_assert_uint_eq(renew_poll_cap_ms(0, 5), RENEW_POLL_BASE_MS);
	ck_assert_uint_eq(renew_poll_cap_ms(100, 50), RENEW_POLL_BASE_MS);   /* expired */
}
END_TEST

static void
ident(struct cert_identity *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->name, sizeof(id->name), "nas");
	snprintf(id->network, sizeof(id->network), "neta");
	id->has_key = true;
	memset(id->key, 7, WG_KEY_LEN);
	id->n_tunnel = 2;
	ck_assert(netaddr_parse("10.9.0.5/32", true, &id->tunnel[0], NULL, 0));
	ck_assert(netaddr_parse("fd00:9::5/128", true, &id->tunnel[1], NULL, 0));
	id->n_groups = 2;
	snprintf(id->groups[0], sizeof(id->groups[0]), "web");
	snprintf(id->groups[1], sizeof(id->groups[1]), "db");
}

START_TEST(test_same_identity)
{
	struct cert_identity cur, got;
	char err[200];

	ident(&cur);
	ident(&got);
	/* the order of addresses and groups does not matter; the serial may change */
	got.tunnel[0] = cur.tunnel[1];
	got.tunnel[1] = cur.tunnel[0];
	snprintf(got.groups[0], sizeof(got.groups[0]), "db");
	snprintf(got.groups[1], sizeof(got.groups[1]), "web");
	snprintf(got.serial, sizeof(got.serial), "0BEEF");
	ck_assert_msg(renew_same_identity(&cur, &got, err, sizeof(err)), "%s", err);
}
END_TEST

START_TEST(test_changed_identity)
{
	struct cert_identity cur, got;
	char err[200];

	ident(&cur);
	ident(&got);
	snprintf(got.name, sizeof(got.name), "other");
	ck_assert(!renew_same_identity(&cur, &got, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "names other"));
	ident(&got);
	got.key[0] = 8;
	ck_assert(!renew_same_identity(&cur, &got, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "WireGuard key"));
	ident(&got);
	ck_assert(netaddr_parse("10.9.0.6/32", true, &got.tunnel[0], NULL, 0));
	ck_assert(!renew_same_identity(&cur, &got, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "tunnel addresses"));
	ident(&got);
	got.n_tunnel = 1;
	ck_assert(!renew_same_identity(&cur, &got, err, sizeof(err)));
	ident(&got);
	snprintf(got.groups[1], sizeof(got.groups[1]), "admin");
	ck_assert(!renew_same_identity(&cur, &got, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "group db"));
	ident(&got);
	got.n_groups = 1;
	ck_assert(!renew_same_identity(&cur, &got, err, sizeof(err)));
}
END_TEST

Suite *
renew_suite(void)
{
	Suite *s = suite_create("renew");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_due_two_thirds);
	tcase_add_test(tc, test_poll_cap);
	tcase_add_test(tc, test_same_identity);
	tcase_add_test(tc, test_changed_identity);
	suite_add_tcase(s, tc);
	return s;
}
