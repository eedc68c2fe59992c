/* Telling a refused certificate from a server that is merely away. */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "agent/refusal.h"
#include "rpc/grpc.h"
#include "rpc/log.h"

enum refusal_kind
refusal_classify(int status, const char *message)
{
	if (status == GRPC_OK || message == NULL)
		return REFUSAL_NONE;
	/* OpenSSL's alert texts ("sslv3 alert certificate revoked") and the server's own
	 * words when it closes a connection whose certificate the new CRL revokes */
	if (strstr(message, "alert certificate revoked") != NULL ||
	    strstr(message, "certificate revoked") != NULL ||
	    strstr(message, "certificate is revoked") != NULL)
		return REFUSAL_REVOKED;
	if (strstr(message, "alert certificate expired") != NULL ||
	    strstr(message, "certificate has expired") != NULL)
		return REFUSAL_EXPIRED;
	return REFUSAL_NONE;
}

uint32_t
refusal_next(struct refusal *r, int status, const char *message, uint32_t delay_ms,
    bool *announce)
{
	enum refusal_kind k = refusal_classify(status, message);

	*announce = false;
	if (status == GRPC_OK) {
		r->kind = REFUSAL_NONE;
		return delay_ms;
	}
	if (k != REFUSAL_NONE && k != r->kind) {
		r->kind = k;
		*announce = true;
	}
	return r->kind != REFUSAL_NONE && delay_ms < REFUSAL_RETRY_MS ? REFUSAL_RETRY_MS :
	    delay_ms;
}

uint32_t
refusal_retry_delay(struct refusal *r, const char *host, int status, const char *message,
    uint32_t delay_ms)
{
	bool announce;
	uint32_t d = refusal_next(r, status, message, delay_ms, &announce);

	if (!announce)
		return d;
	if (r->kind == REFUSAL_REVOKED)
		log_errorx("this host's certificate (\"%s\") is revoked by the CA: the server "
		    "refuses it; ask the operator for a new certificate (wiresync-ca agent %s "
		    "...) and restart the agent with it; trying again every %u minutes", host,
		    host, REFUSAL_RETRY_MS / 60000);
	else
		log_errorx("this host's certificate (\"%s\") has expired or is not valid yet as "
		    "the server sees it: ask the operator for a new certificate (wiresync-ca "
		    "agent %s ...), or check this host's clock; trying again every %u minutes",
		    host, host, REFUSAL_RETRY_MS / 60000);
	return d;
}

void
refusal_clear(struct refusal *r)
{
	r->kind = REFUSAL_NONE;
}
