/* agent/join_files.c and join_if.c: the files join keeps and writes, and (driven by
 * test/joinpin.test through WS_JOIN_IFNAME) the tunnel addresses it gives an interface. */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <openssl/pem.h>

#include "agent/agentconf.h"
#include "agent/join_impl.h"
#include "test/check_suites.h"
#include "test/testcert.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/check_join.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static unsigned
mode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

START_TEST(key_made_then_reused)
{
	struct join_paths p;
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	uint8_t *c1 = NULL, *c2 = NULL, *c3 = NULL;
	size_t l1 = 0, l2 = 0, l3 = 0;
	bool created;
	char err[300];

	ck_assert(join_paths_init(&p, dir, "h1", err, sizeof(err)));
	ck_assert_int_eq(join_key_load(p.key, &k1, &created, err, sizeof(err)), 0);
	ck_assert(created);
	ck_assert_uint_eq(mode_of(p.key), 0600);
	ck_assert_int_eq(join_key_load(p.key, &k2, &created, err, sizeof(err)), 0);
	ck_assert(!created);
	ck_assert_int_eq(EVP_PKEY_eq(k1, k2), 1);
	/* the request is made once and read back byte for byte: the same code on resume */
	ck_assert_int_eq(join_csr_load(p.csr, k1, "h1", &c1, &l1, &created, err, sizeof(err)), 0);
	ck_assert(created);
	ck_assert_int_eq(join_csr_load(p.csr, k2, "h1", &c2, &l2, &created, err, sizeof(err)), 0);
	ck_assert(!created);
	ck_assert_uint_eq(l1, l2);
	ck_assert_mem_eq(c1, c2, l1);
	/* another name: a new request */
	ck_assert_int_eq(join_csr_load(p.csr, k1, "h9", &c3, &l3, &created, err, sizeof(err)), 0);
	ck_assert(created);
	ck_assert(csr_matches(c3, l3, k1, "h9", err, sizeof(err)));
	free(c1);
	free(c2);
	free(c3);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}
END_TEST

START_TEST(key_refused)
{
	char path[128], err[300];
	EVP_PKEY *k = NULL;
	bool created;
	int fd;

	snprintf(path, sizeof(path), "%s/h1.key", dir);
	ck_assert_int_eq(join_key_load(path, &k, &created, err, sizeof(err)), 0);
	EVP_PKEY_free(k);
	k = NULL;
	ck_assert_int_eq(chmod(path, 0640), 0);
	ck_assert_int_eq(join_key_load(path, &k, &created, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "chmod 600"));
	ck_assert_ptr_null(k);
	snprintf(path, sizeof(path), "%s/junk.key", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "junk\n", 5), 5);
	close(fd);
	ck_assert_int_eq(join_key_load(path, &k, &created, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not an ECDSA P-256 private key"));
}
END_TEST

START_TEST(wgkey_roundtrip)
{
	char path[128], err[300];
	uint8_t key[WG_KEY_LEN], back[WG_KEY_LEN];
	FILE *f;

	snprintf(path, sizeof(path), "%s/h1.wgkey", dir);
	ck_assert_int_eq(join_wgkey_read(path, back, err, sizeof(err)), 0);  /* absent */
	for (int i = 0; i < WG_KEY_LEN; i++)
		key[i] = (uint8_t)(i * 7 + 1);
	ck_assert_int_eq(join_wgkey_write(path, key, err, sizeof(err)), 0);
	ck_assert_uint_eq(mode_of(path), 0600);
	ck_assert_int_eq(join_wgkey_read(path, back, err, sizeof(err)), 1);
	ck_assert_mem_eq(key, back, sizeof(key));
	/* never overwritten */
	ck_assert_int_eq(join_wgkey_write(path, key, err, sizeof(err)), -1);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a key\n", f);
	fclose(f);
	ck_assert_int_eq(join_wgkey_read(path, back, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "not a base64 WireGuard private key"));
}
END_TEST

/* The agent.conf join writes is one the daemon loads: every required key, the paths. */
START_TEST(conf_loads)
{
	struct join_paths p;
	static const char *const extra[] = { "--state_dir=/var/lib/ws-test", "--log_level=debug" };
	struct join_conf c = { .server = "sync.example.org:7443", .interface = "wg7", .id = 42,
	    .code = "ABCD-EFGH", .extra = extra, .n_extra = 2 };
	struct agentconf conf;
	struct config_schema schema;
	char path[128], old[140], err[300];
	bool moved;
	FILE *f;

	ck_assert(join_paths_init(&p, dir, "h1", err, sizeof(err)));
	snprintf(path, sizeof(path), "%s/agent.conf", dir);
	snprintf(old, sizeof(old), "%s.old", path);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[agent]\nserver = mine:1\n", f);
	fclose(f);
	ck_assert_int_eq(join_conf_write(path, &p, &c, &moved, err, sizeof(err)), 0);
	ck_assert(moved);                         /* someone's own file is kept */
	ck_assert_int_eq(access(old, F_OK), 0);
	ck_assert_uint_eq(mode_of(path), 0644);
	agentconf_init(&conf, &schema);
	ck_assert_msg(agentconf_load(&conf, &schema, path, true, 0, NULL, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_str_eq(conf.server, "sync.example.org:7443");
	ck_assert_str_eq(conf.certificate, p.crt);
	ck_assert_str_eq(conf.private_key, p.key);
	ck_assert_str_eq(conf.ca, p.ca);
	ck_assert_str_eq(conf.interface, "wg7");
	ck_assert_str_eq(conf.state_dir, "/var/lib/ws-test");   /* the --KEY=VALUE given */
	ck_assert_str_eq(conf.log_level, "debug");
	agentconf_free(&conf, &schema);
	/* join's own file is replaced in place */
	ck_assert_int_eq(unlink(old), 0);
	ck_assert_int_eq(join_conf_write(path, &p, &c, &moved, err, sizeof(err)), 0);
	ck_assert(!moved);
	ck_assert_int_ne(access(old, F_OK), 0);
}
END_TEST

START_TEST(certs_written)
{
	struct testcert_ca *ca = testcert_ca_new("net");
	struct testcert_spec spec = { .cn = "h1", .org = "net", .ips = { "10.9.0.5" } };
	struct join_paths p;
	char b64[45], err[300];
	X509 *leaf, *x;
	EVP_PKEY *key = NULL;
	FILE *f;

	testcert_random_key_b64(b64);
	spec.key_b64 = b64;
	leaf = testcert_issue(ca, &spec, &key);
	ck_assert_ptr_nonnull(leaf);
	ck_assert(join_paths_init(&p, dir, "h1", err, sizeof(err)));
	ck_assert_int_eq(join_certs_write(&p, leaf, NULL, testcert_ca_cert(ca), err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(mode_of(p.crt), 0644);
	f = fopen(p.crt, "r");
	ck_assert_ptr_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_int_eq(X509_cmp(x, leaf), 0);
	X509_free(x);
	f = fopen(p.ca, "r");
	ck_assert_ptr_nonnull(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	ck_assert_int_eq(X509_cmp(x, testcert_ca_cert(ca)), 0);
	X509_free(x);
	X509_free(leaf);
	EVP_PKEY_free(key);
	testcert_ca_del(ca);
}
END_TEST

/* A server listening on every address names none: agent.conf gets the host join reached. */
START_TEST(server_picked)
{
	static const struct {
		const char *named, *reached, *want;
	} t[] = {
		{ "0.0.0.0:7443", "198.51.100.10:7444", "198.51.100.10:7443" },
		{ "[::]:7443", "sync.example.org:7444", "sync.example.org:7443" },
		{ ":::7443", "[fd00::1]:7444", "[fd00::1]:7443" },
		{ "[0:0::0]:7443", "h:1", "h:7443" },
		{ ":7443", "10.0.0.1:7444", "10.0.0.1:7443" },
		{ "10.9.0.1:7443", "198.51.100.10:7444", "10.9.0.1:7443" },
		{ "sync.example.org:7443", "10.0.0.1:7444", "sync.example.org:7443" },
		{ "[fd00::2]:7443", "10.0.0.1:7444", "[fd00::2]:7443" },
		{ "0.0.0.1:7443", "10.0.0.1:7444", "0.0.0.1:7443" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(join_server_pick(t[i].named, t[i].reached, out, sizeof(out)),
		    "%s via %s", t[i].named, t[i].reached);
		ck_assert_str_eq(out, t[i].want);
	}
	ck_assert(!join_server_pick("0.0.0.0", "10.0.0.1:7444", out, sizeof(out)));
	ck_assert(!join_server_pick("0.0.0.0:", "10.0.0.1:7444", out, sizeof(out)));
	ck_assert(!join_server_pick("0.0.0.0:7443", "nohostport", out, sizeof(out)));
	ck_assert(!join_server_pick("0.0.0.0:7443", ":7444", out, sizeof(out)));
	ck_assert(!join_server_pick("10.9.0.1:7443", "h:1", out, 8));
}
END_TEST

/* Live: the tunnel addresses on WS_JOIN_IFNAME (test/joinpin.test checks `ip addr`). */
START_TEST(addresses_live)
{
	const char *ifname = getenv("WS_JOIN_IFNAME");
	struct cert_identity id = { .n_tunnel = 2 };
	char err[300];

	if (ifname == NULL || ifname[0] == '\0')
		return;
	ck_assert(netaddr_parse("10.77.0.5", false, &id.tunnel[0], err, sizeof(err)));
	ck_assert(netaddr_parse("fd77::5", false, &id.tunnel[1], err, sizeof(err)));
	ck_assert_msg(join_if_addresses(ifname, &id, 24, 64, err, sizeof(err)) == 0, "%s", err);
	/* again: a resumed join finds them there */
	ck_assert_msg(join_if_addresses(ifname, &id, 24, 64, err, sizeof(err)) == 0, "%s", err);
}
END_TEST

Suite *
join_suite(void)
{
	Suite *s = suite_create("join");
	TCase *core = tcase_create("core"), *errors = tcase_create("errors");
	TCase *live = tcase_create("live");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_checked_fixture(errors, setup, teardown);
	tcase_add_test(core, key_made_then_reused);
	tcase_add_test(core, wgkey_roundtrip);
	tcase_add_test(core, conf_loads);
	tcase_add_test(core, certs_written);
	tcase_add_test(core, server_picked);
	tcase_add_test(errors, key_refused);
	tcase_add_test(live, addresses_live);
	suite_add_tcase(s, core);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, live);
	return s;
}
