/* TLS session ticket keys kept in a 0600 file, so that clients resume their sessions
 * across a server restart, and rotated: on a schedule, and at once (forgetting every old
 * key) when what a resumed session would skip -- certificate and CRL checks -- changed.
 * The file holds 80-byte records like nginx's ssl_session_ticket_key: a 16-byte name, a
 * 32-byte AES-256-CBC key and a 32-byte HMAC-SHA256 key. The first record encrypts new
 * tickets; the others only decrypt (and their tickets are renewed). */
#ifndef WS_TICKETS_H
#define WS_TICKETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#define TLS_TICKET_KEY_LEN 80
#define TLS_TICKET_KEYS_MAX 2   /* the current key and the one before it */

struct tls_tickets;

/* Loads the keys from path (creating it with a fresh key when it does not exist), rotates
 * them when the newest is older than rotate_s seconds, and makes ctx use them. The file
 * must be a regular file of whole records, not readable by group or others. Tickets live
 * 2 * rotate_s. Returns the keys (tls_tickets_free, after ctx is freed) or NULL with err
 * naming the file. */
struct tls_tickets *tls_tickets_open(SSL_CTX *ctx, const char *path, uint32_t rotate_s,
    char *err, size_t errlen);

/* Makes a new current key and writes the file. forget_old drops every older key, so no
 * earlier ticket resumes again. 0 or -errno with err set (the keys in use are unchanged). */
int tls_tickets_rotate(struct tls_tickets *t, bool forget_old, char *err, size_t errlen);

/* Milliseconds until the newest key is due for rotation (0: now). */
uint64_t tls_tickets_due_ms(const struct tls_tickets *t);

void tls_tickets_free(struct tls_tickets *t);

/* Keys a cluster shares (kept in its database, not a file): ctx starts on one key of its
 * own until tls_tickets_set hands it the shared ones, so that a session resumes on any
 * server. tls_tickets_rotate on such keys only changes them here. NULL with err. */
struct tls_tickets *tls_tickets_open_shared(SSL_CTX *ctx, uint32_t rotate_s, char *err,
    size_t errlen);
/* Installs n records (TLS_TICKET_KEY_LEN bytes each, newest first; past
 * TLS_TICKET_KEYS_MAX they are ignored) whose newest was made at created_s (wall time). 0,
 * or -EINVAL when n is 0. */
int tls_tickets_set(struct tls_tickets *t, const uint8_t *records, size_t n,
    int64_t created_s);
/* A fresh random record. 0 or -EIO. */
int tls_tickets_make(uint8_t out[TLS_TICKET_KEY_LEN]);

#endif
