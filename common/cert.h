/* The wiresync certificate profile: what a client certificate says about its holder. */
#ifndef WS_CERT_H
#define WS_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/netaddr.h"

#define CERT_NAME_MAX 64
#define CERT_TUNNEL_MAX 8
#define WG_KEY_LEN 32

#define CERT_URI_KEY_PREFIX "urn:wiresync:key:"
#define CERT_URI_ADMIN "urn:wiresync:role:admin"
#define CERT_URI_GROUP_PREFIX "urn:wiresync:group:"
#define CERT_GROUPS_MAX 16
#define CERT_GROUP_MAX 32      /* POLICY_GROUP_MAX */

struct cert_identity {
	char name[CERT_NAME_MAX + 1];    /* subject CN */
	char network[CERT_NAME_MAX + 1]; /* subject O */
	bool admin;                      /* SAN URI urn:wiresync:role:admin */
	bool has_key;                    /* an agent certificate binds a key and tunnel addresses */
	uint8_t key[WG_KEY_LEN];
	size_t n_tunnel;
	struct netaddr tunnel[CERT_TUNNEL_MAX]; /* SAN IPs, prefix /32 or /128 */
	size_t n_groups;                 /* SAN URIs urn:wiresync:group:NAME, for the policy */
	char groups[CERT_GROUPS_MAX][CERT_GROUP_MAX + 1];
	char serial[80];                 /* hex, for logs and revocation */
	int64_t not_after;               /* seconds since the epoch */
};

/* Reads the identity of a client certificate that OpenSSL has already verified against the
 * CA. Returns false, with the reason in err, when the certificate breaks the profile:
 * no CN or O (or longer than CERT_NAME_MAX), CA:TRUE, no clientAuth EKU, neither a key URI
 * nor the admin URI, more than one key URI, a key URI that is not base64 of 32 bytes, a key
 * without at least one IP SAN, more than CERT_TUNNEL_MAX IP SANs, a group URI whose name
 * is not [a-z0-9-]{1,32}, more than CERT_GROUPS_MAX groups. Does not take ownership
 * of x. */
bool cert_identity_from_x509(X509 *x, struct cert_identity *id, char *err, size_t errlen);

/* Same, from DER bytes. */
bool cert_identity_from_der(const uint8_t *der, size_t len, struct cert_identity *id,
    char *err, size_t errlen);

/* The hub's WireGuard key a server certificate binds (SAN URI urn:wiresync:key:, see
 * hub_interface). Returns 1 with key set, 0 when x binds none, -1 with err set when the URI
 * is malformed or repeated. */
int cert_hub_key(X509 *x, uint8_t key[WG_KEY_LEN], char *err, size_t errlen);

/* Standard base64 of a 32-byte key (44 characters and a NUL into out[45]). */
void wg_key_to_base64(const uint8_t key[WG_KEY_LEN], char out[45]);
/* Parses 44-character standard base64 of exactly 32 bytes. */
bool wg_key_from_base64(const char *s, uint8_t key[WG_KEY_LEN]);

/* Whole days until x expires (negative: expired), or INT_MIN when it cannot be read. */
int cert_days_left(const X509 *x);

/* t as seconds since the epoch; 0 when t is NULL or unreadable. */
int64_t cert_asn1_time_s(const ASN1_TIME *t);

/* How long before a CRL's nextUpdate to warn that nobody renewed it: warn_days, or half the
 * CRL's lifetime (this_up to next) when that is shorter, so a CRL renewed daily is never
 * warned about and one nobody renews is. Server and agent warn alike. */
int64_t cert_crl_warn_window(int64_t this_up, int64_t next, unsigned warn_days);

#endif
