/* The pairing policy in the server: which peers a host is shown (Watch, Keys, GetPeer).
 * The agents enforce the same policy themselves; this only keeps them from hearing of
 * hosts they may not pair with. */
#ifndef WS_PAIRING_H
#define WS_PAIRING_H

#include <stdbool.h>

#include "common/cert.h"
#include "server/policyset.h"
#include "server/store.h"

/* Whether viewer (a connection's identity) may see p, of the same network, under ps (NULL:
 * no policy, everyone). An admin certificate sees every peer. */
bool pairing_visible(const struct policyset *ps, const struct cert_identity *viewer,
    const struct peer *p);

/* Whether stored peers a and b (of one network) pair under ps; *rule (may be NULL) gets
 * the index of the rule that pairs them, -1 when none does or there is no policy. */
bool pairing_peers(const struct policyset *ps, const struct peer *a, const struct peer *b,
    int *rule);

/* Fills p's groups from its certificate, or from old (may be NULL) when that holds the very
 * same certificate, so an Update does not parse it again. A certificate that does not
 * parse gives no groups. peer_table_put calls it for every record it takes. */
void pairing_peer_groups(struct peer *p, const struct peer *old);

#endif
