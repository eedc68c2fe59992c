/* The hub (hub_interface) on the server's loop: the server's own WireGuard interface gets
 * every stored peer with a current certificate (its tunnel addresses as allowed IPs), at
 * start, after each commit that changed the peers and each minute (certificates expire
 * without a change); each second it reads the interface and publishes, through the
 * service, the endpoint each peer's packets come from as its observed_endpoint (hub.h says
 * when). Peers it did not add are left alone. */
#ifndef WS_HUB_IO_H
#define WS_HUB_IO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "rpc/loop.h"
#include "server/service.h"

struct hub_io;

/* Whether ifname can serve as the hub: a WireGuard interface (UAPI socket or kernel) with
 * a key and a listen port, whose key the server certificate cert (read from cert_path,
 * for messages) binds. Returns 0, or -1 with err naming hub_interface, the interface's key
 * and what to do. For -n and the start. */
int hub_io_check(const char *ifname, X509 *cert, const char *cert_path, char *err,
    size_t errlen);

/* hub_io_check, then the first sync of the interface's peers, then the commit hook and the
 * reads. svc is borrowed and must outlive the hub. Returns 0 and *out, or -1 with err. */
int hub_io_new(struct loop *l, struct service *svc, const char *ifname, X509 *cert,
    const char *cert_path, struct hub_io **out, char *err, size_t errlen);
/* Stops the timers (the interface keeps its peers); accepts NULL. */
void hub_io_del(struct hub_io *io);

/* The interface's listen port, as read at the start. */
uint16_t hub_io_port(const struct hub_io *io);

struct hub_io_stats {
	size_t peers;                 /* peers of the interface the hub added */
	uint64_t observed_changes;    /* observed_endpoint changes published */
};
void hub_io_stats_get(const struct hub_io *io, struct hub_io_stats *st);

#endif
