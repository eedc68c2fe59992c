/* The online issuer (issue 13, opt-in): an intermediate CA that the offline root signed
 * (wiresync-ca issuer NAME: pathlen 0, name constraints to the network's pools, short
 * lifetime), given to the server as issuer_certificate / issuer_key. With it the server signs
 * joins that present a token, and renewals, at once. Without it nothing here is used and
 * the CA key stays with the operator. */
#ifndef WS_ISSUER_H
#define WS_ISSUER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "common/netaddr.h"

struct issuer;

/* What a host certificate the issuer signs says: the agent profile of DESIGN.md. */
struct issuer_profile {
	const char *name;                 /* subject CN */
	const uint8_t *key;               /* WireGuard key, WG_KEY_LEN bytes: SAN urn:wiresync:key: */
	const struct netaddr *ips;        /* tunnel addresses: SAN IP (host addresses) */
	size_t n_ips;
	const char (*groups)[CERT_GROUP_MAX + 1];  /* SAN urn:wiresync:group: */
	size_t n_groups;
	int64_t lifetime_s;               /* notAfter - now, capped at the issuer's own notAfter */
};

/* Loads cert_file (PEM: the issuer's certificate alone; the root stays in ca) and key_file
 * (PEM private key, not readable by group or others) and checks them: the key matches, the
 * certificate is a CA with pathlen 0 and nameConstraints permitting IP ranges, it verifies
 * against roots (the server's trust store, borrowed, with its CRLs: a revoked issuer is
 * refused) to a root that allows one level below it (not pathlen 0), and its subject O is
 * that root's, the network it issues for. NULL with err naming the file and what is
 * wrong. */
struct issuer *issuer_load(const char *cert_file, const char *key_file, X509_STORE *roots,
    char *err, size_t errlen);
void issuer_del(struct issuer *is);

/* The network (subject O) the issuer signs for. */
const char *issuer_network(const struct issuer *is);
/* The issuer's certificate (borrowed): the chain entry that goes with what it signs. */
X509 *issuer_cert(const struct issuer *is);
/* The issuer's notAfter, seconds since the epoch. */
int64_t issuer_not_after(const struct issuer *is);
/* Whether to warn at now that the issuer ends soon: within warn_days of its notAfter, or
 * within half its lifetime when that is shorter (a 30-day issuer is not warned about from
 * its first day). *days_left gets the whole days left (negative: ended). */
bool issuer_expiring(const struct issuer *is, int64_t now, unsigned warn_days,
    int *days_left);

/* Signs a host certificate to p for the public key of csr_der (DER PKCS#10, whose own
 * signature must hold, an ECDSA P-256 key; nothing else of the CSR is copied) at now:
 * subject CN = p->name, O = the issuer's network, SAN key URI, IPs and group URIs,
 * clientAuth, CA:FALSE, a random 128-bit serial, notBefore now - 60 s, notAfter now +
 * lifetime_s capped at the issuer's. Refuses a tunnel address outside the issuer's name
 * constraints (err names it), and anything cert_identity_from_x509 would refuse. 0 with
 * *der (free with OPENSSL_free) and *len, or -1 with err set ("csr: ..." for the CSR, the
 * field's name for p). Hosts present the result followed by issuer_cert. */
int issuer_sign(const struct issuer *is, const uint8_t *csr_der, size_t csr_len,
    const struct issuer_profile *p, int64_t now, uint8_t **der, size_t *len, char *err,
    size_t errlen);

#endif
