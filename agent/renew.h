/* The pure parts of certificate renewal (issue 13): when to ask, how long to wait between
 * polls while the operator has not approved, and whether the certificate the server sent
 * keeps everything the current one binds. No I/O; agent/agent_renew.c does the calls. */
#ifndef WS_RENEW_H
#define WS_RENEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cert.h"

#define RENEW_POLL_BASE_MS 1000      /* first poll ceiling while WAITING */
#define RENEW_POLL_CAP_MS 300000     /* largest: 5 minutes */

/* When a certificate valid from not_before to not_after (seconds since the epoch) is
 * renewed: at two thirds of its lifetime, so a third is left for an operator to approve.
 * A lifetime of 0 or less (unreadable times) gives not_after. */
int64_t renew_due(int64_t not_before, int64_t not_after);

/* The largest poll delay at now while the certificate expiring at not_after waits for
 * approval: RENEW_POLL_CAP_MS, or a tenth of what is left when that is shorter (never under
 * RENEW_POLL_BASE_MS), so an approval is fetched well before the old one expires. */
uint32_t renew_poll_cap_ms(int64_t now, int64_t not_after);

/* Whether got (the renewed certificate) binds what cur did: name, network, WireGuard key,
 * exactly the same tunnel addresses and groups (in any order). false with err naming
 * the first that differs. */
bool renew_same_identity(const struct cert_identity *cur, const struct cert_identity *got,
    char *err, size_t errlen);

#endif
