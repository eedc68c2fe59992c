/* The server's refusal of this host's own certificate (a TLS alert or a status that says it
 * is revoked or expired): no retry at seconds can fix that, only the operator can, so the
 * agent says so once at error level and tries again every few minutes. Pure but for
 * refusal_retry_delay's one log line. */
#ifndef WS_REFUSAL_H
#define WS_REFUSAL_H

#include <stdbool.h>
#include <stdint.h>

#define REFUSAL_RETRY_MS (5u * 60 * 1000)   /* between attempts while refused */

enum refusal_kind {
	REFUSAL_NONE,
	REFUSAL_REVOKED,        /* the CRL in force at the server lists our certificate */
	REFUSAL_EXPIRED,        /* the server finds our certificate out of its validity */
};

/* Caller-owned; zeroed storage is a host not refused. */
struct refusal {
	enum refusal_kind kind;
};

/* What a failed call's gRPC status and message ("UNAVAILABLE: TLS: ... alert certificate
 * revoked", a GOAWAY's "certificate revoked") say about our certificate. */
enum refusal_kind refusal_classify(int status, const char *message);

/* One call ended: status (GRPC_OK clears the refusal) and message; delay_ms is the next
 * delay of the caller's backoff. Returns the delay to wait before trying again: delay_ms,
 * or REFUSAL_RETRY_MS once a refusal was seen and until a call succeeds (a failure that
 * says nothing new, a reset in the handshake, keeps the refusal). *announce is set when
 * this call is the one that found the refusal. */
uint32_t refusal_next(struct refusal *r, int status, const char *message, uint32_t delay_ms,
    bool *announce);

/* refusal_next, and when it announces, the error line naming host (our certificate's CN)
 * and what the operator must do. */
uint32_t refusal_retry_delay(struct refusal *r, const char *host, int status,
    const char *message, uint32_t delay_ms);

/* A stream or call worked: the certificate is accepted again. */
void refusal_clear(struct refusal *r);

#endif
