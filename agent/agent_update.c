/* The agent's side of the connection: Update reports of this host (its listen port and LAN)
 * and their retries, the Watch stream's state and restarts, and network changes, which
 * start both again. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "agent/agent_impl.h"
#include "agent/netmon.h"
#include "agent/refusal.h"
#include "wg/wg.h"
#include "common/netaddr.h"
#include "common/watch.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/backoff.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "rpc/log.h"

static void send_update(struct agent *a);

static void
on_state(void *arg, bool connected, const char *why)
{
	struct agent *a = arg;

	/* common/watch.c logs the stream's end and the retry, agent_server.c a move */
	(void)why;
	if (connected) {
		agent_server_up(a, a->watch_gen);
		refusal_clear(&a->refusal);
		/* the server may see us from a new address after a reconnect */
		send_update(a);
	}
}

static void drop_update_client(struct agent *a);

/* The Watch stream ended: a server that is away is left for the next one (the stream
 * resumes there from the revision applied), and the other connections follow it. */
static uint32_t
watch_retry_delay(void *arg, int status, const char *why, uint32_t delay_ms)
{
	struct agent *a = arg;
	struct watch_client_config wc = { 0 };
	uint32_t d = refusal_retry_delay(&a->refusal, a->self.name, status, why, delay_ms);
	uint32_t next_ms;

	if (!agent_server_failed(a, a->watch_gen, status, why, &next_ms))
		return d;
	agent_server_watch_config(a, &wc);
	if (watch_client_set_server(a->watch, wc.server, wc.addr, wc.addrlen) < 0)
		log_warnx("cannot move the Watch stream to %s (out of memory)", wc.server);
	/* made again on the new server when it is used next */
	drop_update_client(a);
	return next_ms;
}

/* --- reporting -------------------------------------------------------------------------- */

static void update_retry(void *arg);

static void
update_reply(void *arg, const uint8_t *data, size_t len)
{
	struct agent *a = arg;
	Wiresync__V1__UpdateReply *r = wiresync__v1__update_reply__unpack(NULL, len, data);

	if (r == NULL)
		return;
	log_info("reported to the server: revision %llu, seen from %s",
	    (unsigned long long)r->revision, r->observed_wan_ip);
	/* which peers share our public address (our NAT) can change the endpoints */
	if (strcmp(a->wan_ip, r->observed_wan_ip) != 0) {
		snprintf(a->wan_ip, sizeof(a->wan_ip), "%s", r->observed_wan_ip);
		agent_reconcile_soon(a);
	}
	/* the relay and the hub, at the address this connection reached */
	if (agent_paths_from_reply(a, a->update_client, r))
		agent_reconcile_soon(a);
	wiresync__v1__update_reply__free_unpacked(r, NULL);
}

static void
update_done(void *arg, int status, const char *message)
{
	struct agent *a = arg;

	a->update_inflight = false;
	if (a->stopping)
		return;
	if (status != GRPC_OK) {
		uint32_t delay = refusal_retry_delay(&a->refusal, a->self.name, status, message,
		    backoff_next(&a->update_backoff));
		/* the connection may be stranded on an address we no longer have */
		drop_update_client(a);
		log_warnx("Update failed: %s: %s; retrying in %u ms", grpc_status_name(status),
		    message, delay);
		loop_timer_set(a->loop, &a->update_retry, delay, update_retry, a);
		return;
	}
	backoff_reset(&a->update_backoff);
	refusal_clear(&a->refusal);
	if (a->update_again) {
		a->update_again = false;
		send_update(a);
	}
}

static void
drop_update_client_deferred(void *arg)
{
	struct agent *a = arg;

	rpc_client_del(a->stale_client);
	a->stale_client = NULL;
}

/* Never freed from inside its own callback: handed to the end of the loop turn. */
static void
drop_update_client(struct agent *a)
{
	if (a->update_client == NULL)
		return;
	rpc_client_del(a->stale_client);
	a->stale_client = a->update_client;
	a->update_client = NULL;
	loop_defer(a->loop, &a->stale_defer, drop_update_client_deferred, a);
}

static void
update_retry(void *arg)
{
	send_update(arg);
}

static void
send_update(struct agent *a)
{
	static const struct rpc_client_cb cb = { .on_message = update_reply, .on_done = update_done };
	Wiresync__V1__UpdateRequest m = WIRESYNC__V1__UPDATE_REQUEST__INIT;
	struct wg_device *dev = NULL;
	char text[NETMON_LAN_MAX][NETADDR_STRLEN], *lans[NETMON_LAN_MAX];
	uint8_t buf[1024];
	size_t len;
	int r;

	if (a->update_inflight) {
		a->update_again = true;
		return;
	}
	loop_timer_cancel(a->loop, &a->update_retry);
	r = wg_device_get(a->backend, a->conf->interface, &dev);
	if (r < 0) {
		log_warnx("%s: cannot read the interface: %s", a->conf->interface, strerror(-r));
		loop_timer_set(a->loop, &a->update_retry, backoff_next(&a->update_backoff),
		    update_retry, a);
		return;
	}
	m.public_key.data = a->self.key;
	m.public_key.len = WG_KEY_LEN;
	m.listen_port = dev->listen_port;
	wg_device_free(dev);
	if (a->net_valid && a->net.has_default) {
		for (size_t i = 0; i < a->net.n_lan; i++)
			lans[i] = netaddr_format(&a->net.lan[i], true, text[i]);
		m.n_lan_ips = a->net.n_lan;
		m.lan_ips = lans;
		if (a->net.has_gateway_mac) {
			m.lan_id.data = a->net.gateway_mac;
			m.lan_id.len = 6;
		}
	}
	len = wiresync__v1__update_request__get_packed_size(&m);
	if (len > sizeof(buf))
		return;
	wiresync__v1__update_request__pack(&m, buf);
	if (a->update_client == NULL || !rpc_client_alive(a->update_client) ||
	    a->update_gen != a->servers.gen) {
		drop_update_client(a);
		a->update_client = agent_server_client(a, &a->update_gen);
		if (a->update_client == NULL)
			return;
	}
	if (rpc_client_call(a->update_client, "/wiresync.v1.WireSync/Update", buf, len,
	    UPDATE_TIMEOUT_MS, &cb, a) != NULL)
		a->update_inflight = true;
}

/* --- network changes -------------------------------------------------------------------- */

const struct watch_client_ops agent_watch_ops = {
	.on_snapshot = agent_on_snapshot, .on_upsert = agent_on_upsert,
	.on_removed = agent_on_removed, .on_crl = agent_on_crl, .on_policy = agent_on_policy,
	.on_state = on_state,
	.retry_delay = watch_retry_delay,
};

static void
restart_watch(struct agent *a)
{
	struct watch_client_config wc = { .crl_sha256 = a->crl_sha256,
	    .keepalive_ms = a->conf->server_keepalive_s * 1000 };
	struct watch_client *w;

	agent_server_watch_config(a, &wc);
	wc.since_revision = watch_client_revision(a->watch);
	wc.policy_sha256 = policyhold_sha256(&a->policy);
	w = watch_client_new(a->loop, a->ctx, &wc, &agent_watch_ops, a);
	if (w == NULL) {
		log_warn("cannot restart the Watch stream");
		return;
	}
	watch_client_del(a->watch);
	a->watch = w;
}

void
agent_net_settled(void *arg)
{
	struct agent *a = arg;
	struct net_state now;
	char gw[NETADDR_STRLEN];

	if (netmon_read(a->netmon, &now) < 0)
		return;
	if (a->net_valid && net_state_equal(&now, &a->net))
		return;
	/* WireGuard keeps sending from a source address we may no longer have until an
	 * endpoint is set again */
	a->rewrite = a->net_valid;
	a->net = now;
	a->net_valid = true;
	if (now.has_default)
		log_info("network: default route via %s on %s, gateway MAC %s, %zu LAN addresses",
		    netaddr_format(&now.gateway, false, gw), now.ifname,
		    now.has_gateway_mac ? "known" : "not yet known", now.n_lan);
	else
		log_info("network: no default route; reporting no LAN");
	if (a->watch != NULL) {
		/* our address may have changed: connections bound to the old one would hang */
		drop_update_client(a);
		restart_watch(a);
	}
	send_update(a);
	agent_reconcile_soon(a);
}

void
agent_net_changed(void *arg)
{
	struct agent *a = arg;

	loop_timer_set(a->loop, &a->debounce, a->conf->debounce_ms, agent_net_settled, a);
}

void
agent_reconnect(struct agent *a)
{
	drop_update_client(a);
	if (a->watch != NULL)
		restart_watch(a);
	send_update(a);
}
