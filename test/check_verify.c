/* Tests for agent/verify.c: a peer record is installed only when its certificate chains to
 * our CA, is valid now and not revoked, belongs to our network and binds exactly the
 * record's key and tunnel addresses. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "agent/verify.h"
#include "common/cert.h"
#include "common/netaddr.h"
#include "test/check_suites.h"
#include "test/testcert.h"


#define NETWORK "neta"
#define TMP_TEMPLATE "/tmp/check_verify.XXXXXX"

static struct testcert_ca *ca;           /* the CA the verifier trusts */
static char ca_path[sizeof(TMP_TEMPLATE)];
static struct peer_verifier *v;          /* trusts ca, network NETWORK, no CRL */
static char key_b64[45];                 /* the key good certificates bind */
static uint8_t key[WG_KEY_LEN];

/* Writes x as PEM to a fresh temporary file; path gets its name. */
static void
write_temp_pem(X509 *x, char path[sizeof(TMP_TEMPLATE)])
{
	int fd;

	memcpy(path, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(testcert_write_pem(path, x), 0);
}

/* A good agent certificate of our network: host1, key_b64, one v4 and one v6 address. */
static struct testcert_spec
good_spec(void)
{
	struct testcert_spec spec = {
		.cn = "host1",
		.org = NETWORK,
		.key_b64 = key_b64,
		.ips = { "10.9.0.5", "fd00:9::5" },
	};

	return spec;
}

static X509 *
issue(const struct testcert_spec *spec)
{
	X509 *x = testcert_issue(ca, spec, NULL);

	ck_assert_ptr_nonnull(x);
	return x;
}

/* A peer record as the server would send it: the fields peer_verify reads, in storage that
 * lives as long as the struct. */
struct rec {
	Wiresync__V1__Peer p;
	unsigned char *der;                          /* OPENSSL_malloc'd */
	uint8_t key[WG_KEY_LEN];
	char ip_text[CERT_TUNNEL_MAX + 2][NETADDR_STRLEN];
	char *ips[CERT_TUNNEL_MAX + 2];
};

/* Fills r with x's DER (x may be NULL: no certificate), k and the NULL-terminated ips. */
static void
rec_init(struct rec *r, X509 *x, const uint8_t k[WG_KEY_LEN], const char *const *ips)
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

static void
rec_free(struct rec *r)
{
	OPENSSL_free(r->der);
	r->der = NULL;
}

/* The record for a good certificate, with the addresses it binds. */
static const char *const good_ips[] = { "10.9.0.5/32", "fd00:9::5/128", NULL };

/* Verifies a record of x (NULL: no certificate) with key k and ips against w. */
static bool
verify_x(struct peer_verifier *w, X509 *x, const uint8_t k[WG_KEY_LEN], const char *const *ips,
    char *err, size_t errlen)
{
	struct cert_identity id;
	struct rec r;
	bool ok;

	rec_init(&r, x, k, ips);
	ok = peer_verify(w, &r.p, &id, err, errlen);
	rec_free(&r);
	return ok;
}

/* Asserts the outcome: accepted when want is NULL, else refused with exactly want. */
static void
assert_outcome(bool ok, const char *err, const char *want)
{
	if (want == NULL) {
		ck_assert_msg(ok, "refused: %s", err);
	} else {
		ck_assert_msg(!ok, "accepted a record that should fail with: %s", want);
		ck_assert_str_eq(err, want);
	}
}

/* Verifies a record of x (borrowed) against w and asserts the outcome. */
static void
expect(struct peer_verifier *w, X509 *x, const uint8_t k[WG_KEY_LEN], const char *const *ips,
    const char *want)
{
	char err[256] = "";
	bool ok = verify_x(w, x, k, ips, err, sizeof(err));

	assert_outcome(ok, err, want);
}

/* Issues spec and expects want for a record with key and ips; frees the certificate before
 * asserting, so a failure leaks nothing. */
static void
expect_spec(const struct testcert_spec *spec, const char *const *ips, const char *want)
{
	X509 *x = issue(spec);
	char err[256] = "";
	bool ok = verify_x(v, x, key, ips, err, sizeof(err));

	X509_free(x);
	assert_outcome(ok, err, want);
}

/* --- a CA whose key we hold, to sign CRLs ---------------------------------------------- */

/* testcert.h keeps its CA key private, so CRL tests use a CA built here and re-sign
 * testcert leaves with it. */
struct crlca {
	EVP_PKEY *key;
	X509 *cert;
	char path[sizeof(TMP_TEMPLATE)];
};

static void
crlca_new_named(struct crlca *c, const char *cn)
{
	X509_NAME *name;

	c->key = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(c->key);
	c->cert = X509_new();
	ck_assert_ptr_nonnull(c->cert);
	ck_assert_int_eq(X509_set_version(c->cert, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(c->cert), 4242), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(c->cert), -3600));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(c->cert), 86400));
	ck_assert_int_eq(X509_set_pubkey(c->cert, c->key), 1);
	name = X509_get_subject_name(c->cert);
	ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
	    (const unsigned char *)NETWORK, -1, -1, 0), 1);
	ck_assert_int_eq(X509_set_issuer_name(c->cert, name), 1);
	ck_assert(testcert_add_conf(c->cert, c->cert, NID_basic_constraints,
	    "critical,CA:TRUE,pathlen:0"));
	ck_assert(testcert_add_conf(c->cert, c->cert, NID_key_usage, "critical,keyCertSign,cRLSign"));
	ck_assert(testcert_add_conf(c->cert, c->cert, NID_subject_key_identifier, "hash"));
	ck_assert_int_gt(X509_sign(c->cert, c->key, EVP_sha256()), 0);
	write_temp_pem(c->cert, c->path);
}

static void
crlca_new(struct crlca *c)
{
	crlca_new_named(c, "wiresync CRL test CA");
}

static void
crlca_del(struct crlca *c)
{
	unlink(c->path);
	X509_free(c->cert);
	EVP_PKEY_free(c->key);
}

/* A leaf of spec from the testcert CA, re-issued by c. */
static X509 *
crlca_issue_spec(struct crlca *c, const struct testcert_spec *spec)
{
	X509 *x = issue(spec);
	int i;

	ck_assert_int_eq(X509_set_issuer_name(x, X509_get_subject_name(c->cert)), 1);
	while ((i = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, i));
	ck_assert(testcert_add_conf(x, c->cert, NID_authority_key_identifier, "keyid:always"));
	ck_assert_int_gt(X509_sign(x, c->key, EVP_sha256()), 0);
	return x;
}

/* A good leaf from the testcert CA, re-issued by c. */
static X509 *
crlca_issue(struct crlca *c)
{
	struct testcert_spec spec = good_spec();

	return crlca_issue_spec(c, &spec);
}

/* A CRL of c issued last_update seconds from now, next due next_update seconds from now,
 * revoking revoked (NULL: none). */
static X509_CRL *
crl_make_at(struct crlca *c, long last_update, long next_update, X509 *revoked)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();

	ck_assert_ptr_nonnull(crl);
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(X509_CRL_set_version(crl, 1), 1); /* v2 */
	ck_assert_int_eq(X509_CRL_set_issuer_name(crl, X509_get_subject_name(c->cert)), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(t, last_update));
	ck_assert_int_eq(X509_CRL_set1_lastUpdate(crl, t), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(t, next_update));
	ck_assert_int_eq(X509_CRL_set1_nextUpdate(crl, t), 1);
	if (revoked != NULL) {
		X509_REVOKED *r = X509_REVOKED_new();
		ck_assert_ptr_nonnull(r);
		ck_assert_ptr_nonnull(X509_gmtime_adj(t, last_update));
		ck_assert_int_eq(X509_REVOKED_set_serialNumber(r,
		    (ASN1_INTEGER *)X509_get0_serialNumber(revoked)), 1);
		ck_assert_int_eq(X509_REVOKED_set_revocationDate(r, t), 1);
		ck_assert_int_eq(X509_CRL_add0_revoked(crl, r), 1);
	}
	ck_assert_int_eq(X509_CRL_sort(crl), 1);
	ck_assert_int_gt(X509_CRL_sign(crl, c->key, EVP_sha256()), 0);
	ASN1_TIME_free(t);
	return crl;
}

/* ... due in a day. */
static X509_CRL *
crl_make(struct crlca *c, long last_update, X509 *revoked)
{
	return crl_make_at(c, last_update, 86400, revoked);
}

static struct peer_verifier *
crlca_verifier(struct crlca *c)
{
	struct peer_verifier *w;
	char err[256] = "";

	w = peer_verifier_new(c->path, NULL, NETWORK, err, sizeof(err));
	ck_assert_msg(w != NULL, "peer_verifier_new: %s", err);
	return w;
}

/* Installs crl on w (borrowed) and frees our reference. */
static void
set_crl(struct peer_verifier *w, X509_CRL *crl)
{
	ck_assert_int_eq(peer_verifier_set_crl(w, crl), 0);
	X509_CRL_free(crl);
}

/* The fixture: a trusted testcert CA and its verifier v, and a CRL-signing CA cc with its
 * own verifier cv and two good leaves. */
static struct crlca cc;
static struct peer_verifier *cv;
static X509 *cleaf, *cother;

static void
setup(void)
{
	char err[256] = "";

	ca = testcert_ca_new(NETWORK);
	ck_assert_ptr_nonnull(ca);
	write_temp_pem(testcert_ca_cert(ca), ca_path);
	v = peer_verifier_new(ca_path, NULL, NETWORK, err, sizeof(err));
	ck_assert_msg(v != NULL, "peer_verifier_new: %s", err);
	testcert_random_key_b64(key_b64);
	ck_assert(wg_key_from_base64(key_b64, key));
	crlca_new(&cc);
	cv = crlca_verifier(&cc);
	cleaf = crlca_issue(&cc);
	cother = crlca_issue(&cc);
}

static void
teardown(void)
{
	X509_free(cother);
	X509_free(cleaf);
	cother = cleaf = NULL;
	peer_verifier_del(cv);
	cv = NULL;
	crlca_del(&cc);
	peer_verifier_del(v);
	v = NULL;
	unlink(ca_path);
	testcert_ca_del(ca);
	ca = NULL;
}

/* --- core ------------------------------------------------------------------------------ */

START_TEST(test_good_record_passes)
{
	struct testcert_spec spec = good_spec();

	expect_spec(&spec, good_ips, NULL);
}
END_TEST

START_TEST(test_good_record_fills_identity)
{
	struct testcert_spec spec = good_spec();
	struct cert_identity id;
	X509 *x = issue(&spec);
	struct rec r;
	char err[256] = "", text[NETADDR_STRLEN];
	time_t now = time(NULL);

	bool ok;

	rec_init(&r, x, key, good_ips);
	ok = peer_verify(v, &r.p, &id, err, sizeof(err));
	rec_free(&r);
	X509_free(x);
	ck_assert_msg(ok, "refused: %s", err);
	ck_assert_str_eq(id.name, "host1");
	ck_assert_str_eq(id.network, NETWORK);
	ck_assert(id.has_key);
	ck_assert(!id.admin);
	ck_assert_mem_eq(id.key, key, WG_KEY_LEN);
	ck_assert_uint_eq(id.n_tunnel, 2);
	ck_assert_str_eq(netaddr_format(&id.tunnel[0], true, text), "10.9.0.5/32");
	ck_assert_str_eq(netaddr_format(&id.tunnel[1], true, text), "fd00:9::5/128");
	ck_assert_int_ge(id.not_after, (int64_t)now + 86400 - 5);
	ck_assert_int_le(id.not_after, (int64_t)now + 86400 + 5);
}
END_TEST

START_TEST(test_tunnel_other_order_accepted)
{
	static const char *const ips[] = { "fd00:9::5/128", "10.9.0.5/32", NULL };
	struct testcert_spec spec = good_spec();

	expect_spec(&spec, ips, NULL);
}
END_TEST

START_TEST(test_tunnel_without_prefix_accepted)
{
	static const char *const ips[] = { "10.9.0.5", "fd00:9::5", NULL };
	struct testcert_spec spec = good_spec();

	expect_spec(&spec, ips, NULL);
}
END_TEST

START_TEST(test_crl_not_listing_serial_accepted)
{
	set_crl(cv, crl_make(&cc, -60, cother));
	expect(cv, cleaf, key, good_ips, NULL);
}
END_TEST

START_TEST(test_revoked_refused)
{
	expect(cv, cleaf, key, good_ips, NULL); /* valid before the CRL */
	set_crl(cv, crl_make(&cc, -60, cleaf));
	expect(cv, cleaf, key, good_ips, "certificate does not verify: certificate revoked");
}
END_TEST

START_TEST(test_new_reads_crl_file)
{
	char crl_path[sizeof(TMP_TEMPLATE)], err[256] = "";
	struct peer_verifier *w;
	X509_CRL *crl;
	FILE *f;
	int fd, written;
	bool ok;

	crl = crl_make(&cc, -60, cleaf);
	memcpy(crl_path, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(crl_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	written = PEM_write_X509_CRL(f, crl);
	fclose(f);
	X509_CRL_free(crl);
	ck_assert_int_eq(written, 1);
	w = peer_verifier_new(cc.path, crl_path, NETWORK, err, sizeof(err));
	unlink(crl_path);
	ck_assert_msg(w != NULL, "peer_verifier_new: %s", err);
	ok = verify_x(w, cleaf, key, good_ips, err, sizeof(err));
	peer_verifier_del(w);
	assert_outcome(ok, err, "certificate does not verify: certificate revoked");
}
END_TEST

static int offer(struct peer_verifier *w, X509_CRL *crl, char *err, size_t errlen);

/* A CRL past its nextUpdate is still the CA's list of revoked serials: it revokes what it
 * lists and lets the rest through (issue 11: it used to refuse every peer). */
START_TEST(test_stale_crl_still_enforced)
{
	set_crl(cv, crl_make_at(&cc, -7200, -3600, cleaf));
	expect(cv, cleaf, key, good_ips, "certificate does not verify: certificate revoked");
	expect(cv, cother, key, good_ips, NULL);
}
END_TEST

/* Before its lastUpdate (a clock behind the CA's): the same. */
START_TEST(test_crl_not_yet_valid_still_enforced)
{
	set_crl(cv, crl_make_at(&cc, 3600, 7200, cleaf));
	expect(cv, cleaf, key, good_ips, "certificate does not verify: certificate revoked");
	expect(cv, cother, key, good_ips, NULL);
}
END_TEST

/* Only the CRL's time is waived: a certificate's own expiry still counts. */
START_TEST(test_stale_crl_keeps_certificate_expiry)
{
	struct testcert_spec spec = good_spec();
	X509 *old;

	spec.not_before_offset = -7200;
	spec.not_after_offset = -3600;
	old = crlca_issue_spec(&cc, &spec);
	set_crl(cv, crl_make_at(&cc, -7200, -3600, NULL));
	expect(cv, old, key, good_ips, "certificate does not verify: certificate has expired");
	X509_free(old);
}
END_TEST

/* The same, for a CRL read from the configured file. */
START_TEST(test_new_reads_stale_crl_file)
{
	char crl_path[sizeof(TMP_TEMPLATE)], err[256] = "";
	struct peer_verifier *w;
	X509_CRL *crl = crl_make_at(&cc, -7200, -3600, cleaf);
	FILE *f;
	int fd;

	memcpy(crl_path, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(crl_path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509_CRL(f, crl), 1);
	fclose(f);
	X509_CRL_free(crl);
	w = peer_verifier_new(cc.path, crl_path, NETWORK, err, sizeof(err));
	unlink(crl_path);
	ck_assert_msg(w != NULL, "peer_verifier_new: %s", err);
	ck_assert_int_lt(peer_verifier_crl_next_update(w, NULL), (int64_t)time(NULL));
	ck_assert_int_gt(peer_verifier_crl_next_update(w, NULL), (int64_t)time(NULL) - 3700);
	expect(w, cleaf, key, good_ips, "certificate does not verify: certificate revoked");
	expect(w, cother, key, good_ips, NULL);
	peer_verifier_del(w);
}
END_TEST

/* Two CAs in ca_file, each with its CRL: each CRL revokes its own CA's certificates, and
 * a CRL of one CA neither replaces nor is compared with the other's. */
START_TEST(test_two_cas_each_crl)
{
	struct crlca c2;
	char bundle[sizeof(TMP_TEMPLATE)], err[256] = "";
	struct peer_verifier *w;
	X509 *l2, *o2;
	FILE *f;
	int fd;

	crlca_new_named(&c2, "wiresync CRL test CA two");
	l2 = crlca_issue(&c2);
	o2 = crlca_issue(&c2);
	memcpy(bundle, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(bundle);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, cc.cert), 1);
	ck_assert_int_eq(PEM_write_X509(f, c2.cert), 1);
	fclose(f);
	/* the verifier reads ca_file again for each new CRL: it stays until the end */
	w = peer_verifier_new(bundle, NULL, NETWORK, err, sizeof(err));
	ck_assert_msg(w != NULL, "peer_verifier_new: %s", err);
	/* the second CA's CRL is older than the first's, and still taken: another CA's */
	ck_assert_msg(offer(w, crl_make(&cc, -60, cleaf), err, sizeof(err)) == 1, "%s", err);
	ck_assert_msg(offer(w, crl_make(&c2, -600, l2), err, sizeof(err)) == 1, "%s", err);
	ck_assert_int_eq(peer_verifier_crl_count(w), 2);
	expect(w, cleaf, key, good_ips, "certificate does not verify: certificate revoked");
	expect(w, l2, key, good_ips, "certificate does not verify: certificate revoked");
	expect(w, cother, key, good_ips, NULL);
	expect(w, o2, key, good_ips, NULL);
	/* a newer CRL of the first CA replaces only the first's */
	ck_assert_int_eq(offer(w, crl_make(&cc, -30, NULL), err, sizeof(err)), 1);
	ck_assert_int_eq(peer_verifier_crl_count(w), 1);
	expect(w, cleaf, key, good_ips, NULL);
	expect(w, l2, key, good_ips, "certificate does not verify: certificate revoked");
	/* and an older one of the second CA is still ignored */
	ck_assert_int_eq(offer(w, crl_make(&c2, -900, NULL), err, sizeof(err)), 0);
	expect(w, l2, key, good_ips, "certificate does not verify: certificate revoked");
	peer_verifier_del(w);
	unlink(bundle);
	X509_free(o2);
	X509_free(l2);
	crlca_del(&c2);
}
END_TEST

/* --- limits ---------------------------------------------------------------------------- */

START_TEST(test_max_tunnel_addresses_accepted)
{
	static const char *const ips[] = { "10.9.0.8", "10.9.0.7", "10.9.0.6", "10.9.0.5",
		"fd00:9::4", "fd00:9::3", "fd00:9::2", "fd00:9::1", NULL };
	struct testcert_spec spec = good_spec();
	size_t i;

	for (i = 0; ips[i] != NULL; i++)
		spec.ips[i] = ips[CERT_TUNNEL_MAX - 1 - i];
	spec.ips[i] = NULL;
	ck_assert_uint_eq(i, CERT_TUNNEL_MAX);
	expect_spec(&spec, ips, NULL);
}
END_TEST

START_TEST(test_tunnel_wider_prefix_refused)
{
	static const char *const ips[] = { "10.9.0.5/24", "fd00:9::5/128", NULL };
	struct testcert_spec spec = good_spec();

	expect_spec(&spec, ips,
	    "certificate \"host1\": tunnel address 10.9.0.5/24 is not bound by the certificate");
}
END_TEST

START_TEST(test_newer_crl_revokes)
{
	/* the CA revokes a peer after the agent loaded its first CRL */
	set_crl(cv, crl_make(&cc, -120, NULL));
	expect(cv, cleaf, key, good_ips, NULL);
	set_crl(cv, crl_make(&cc, -60, cleaf));
	expect(cv, cleaf, key, good_ips, "certificate does not verify: certificate revoked");
}
END_TEST

START_TEST(test_newer_crl_replaces_older)
{
	set_crl(cv, crl_make(&cc, -120, cleaf));
	set_crl(cv, crl_make(&cc, -60, NULL));
	expect(cv, cleaf, key, good_ips, NULL);
}
END_TEST

/* DER of crl (freed), for offer_crl. */
static unsigned char *
crl_der(X509_CRL *crl, int *len)
{
	unsigned char *der = NULL;

	*len = i2d_X509_CRL(crl, &der);
	ck_assert_int_gt(*len, 0);
	X509_CRL_free(crl);
	return der;
}

static int
offer(struct peer_verifier *w, X509_CRL *crl, char *err, size_t errlen)
{
	int len, r;
	unsigned char *der = crl_der(crl, &len);

	r = peer_verifier_offer_crl(w, der, (size_t)len, err, errlen);
	OPENSSL_free(der);
	return r;
}

START_TEST(test_offered_crl_revokes)
{
	char err[160] = "";
	uint8_t d1[32], d2[32];

	ck_assert(!peer_verifier_crl_sha256(cv, d1));
	ck_assert_int_eq(offer(cv, crl_make(&cc, -60, cleaf), err, sizeof(err)), 1);
	ck_assert_int_eq(peer_verifier_crl_count(cv), 1);
	ck_assert(peer_verifier_crl_sha256(cv, d1));
	expect(cv, cleaf, key, good_ips, "certificate does not verify: certificate revoked");
	/* a newer one replaces it, and the digest follows */
	ck_assert_int_eq(offer(cv, crl_make(&cc, -30, cother), err, sizeof(err)), 1);
	ck_assert(peer_verifier_crl_sha256(cv, d2));
	ck_assert(memcmp(d1, d2, sizeof(d1)) != 0);
	expect(cv, cleaf, key, good_ips, NULL);
}
END_TEST

START_TEST(test_offered_older_crl_ignored)
{
	char err[160] = "";

	/* a server cannot roll revocations back with an older CRL of the same CA */
	ck_assert_int_eq(offer(cv, crl_make(&cc, -60, cleaf), err, sizeof(err)), 1);
	ck_assert_int_eq(offer(cv, crl_make(&cc, -120, NULL), err, sizeof(err)), 0);
	ck_assert_int_eq(offer(cv, crl_make(&cc, -60, NULL), err, sizeof(err)), 0);
	expect(cv, cleaf, key, good_ips, "certificate does not verify: certificate revoked");
}
END_TEST

START_TEST(test_offered_crl_of_other_ca_refused)
{
	struct crlca other;
	char err[160] = "";

	/* same subject name, another key: the signature must be ours */
	crlca_new(&other);
	ck_assert_int_eq(offer(cv, crl_make(&other, -60, cleaf), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "not signed by our CA");
	ck_assert_int_eq(peer_verifier_crl_count(cv), 0);
	expect(cv, cleaf, key, good_ips, NULL);
	crlca_del(&other);
}
END_TEST

START_TEST(test_offered_garbage_refused)
{
	static const uint8_t junk[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	char err[160] = "";
	int len;
	unsigned char *der = crl_der(crl_make(&cc, -60, cleaf), &len);

	ck_assert_int_eq(peer_verifier_offer_crl(cv, junk, sizeof(junk), err, sizeof(err)), -1);
	ck_assert_str_eq(err, "not a DER CRL");
	/* a valid CRL with a trailing byte is not what the CA signed */
	ck_assert_int_eq(peer_verifier_offer_crl(cv, der, (size_t)len - 1, err, sizeof(err)), -1);
	OPENSSL_free(der);
	ck_assert_int_eq(peer_verifier_crl_count(cv), 0);
}
END_TEST

START_TEST(test_expired_at_edge_refused)
{
	struct testcert_spec spec = good_spec();

	spec.not_before_offset = -86400;
	spec.not_after_offset = -1;
	expect_spec(&spec, good_ips, "certificate does not verify: certificate has expired");
}
END_TEST

/* --- errors ---------------------------------------------------------------------------- */

START_TEST(test_err_other_ca)
{
	struct testcert_ca *other = testcert_ca_new(NETWORK);
	struct testcert_spec spec = good_spec();
	char err[256] = "";
	X509 *x;
	bool ok;

	ck_assert_ptr_nonnull(other);
	x = testcert_issue(other, &spec, NULL);
	testcert_ca_del(other);
	ck_assert_ptr_nonnull(x);
	ok = verify_x(v, x, key, good_ips, err, sizeof(err));
	X509_free(x);
	assert_outcome(ok, err, "certificate does not verify: unable to get local issuer certificate");
}
END_TEST

START_TEST(test_err_expired)
{
	struct testcert_spec spec = good_spec();

	spec.not_before_offset = -7200;
	spec.not_after_offset = -3600;
	expect_spec(&spec, good_ips, "certificate does not verify: certificate has expired");
}
END_TEST

START_TEST(test_err_not_yet_valid)
{
	struct testcert_spec spec = good_spec();

	spec.not_before_offset = 3600;
	spec.not_after_offset = 7200;
	expect_spec(&spec, good_ips, "certificate does not verify: certificate is not yet valid");
}
END_TEST

START_TEST(test_err_other_network)
{
	struct testcert_spec spec = good_spec();

	spec.org = "netb";
	expect_spec(&spec, good_ips,
	    "certificate of \"host1\" is for network \"netb\", not \"neta\"");
}
END_TEST

START_TEST(test_err_public_key_differs)
{
	struct testcert_spec spec = good_spec();
	uint8_t other[WG_KEY_LEN];
	char err[256] = "";
	X509 *x = issue(&spec);
	bool ok;

	memcpy(other, key, WG_KEY_LEN);
	other[WG_KEY_LEN - 1] ^= 1;
	ok = verify_x(v, x, other, good_ips, err, sizeof(err));
	X509_free(x);
	assert_outcome(ok, err, "record's public key is not the one certificate \"host1\" binds");
}
END_TEST

START_TEST(test_err_public_key_short)
{
	struct testcert_spec spec = good_spec();
	X509 *x = issue(&spec);
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	rec_init(&r, x, key, good_ips);
	r.p.public_key.len = WG_KEY_LEN - 1; /* a prefix of the right key */
	ok = peer_verify(v, &r.p, &id, err, sizeof(err));
	rec_free(&r);
	X509_free(x);
	assert_outcome(ok, err, "record's public key is not the one certificate \"host1\" binds");
}
END_TEST

START_TEST(test_err_public_key_empty)
{
	struct testcert_spec spec = good_spec();
	X509 *x = issue(&spec);
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	rec_init(&r, x, key, good_ips);
	r.p.public_key.data = NULL;
	r.p.public_key.len = 0;
	ok = peer_verify(v, &r.p, &id, err, sizeof(err));
	rec_free(&r);
	X509_free(x);
	assert_outcome(ok, err, "record's public key is not the one certificate \"host1\" binds");
}
END_TEST

START_TEST(test_err_tunnel_extra)
{
	static const char *const ips[] = { "10.9.0.5/32", "fd00:9::5/128", "10.9.0.6/32", NULL };
	struct testcert_spec spec = good_spec();

	expect_spec(&spec, ips,
	    "certificate \"host1\": record lists 3 tunnel addresses, certificate binds 2");
}
END_TEST

START_TEST(test_err_tunnel_missing)
{
	static const char *const ips[] = { "10.9.0.5/32", NULL };
	struct testcert_spec spec = good_spec();

	expect_spec(&spec, ips,
	    "certificate \"host1\": record lists 1 tunnel addresses, certificate binds 2");
}
END_TEST

START_TEST(test_err_tunnel_none)
{
	static const char *const ips[] = { NULL };
	struct testcert_spec spec = good_spec();

	expect_spec(&spec, ips,
	    "certificate \"host1\": record lists 0 tunnel addresses, certificate binds 2");
}
END_TEST

START_TEST(test_err_tunnel_different)
{
	static const char *const ips[] = { "10.9.0.5/32", "fd00:9::6/128", NULL };
	struct testcert_spec spec = good_spec();

	expect_spec(&spec, ips,
	    "certificate \"host1\": tunnel address fd00:9::6/128 is not bound by the certificate");
}
END_TEST

/* The count matches, but one bound address is missing and another is listed twice. */
START_TEST(test_err_tunnel_duplicate_hides_missing)
{
	static const char *const ips[] = { "10.9.0.5/32", "10.9.0.5/32", NULL };
	struct testcert_spec spec = good_spec();
	X509 *x = issue(&spec);
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	rec_init(&r, x, key, ips);
	ok = peer_verify(v, &r.p, &id, err, sizeof(err));
	rec_free(&r);
	X509_free(x);
	ck_assert_msg(!ok, "accepted tunnel_ips {10.9.0.5/32, 10.9.0.5/32} for a certificate "
	    "binding {10.9.0.5, fd00:9::5}");
}
END_TEST

START_TEST(test_err_tunnel_unparsable)
{
	static const char *const ips[] = { "10.9.0.5/32", "bogus", NULL };
	struct testcert_spec spec = good_spec();

	expect_spec(&spec, ips,
	    "certificate \"host1\": tunnel address \"bogus\" does not parse");
}
END_TEST

START_TEST(test_err_admin_certificate)
{
	static const char *const ips[] = { NULL };
	struct testcert_spec spec = { .cn = "admin1", .org = NETWORK, .admin = true };

	expect_spec(&spec, ips, "record's public key is not the one certificate \"admin1\" binds");
}
END_TEST

START_TEST(test_err_ca_leaf)
{
	struct testcert_spec spec = good_spec();

	spec.ca = true;
	expect_spec(&spec, good_ips, "certificate \"host1\": is a CA (basicConstraints CA:TRUE)");
}
END_TEST

START_TEST(test_err_no_client_auth)
{
	struct testcert_spec spec = good_spec();

	spec.no_client_auth = true;
	expect_spec(&spec, good_ips, "certificate does not verify: unsuitable certificate purpose");
}
END_TEST

START_TEST(test_err_no_certificate)
{
	expect(v, NULL, key, good_ips, "record carries no certificate");
}
END_TEST

START_TEST(test_err_garbage_der)
{
	static const uint8_t garbage[] = { 0x30, 0x03, 0x02, 0x01, 0x05, 0xde, 0xad };
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	rec_init(&r, NULL, key, good_ips);
	r.p.certificate.data = (uint8_t *)garbage;
	r.p.certificate.len = sizeof(garbage);
	ok = peer_verify(v, &r.p, &id, err, sizeof(err));
	assert_outcome(ok, err, "certificate does not decode");
}
END_TEST

START_TEST(test_err_truncated_der)
{
	struct testcert_spec spec = good_spec();
	X509 *x = issue(&spec);
	struct cert_identity id;
	struct rec r;
	char err[256] = "";
	bool ok;

	rec_init(&r, x, key, good_ips);
	r.p.certificate.len--;
	ok = peer_verify(v, &r.p, &id, err, sizeof(err));
	rec_free(&r);
	X509_free(x);
	assert_outcome(ok, err, "certificate does not decode");
}
END_TEST

START_TEST(test_err_trailing_bytes)
{
	struct testcert_spec spec = good_spec();
	X509 *x = issue(&spec);
	struct cert_identity id;
	struct rec r;
	uint8_t *buf;
	char err[256] = "";
	bool ok;

	rec_init(&r, x, key, good_ips);
	buf = malloc(r.p.certificate.len + 1);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, r.p.certificate.data, r.p.certificate.len);
	buf[r.p.certificate.len] = 0;
	r.p.certificate.data = buf;
	r.p.certificate.len++;
	ok = peer_verify(v, &r.p, &id, err, sizeof(err));
	free(buf);
	rec_free(&r);
	X509_free(x);
	assert_outcome(ok, err, "certificate does not decode");
}
END_TEST

START_TEST(test_err_missing_ca_file)
{
	char err[256] = "";

	ck_assert_ptr_null(peer_verifier_new("/nonexistent/wiresync/ca.crt", NULL, NETWORK,
	    err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/wiresync/ca.crt: cannot load CA certificate");
}
END_TEST

START_TEST(test_err_ca_file_not_pem)
{
	char path[sizeof(TMP_TEMPLATE)], err[256] = "", want[300];
	int fd;

	memcpy(path, TMP_TEMPLATE, sizeof(TMP_TEMPLATE));
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "not a certificate\n", 18), 18);
	close(fd);
	ck_assert_ptr_null(peer_verifier_new(path, NULL, NETWORK, err, sizeof(err)));
	unlink(path);
	snprintf(want, sizeof(want), "%s: cannot load CA certificate", path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(test_err_missing_crl_file)
{
	char err[256] = "";

	ck_assert_ptr_null(peer_verifier_new(ca_path, "/nonexistent/wiresync/ca.crl", NETWORK,
	    err, sizeof(err)));
	ck_assert_str_eq(err, "/nonexistent/wiresync/ca.crl: No such file or directory");
}
END_TEST

/* Two certificates binding one tunnel address must never both be installed. */
START_TEST(test_tunnels_overlap)
{
	struct cert_identity a, b;
	char addr[NETADDR_STRLEN] = "";

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ck_assert(netaddr_parse("10.9.0.5/32", true, &a.tunnel[0], NULL, 0));
	ck_assert(netaddr_parse("fd00:9::5/128", true, &a.tunnel[1], NULL, 0));
	a.n_tunnel = 2;
	ck_assert(netaddr_parse("10.9.0.6/32", true, &b.tunnel[0], NULL, 0));
	b.n_tunnel = 1;
	ck_assert(!peer_tunnels_overlap(&a, &b, addr));
	ck_assert(netaddr_parse("fd00:9::5/128", true, &b.tunnel[1], NULL, 0));
	b.n_tunnel = 2;
	ck_assert(peer_tunnels_overlap(&a, &b, addr));
	ck_assert_str_eq(addr, "fd00:9::5/128");
	ck_assert(peer_tunnels_overlap(&b, &a, addr));
	b.n_tunnel = 0;
	ck_assert(!peer_tunnels_overlap(&a, &b, addr));
}
END_TEST

Suite *
verify_suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_good_record_passes);
	tcase_add_test(tc, test_good_record_fills_identity);
	tcase_add_test(tc, test_tunnel_other_order_accepted);
	tcase_add_test(tc, test_tunnel_without_prefix_accepted);
	tcase_add_test(tc, test_crl_not_listing_serial_accepted);
	tcase_add_test(tc, test_revoked_refused);
	tcase_add_test(tc, test_new_reads_crl_file);
	tcase_add_test(tc, test_stale_crl_still_enforced);
	tcase_add_test(tc, test_crl_not_yet_valid_still_enforced);
	tcase_add_test(tc, test_stale_crl_keeps_certificate_expiry);
	tcase_add_test(tc, test_new_reads_stale_crl_file);
	tcase_add_test(tc, test_two_cas_each_crl);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_max_tunnel_addresses_accepted);
	tcase_add_test(tc, test_tunnel_wider_prefix_refused);
	tcase_add_test(tc, test_newer_crl_revokes);
	tcase_add_test(tc, test_newer_crl_replaces_older);
	tcase_add_test(tc, test_offered_crl_revokes);
	tcase_add_test(tc, test_offered_older_crl_ignored);
	tcase_add_test(tc, test_offered_crl_of_other_ca_refused);
	tcase_add_test(tc, test_offered_garbage_refused);
	tcase_add_test(tc, test_expired_at_edge_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_err_other_ca);
	tcase_add_test(tc, test_err_expired);
	tcase_add_test(tc, test_err_not_yet_valid);
	tcase_add_test(tc, test_err_other_network);
	tcase_add_test(tc, test_err_public_key_differs);
	tcase_add_test(tc, test_err_public_key_short);
	tcase_add_test(tc, test_err_public_key_empty);
	tcase_add_test(tc, test_err_tunnel_extra);
	tcase_add_test(tc, test_err_tunnel_missing);
	tcase_add_test(tc, test_err_tunnel_none);
	tcase_add_test(tc, test_err_tunnel_different);
	tcase_add_test(tc, test_err_tunnel_duplicate_hides_missing);
	tcase_add_test(tc, test_err_tunnel_unparsable);
	tcase_add_test(tc, test_err_admin_certificate);
	tcase_add_test(tc, test_err_ca_leaf);
	tcase_add_test(tc, test_err_no_client_auth);
	tcase_add_test(tc, test_err_no_certificate);
	tcase_add_test(tc, test_err_garbage_der);
	tcase_add_test(tc, test_err_truncated_der);
	tcase_add_test(tc, test_err_trailing_bytes);
	tcase_add_test(tc, test_err_missing_ca_file);
	tcase_add_test(tc, test_err_ca_file_not_pem);
	tcase_add_test(tc, test_err_missing_crl_file);
	tcase_add_test(tc, test_tunnels_overlap);
	suite_add_tcase(s, tc);
	return s;
}
