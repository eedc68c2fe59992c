/* server/metrics: loopback-only addresses, histogram buckets, counters and their labels in
 * the exposition text. The HTTP side is test/metrics.test's. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "rpc/grpc.h"
#include "rpc/loop.h"
#include "server/metrics.h"
#include "test/check_suites.h"

static struct loop *loop;
static struct metrics *m;

static void
setup(void)
{
	loop = loop_new();
	ck_assert_ptr_nonnull(loop);
	m = metrics_new(loop);
	ck_assert_ptr_nonnull(m);
}

static void
teardown(void)
{
	metrics_del(m);
	loop_del(loop);
}

/* The rendered text; the caller frees it. */
static char *
text(void)
{
	size_t len = 0;
	char *t = metrics_render(m, &len);

	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(strlen(t), len);
	return t;
}

static void
assert_line(const char *t, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\n%s\n", line);
	if (strstr(t, want) == NULL)
		ck_abort_msg("missing line \"%s\" in:\n%s", line, t);
}

static void
assert_no(const char *t, const char *needle)
{
	if (strstr(t, needle) != NULL)
		ck_abort_msg("unexpected \"%s\" in:\n%s", needle, t);
}

START_TEST(addr_loopback_only)
{
	static const char *good[] = { "127.0.0.1:9470", "127.1.2.3:1", "[::1]:9470", "127.0.0.1:0" };
	static const char *bad[] = { "0.0.0.0:9470", "[::]:9470", "192.0.2.1:80", "localhost:9470",
		"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "[::ffff:127.0.0.1]:1",
		"[::1:9470", ":9470", "128.0.0.1:9470" };
	char err[200];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(metrics_addr_ok(good[i], err, sizeof(err)), "%s: %s", good[i], err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ck_assert_msg(!metrics_addr_ok(bad[i], err, sizeof(err)), "%s accepted", bad[i]);
		ck_assert_msg(strstr(err, bad[i]) != NULL, "error \"%s\" does not quote %s", err, bad[i]);
	}
}
END_TEST

START_TEST(histogram_buckets)
{
	char *t;

	metrics_observe(m, METRICS_UPDATE, 10000);        /* exactly 10 us: le="1e-05" */
	metrics_observe(m, METRICS_UPDATE, 10001);        /* just above: le="2.5e-05" */
	metrics_observe(m, METRICS_UPDATE, 20000000000ull); /* 20 s: +Inf only */
	metrics_observe(NULL, METRICS_UPDATE, 5);         /* no metrics: nothing */
	t = text();
	assert_line(t, "wiresync_update_latency_seconds_bucket{le=\"1e-05\"} 1");
	assert_line(t, "wiresync_update_latency_seconds_bucket{le=\"2.5e-05\"} 2");
	assert_line(t, "wiresync_update_latency_seconds_bucket{le=\"10\"} 2");
	assert_line(t, "wiresync_update_latency_seconds_bucket{le=\"+Inf\"} 3");
	assert_line(t, "wiresync_update_latency_seconds_sum 20.000020001");
	assert_line(t, "wiresync_update_latency_seconds_count 3");
	assert_line(t, "wiresync_fanout_latency_seconds_count 0");
	assert_line(t, "# TYPE wiresync_store_commit_seconds histogram");
	free(t);
}
END_TEST

START_TEST(rpc_counters)
{
	struct rpc_observer obs;
	char *t;

	metrics_rpc_register(m, "/wiresync.v1.WireSync/Keys");
	metrics_rpc_observer(m, &obs);
	obs.call_done("/wiresync.v1.WireSync/Update", GRPC_OK, obs.arg);
	obs.call_done("/wiresync.v1.WireSync/Update", GRPC_OK, obs.arg);
	obs.call_done("/wiresync.v1.WireSync/Update", GRPC_INVALID_ARGUMENT, obs.arg);
	obs.call_done("", GRPC_UNIMPLEMENTED, obs.arg);
	obs.call_done("/x\"y.S/M", 99, obs.arg);          /* out of range: UNKNOWN */
	obs.handshake_failed(RPC_HS_TIMEOUT, obs.arg);
	obs.handshake_failed(RPC_HS_TIMEOUT, obs.arg);
	t = text();
	assert_line(t, "# TYPE wiresync_rpcs_total counter");
	assert_line(t, "wiresync_rpcs_total{service=\"wiresync.v1.WireSync\",method=\"Keys\",code=\"OK\"} 0");
	assert_line(t, "wiresync_rpcs_total{service=\"wiresync.v1.WireSync\",method=\"Update\",code=\"OK\"} 2");
	assert_line(t, "wiresync_rpcs_total{service=\"wiresync.v1.WireSync\",method=\"Update\",code=\"INVALID_ARGUMENT\"} 1");
	assert_line(t, "wiresync_rpcs_total{service=\"unknown\",method=\"unknown\",code=\"UNIMPLEMENTED\"} 1");
	assert_line(t, "wiresync_rpcs_total{service=\"x\\\"y.S\",method=\"M\",code=\"UNKNOWN\"} 1");
	/* codes never seen stay out, except OK */
	assert_no(t, "method=\"Keys\",code=\"INVALID_ARGUMENT\"");
	assert_line(t, "wiresync_tls_handshake_failures_total{reason=\"timeout\"} 2");
	assert_line(t, "wiresync_tls_handshake_failures_total{reason=\"no_certificate\"} 0");
	assert_line(t, "wiresync_tls_handshake_failures_total{reason=\"refused\"} 0");
	free(t);
}
END_TEST

START_TEST(rpc_paths_bounded)
{
	struct rpc_observer obs;
	char path[64], *t;

	metrics_rpc_observer(m, &obs);
	for (int i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/s.S/M%d", i);
		obs.call_done(path, GRPC_OK, obs.arg);
	}
	t = text();
	assert_line(t, "wiresync_rpcs_total{service=\"s.S\",method=\"M63\",code=\"OK\"} 1");
	assert_no(t, "method=\"M64\"");
	assert_line(t, "wiresync_rpcs_total{service=\"other\",method=\"other\",code=\"OK\"} 36");
	free(t);
}
END_TEST

START_TEST(gauges_without_server)
{
	char *t = text();

	/* not attached: gauges read 0 rather than crash */
	assert_line(t, "wiresync_connections 0");
	assert_line(t, "wiresync_watchers 0");
	assert_line(t, "wiresync_revision 0");
	assert_line(t, "wiresync_build_info{version=\"" PACKAGE_VERSION "\"} 1");
	free(t);
}
END_TEST

Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(core, addr_loopback_only);
	tcase_add_test(core, histogram_buckets);
	tcase_add_test(core, rpc_counters);
	tcase_add_test(core, gauges_without_server);
	tcase_add_test(limits, rpc_paths_bounded);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
