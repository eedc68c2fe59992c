/* Verification of peer records before anything is installed: a compromised server can
 * withhold or misdirect endpoints, but cannot inject a key or steal an address. */
#ifndef WS_VERIFY_H
#define WS_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "proto/wiresync.pb-c.h"

struct peer_verifier;

#define VERIFY_CRL_MAX 16            /* CRLs in use at once: one per CA of ca_file */
#define VERIFY_CHAIN_MAX 2           /* intermediates in a record's chain (an online issuer) */

/* Trusts the CA certificate(s) in ca_file, checks the CRL in crl_file when not NULL, and
 * accepts only certificates of network. A CRL past its nextUpdate is still used as the list
 * of revoked serials it is: it never makes a certificate fail by itself. Returns NULL with
 * err naming the file. */
struct peer_verifier *peer_verifier_new(const char *ca_file, const char *crl_file,
    const char *network, char *err, size_t errlen);
void peer_verifier_del(struct peer_verifier *v);

/* Replaces the CRL of crl's issuer (borrowed); the other CAs' CRLs stay. 0 or -ENOMEM
 * (also when VERIFY_CRL_MAX CAs have one already). */
int peer_verifier_set_crl(struct peer_verifier *v, X509_CRL *crl);

/* A CRL as the server relayed it (DER). It is taken only when one of our CAs signed it and
 * it is newer (CRL number, else lastUpdate) than the one of that CA in use, so a server can
 * neither forge nor roll back revocations. Returns 1 taken, 0 not newer (ignored), -1
 * refused with err saying why. */
int peer_verifier_offer_crl(struct peer_verifier *v, const uint8_t *der, size_t len, char *err,
    size_t errlen);

/* SHA-256 of the CRLs in use (DER, one after the other: with one CRL, its digest) into
 * out; false when there is none. */
bool peer_verifier_crl_sha256(const struct peer_verifier *v, uint8_t out[32]);
/* The CRLs in use, DER one after the other, into *out (free()) and *len (0 when none).
 * 0 or -ENOMEM. */
int peer_verifier_crls_der(const struct peer_verifier *v, uint8_t **out, size_t *len);

/* How many certificates the CRLs in use revoke (0 without one). */
int peer_verifier_crl_count(const struct peer_verifier *v);
/* The earliest nextUpdate of the CRLs in use, seconds since the epoch; 0 when none has.
 * *this_update (may be NULL) gets that CRL's lastUpdate. */
int64_t peer_verifier_crl_next_update(const struct peer_verifier *v, int64_t *this_update);

/* True when p's certificate chains to the CA (through p's chain, an online issuer, whose
 * entries are only untrusted intermediates; the root's CRL covers them, see
 * tls_store_check_crls), is within its validity and not revoked, is a
 * client certificate of our network to the profile, and binds exactly p's public key and
 * tunnel addresses; *id then holds what it says. Otherwise false with the reason in err. */
bool peer_verify(struct peer_verifier *v, const Wiresync__V1__Peer *p, struct cert_identity *id,
    char *err, size_t errlen);

/* True when a and b bind a tunnel address in common (certificate addresses are host
 * addresses, so in common means equal); its text goes to addr. */
bool peer_tunnels_overlap(const struct cert_identity *a, const struct cert_identity *b,
    char addr[NETADDR_STRLEN]);

#endif
