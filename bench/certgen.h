/* Throwaway agent identities minted in process from a CA certificate and key, to the agent
 * profile of DESIGN.md, so the benchmark can simulate thousands of agents without files. */
#ifndef WS_BENCH_CERTGEN_H
#define WS_BENCH_CERTGEN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct certgen;

/* One agent: CN=<prefix>-<index>, O=<network>, SAN URI urn:wiresync:key:<base64 key> and
 * SAN IP <tunnel address>, EKU clientAuth. */
struct identity {
	X509 *cert;
	EVP_PKEY *key;
	uint8_t wg_key[32];       /* the "WireGuard public key" bound by the certificate */
	uint32_t tunnel_ip;       /* host order, unique per index in 10.64.0.0/10 */
};

/* Loads the issuing CA (PEM certificate and PEM private key). network NULL: the CA's own
 * O=. Returns NULL with err naming the file at fault. */
struct certgen *certgen_new(const char *ca_cert, const char *ca_key, const char *network,
    char *err, size_t errlen);
void certgen_del(struct certgen *g);

/* The network the identities are issued for (O=). */
const char *certgen_network(const struct certgen *g);

/* Keys are SHA-256(network, seed, index): random-looking, the same in every run with the
 * same seed (default 0), so reruns against one database reuse their peers. */
void certgen_set_seed(struct certgen *g, uint64_t seed);

/* Issues identity index (0 .. 4,194,301) named "<prefix>-<index>". 0, or -1 with err set. */
int certgen_issue(struct certgen *g, const char *prefix, uint32_t index, struct identity *out,
    char *err, size_t errlen);
/* Frees what certgen_issue filled in; accepts a zeroed identity. */
void identity_clear(struct identity *id);

#endif
