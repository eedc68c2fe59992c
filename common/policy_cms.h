/* A signed pairing policy (policy.cms): CMS SignedData whose content is the policy file's
 * bytes, signed by the CA's own key (wiresync-ca policy). The server relays it and every
 * agent checks it against its CA, so neither has to trust the other with the policy. */
#ifndef WS_POLICY_CMS_H
#define WS_POLICY_CMS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "common/policy.h"

/* Largest policy.cms accepted: a policy of POLICY_BYTES_MAX plus a signature. */
#define POLICY_CMS_MAX (POLICY_BYTES_MAX + 16 * 1024)
#define POLICY_CMS_NOT_SIGNER (-2)

/* Verifies der (len bytes) as SignedData with embedded content signed by ca's key itself
 * (not by any certificate ca issued: an agent's key cannot sign a policy), then parses the
 * content, which must carry a version line. name names the source in errors. Returns 0
 * and fills out (policy_free it); POLICY_CMS_NOT_SIGNER when ca's key did not sign it (try
 * another CA); -1 with err saying what is wrong otherwise: not CMS, content missing or not
 * a valid policy (file:line:col), no version. */
int policy_cms_verify(const uint8_t *der, size_t len, X509 *ca, const char *name,
    struct policy *out, char *err, size_t errlen);

/* The index of the rule of p that pairs the hosts of certificates a and b (their CNs and
 * groups), or -1 when none does. */
int policy_pairs_certs(const struct policy *p, const struct cert_identity *a,
    const struct cert_identity *b);

#endif
