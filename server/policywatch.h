/* `policy = PATH[, PATH]...`: the pairing policies loaded at start, and again whenever one
 * of the files is replaced (wiresync-ca policy writes it) or on SIGHUP. A file that does
 * not verify, or would take a network back to an older version, leaves the policies in
 * force as they are, and says why in the log. */
#ifndef WS_POLICYWATCH_H
#define WS_POLICYWATCH_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "rpc/loop.h"
#include "server/service.h"

struct policywatch;

/* Loads paths (verified against the CAs of ctx's trust store), puts them in force in svc
 * and watches the files. Every argument is borrowed and must outlive the watch. Returns
 * the watch (policywatch_del), or NULL with err naming the file at fault. */
struct policywatch *policywatch_new(struct loop *l, struct service *svc, SSL_CTX *ctx,
    const char *paths, char *err, size_t errlen);
/* Loads the files again now (why names the cause in the log). */
void policywatch_reload(struct policywatch *pw, const char *why);
/* Accepts NULL. */
void policywatch_del(struct policywatch *pw);

#endif
