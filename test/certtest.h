/* Test helper for the cert suites (check_cert.c, check_cert_encoding.c): a throwaway CA
 * "mesh" per test and a good agent certificate of it. */
#ifndef WS_CERTTEST_H
#define WS_CERTTEST_H

#include <stdint.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "test/testcert.h"

/* Base64 of the bytes 0, 1, ..., 31. */
#define KEY_SEQ "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_FF "//////////////////////////////////////////8="

extern struct testcert_ca *ct_ca;       /* made by ct_setup, freed by ct_teardown */

/* The checked fixture of every cert case. */
void ct_setup(void);
void ct_teardown(void);

/* The bytes 0, 1, ..., 31: KEY_SEQ decoded. */
void ct_key_seq(uint8_t key[WG_KEY_LEN]);
/* A good agent certificate: host1 in mesh, key KEY_SEQ, one v4 and one v6 address. */
struct testcert_spec ct_agent_spec(void);
/* A certificate of spec from ct_ca; X509_free it. */
X509 *ct_issue(const struct testcert_spec *spec);

#endif
