/* Test helper for check_verify.c and check_verify_crl.c: a trusted throwaway CA, the
 * peer_verifier v that trusts it, and records of certificates it issues, verified and
 * asserted in one call. */
#ifndef WS_VERIFYTEST_H
#define WS_VERIFYTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "agent/verify.h"
#include "common/cert.h"
#include "common/netaddr.h"
#include "test/testcert.h"

#define NETWORK "neta"
#define TMP_TEMPLATE "/tmp/check_verify.XXXXXX"

/* Set by vt_setup, cleared by vt_teardown. */
extern struct testcert_ca *vt_ca;       /* the CA the verifier trusts */
extern char vt_ca_path[sizeof(TMP_TEMPLATE)];
extern struct peer_verifier *vt_v;      /* trusts vt_ca, network NETWORK, no CRL */
extern char vt_key_b64[45];             /* the key good certificates bind */
extern uint8_t vt_key[WG_KEY_LEN];

/* The record for a good certificate, with the addresses it binds. */
extern const char *const vt_good_ips[];

/* The checked fixture of every verify case. */
void vt_setup(void);
void vt_teardown(void);

/* Writes x as PEM to a fresh temporary file; path gets its name. */
void vt_write_temp_pem(X509 *x, char path[sizeof(TMP_TEMPLATE)]);
/* A good agent certificate of our network: host1, vt_key_b64, one v4 and one v6 address. */
struct testcert_spec vt_good_spec(void);
X509 *vt_issue(const struct testcert_spec *spec);

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
void vt_rec_init(struct rec *r, X509 *x, const uint8_t k[WG_KEY_LEN], const char *const *ips);
void vt_rec_free(struct rec *r);
/* Verifies a record of x (NULL: no certificate) with key k and ips against w. */
bool vt_verify_x(struct peer_verifier *w, X509 *x, const uint8_t k[WG_KEY_LEN],
    const char *const *ips, char *err, size_t errlen);
/* Asserts the outcome: accepted when want is NULL, else refused with exactly want. */
void vt_assert_outcome(bool ok, const char *err, const char *want);
/* Verifies a record of x (borrowed) against w and asserts the outcome. */
void vt_expect(struct peer_verifier *w, X509 *x, const uint8_t k[WG_KEY_LEN],
    const char *const *ips, const char *want);
/* Issues spec and expects want for a record of v with key and ips; frees the certificate
 * before asserting, so a failure leaks nothing. */
void vt_expect_spec(const struct testcert_spec *spec, const char *const *ips, const char *want);

#endif
