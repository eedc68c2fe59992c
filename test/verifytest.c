/* Test helper shared by the verify suites; see verifytest.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "test/verifytest.h"

struct testcert_ca *vt_ca;
char vt_ca_path[sizeof(TMP_TEMPLATE)];
struct peer_verifier *vt_v;
char vt_key_b64[45];
uint8_t vt_key[WG_KEY_LEN];

const char *const vt_good_ips[] = { "10.9.0.5/32", "fd00:9::5/128", NULL };

void
vt_write_temp_pem(X509 *x, char path[sizeof(TMP_TEMPLATE)])
{
	int fd;

	memcpy(path, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(testcert_write_pem(path, x), 0);
}

struct testcert_spec
vt_good_spec(void)
{
	struct testcert_spec spec = {
		.cn = "host1",
		.org = NETWORK,
		.key_b64 = vt_key_b64,
		.ips = { "10.9.0.5", "fd00:9::5" },
	};

	return spec;
}

X509 *
vt_issue(const struct testcert_spec *spec)
{
	X509 *x = testcert_issue(vt_ca, spec, NULL);

	ck_assert_ptr_nonnull(x);
	return x;
}

void
vt_rec_init(struct rec *r, X509 *x, const uint8_t k[WG_KEY_LEN], const char *const *ips)
{
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	wiresync__v1__peer__init(&r->p);
	if (x != NULL) {
		int len = i2d_X509(x, &r->der);
		ck_assert_int_gt(len, 0);
		r->p.certificate.data = r->der;
		r->p.certificate.len = (size_t)len;
	}
	memcpy(r->key, k, WG_KEY_LEN);
	r->p.public_key.data = r->key;
	r->p.public_key.len = WG_KEY_LEN;
	for (; ips[n] != NULL; n++) {
		ck_assert_uint_lt(n, CERT_TUNNEL_MAX + 2);
		snprintf(r->ip_text[n], sizeof(r->ip_text[n]), "%s", ips[n]);
		r->ips[n] = r->ip_text[n];
	}
	r->p.n_tunnel_ips = n;
	r->p.tunnel_ips = r->ips;
}

void
vt_rec_free(struct rec *r)
{
	OPENSSL_free(r->der);
	r->der = NULL;
}

bool
vt_verify_x(struct peer_verifier *w, X509 *x, const uint8_t k[WG_KEY_LEN], const char *const *ips,
    char *err, size_t errlen)
{
	struct cert_identity id;
	struct rec r;
	bool ok;

	vt_rec_init(&r, x, k, ips);
	ok = peer_verify(w, &r.p, &id, err, errlen);
	vt_rec_free(&r);
	return ok;
}

void
vt_assert_outcome(bool ok, const char *err, const char *want)
{
	if (want == NULL) {
		ck_assert_msg(ok, "refused: %s", err);
	} else {
		ck_assert_msg(!ok, "accepted a record that should fail with: %s", want);
		ck_assert_str_eq(err, want);
	}
}

void
vt_expect(struct peer_verifier *w, X509 *x, const uint8_t k[WG_KEY_LEN], const char *const *ips,
    const char *want)
{
	char err[256] = "";
	bool ok = vt_verify_x(w, x, k, ips, err, sizeof(err));

	vt_assert_outcome(ok, err, want);
}

void
vt_expect_spec(const struct testcert_spec *spec, const char *const *ips, const char *want)
{
	X509 *x = vt_issue(spec);
	char err[256] = "";
	bool ok = vt_verify_x(vt_v, x, vt_key, ips, err, sizeof(err));

	X509_free(x);
	vt_assert_outcome(ok, err, want);
}

void
vt_setup(void)
{
	char err[256] = "";

	vt_ca = testcert_ca_new(NETWORK);
	ck_assert_ptr_nonnull(vt_ca);
	vt_write_temp_pem(testcert_ca_cert(vt_ca), vt_ca_path);
	vt_v = peer_verifier_new(vt_ca_path, NULL, NETWORK, err, sizeof(err));
	ck_assert_msg(vt_v != NULL, "peer_verifier_new: %s", err);
	testcert_random_key_b64(vt_key_b64);
	ck_assert(wg_key_from_base64(vt_key_b64, vt_key));
}

void
vt_teardown(void)
{
	peer_verifier_del(vt_v);
	vt_v = NULL;
	unlink(vt_ca_path);
	testcert_ca_del(vt_ca);
	vt_ca = NULL;
}
