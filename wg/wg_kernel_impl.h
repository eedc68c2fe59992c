/* The kernel backend's private parts, shared by wg_kernel_nlmsg.c (the messages) and
 * wg_kernel.c (the socket). Not for other modules. */
#ifndef WS_WG_KERNEL_IMPL_H
#define WS_WG_KERNEL_IMPL_H

#include "wg/wg.h"

/* Whether dev can be set at all: an ifname, at most WG_PEERS_MAX peers (else -E2BIG),
 * endpoints and allowed IPs of family AF_INET or AF_INET6, at most WG_ALLOWED_MAX allowed
 * IPs a peer (else -EINVAL). Returns 0 or that negative errno. */
int wg_kernel_check_set(const struct wg_device *dev);

#endif
