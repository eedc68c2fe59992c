/* wiresync-agent join's insides, shared by agent/join*.c only (join.h is the public face). */
#ifndef WS_JOIN_IMPL_H
#define WS_JOIN_IMPL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent/csr.h"
#include "common/cert.h"

/* Exit statuses (wiresync-agent.8, JOINING). */
#define JOIN_EXIT_OK 0
#define JOIN_EXIT_ERROR 1
#define JOIN_EXIT_PIN 2          /* also a usage error */
#define JOIN_EXIT_DENIED 3
#define JOIN_EXIT_INTERRUPTED 130

#define JOIN_MARKER "# written by wiresync-agent join"

/* Where join keeps what it makes, all in one directory. */
struct join_paths {
	char key[PATH_MAX];      /* DIR/NAME.key: the TLS key, 0600 */
	char csr[PATH_MAX];      /* DIR/NAME.csr: the request, DER, kept to resume */
	char crt[PATH_MAX];      /* DIR/NAME.crt: the certificate (and chain), 0644 */
	char ca[PATH_MAX];       /* DIR/ca.crt */
	char wgkey[PATH_MAX];    /* DIR/NAME.wgkey: a WireGuard key join made, 0600 */
};

/* join_files.c */

/* Fills p from dir and name; false (err set) when a path would not fit. */
bool join_paths_init(struct join_paths *p, const char *dir, const char *name, char *err,
    size_t errlen);
/* Makes dir (one level, 0755) unless it is there. 0 or -1 with err set. */
int join_dir_make(const char *dir, char *err, size_t errlen);
/* Reads the TLS key at path, refusing one readable by group or others, or makes a new one
 * there (0600, O_EXCL). 0 and *key (EVP_PKEY_free), *created; -1 with err set. */
int join_key_load(const char *path, EVP_PKEY **key, bool *created, char *err, size_t errlen);
/* Reads the CSR at path when it is one of key and name, else builds and writes it (0644).
 * 0 and *der (free), *len, *created; -1 with err set. */
int join_csr_load(const char *path, EVP_PKEY *key, const char *name, uint8_t **der,
    size_t *len, bool *created, char *err, size_t errlen);
/* Reads a base64 WireGuard private key (wg genkey's format) from path: 1 and key, 0 when the
 * file is absent, -1 with err set. */
int join_wgkey_read(const char *path, uint8_t key[WG_KEY_LEN], char *err, size_t errlen);
/* Writes key in base64 to path, 0600, O_EXCL. 0 or -1 with err set. */
int join_wgkey_write(const char *path, const uint8_t key[WG_KEY_LEN], char *err,
    size_t errlen);
/* Writes len bytes to path through a temporary file and rename, with mode. 0 or -1. */
int join_file_write(const char *path, const void *data, size_t len, mode_t mode, char *err,
    size_t errlen);
/* Writes the certificate (leaf, then chain) and the CA as PEM, 0644. 0 or -1. */
int join_certs_write(const struct join_paths *p, X509 *leaf, STACK_OF(X509) *chain, X509 *ca,
    char *err, size_t errlen);

struct join_conf {
	const char *server;       /* the mutual-TLS listener the reply named */
	const char *interface;
	uint64_t id;
	const char *code;
	const char *const *extra;  /* "--KEY=VALUE" of other agent.conf keys, written after */
	size_t n_extra;
};
/* The server agent.conf names: named (the reply's field server, the server's listen as
 * configured) with an unspecified host (0.0.0.0, ::, [::], none) replaced by the host of
 * reached (the enrolment address join dialled): a listener on every address names no host a
 * client can dial. false when named has no port or out is too short. */
bool join_server_pick(const char *named, const char *reached, char *out, size_t outlen);
/* Writes agent.conf at path with every key the daemon requires (0644: it holds paths, not
 * secrets). A file there that join did not write is kept as path.old (*moved set). */
int join_conf_write(const char *path, const struct join_paths *p, const struct join_conf *c,
    bool *moved, char *err, size_t errlen);

/* join_if.c */

#define JOIN_IF_MISSING 1   /* join_if_key: no interface, and the kernel cannot make one */

/* The interface's WireGuard public key into pub. An interface without a private key gets
 * the one at wgkey_path, or a new one saved there first. A missing interface is made as a
 * kernel WireGuard link where the kernel has it (*made set). Returns 0, JOIN_IF_MISSING, or
 * -1 with err set. */
int join_if_key(const char *ifname, const char *wgkey_path, uint8_t pub[WG_KEY_LEN],
    bool *made, char *err, size_t errlen);
/* Gives ifname the tunnel addresses of id (IPv4 with prefix4, IPv6 with prefix6, so the
 * mesh routes through the interface) and sets it up. 0 or -1 with err set. */
int join_if_addresses(const char *ifname, const struct cert_identity *id, unsigned prefix4,
    unsigned prefix6, char *err, size_t errlen);

#endif
