/* A peer's path: the walk over its direct candidates, the relay, probes back to direct.
 * States and transitions are described in peerpath.h. */
#include "config.h"

#include <string.h>

#include "agent/peerpath.h"

static const struct peerpath_conf defaults = {
	.trial_timeout_s = 15,
	.probe_timeout_s = 3,
	.probe_base_s = 5,
	.probe_cap_s = 300,
	.live_s = 180,
};

void
peerpath_init(struct peerpath *pp, const struct peerpath_conf *conf)
{
	memset(pp, 0, sizeof(*pp));
	pp->conf = conf != NULL ? *conf : defaults;
	if (pp->conf.trial_timeout_s == 0)
		pp->conf.trial_timeout_s = defaults.trial_timeout_s;
	if (pp->conf.probe_timeout_s == 0)
		pp->conf.probe_timeout_s = defaults.probe_timeout_s;
	if (pp->conf.probe_base_s == 0)
		pp->conf.probe_base_s = defaults.probe_base_s;
	if (pp->conf.probe_cap_s == 0)
		pp->conf.probe_cap_s = defaults.probe_cap_s;
	if (pp->conf.probe_cap_s < pp->conf.probe_base_s)
		pp->conf.probe_cap_s = pp->conf.probe_base_s;
	if (pp->conf.live_s == 0)
		pp->conf.live_s = defaults.live_s;
	pp->state = PEERPATH_IDLE;
	pp->backoff_s = pp->conf.probe_base_s;
}

const char *
peerpath_state_name(enum peerpath_state s)
{
	switch (s) {
	case PEERPATH_IDLE: return "idle";
	case PEERPATH_TRIAL: return "trial";
	case PEERPATH_DIRECT: return "direct";
	case PEERPATH_RELAY: return "relay";
	case PEERPATH_PROBE: return "probe";
	case PEERPATH_ROAMED: return "roamed";
	}
	return "?";
}

const char *
peerpath_kind_name(enum peerpath_kind k)
{
	switch (k) {
	case PEERPATH_KIND_LAN: return "lan";
	case PEERPATH_KIND_OBSERVED: return "observed";
	case PEERPATH_KIND_WAN: return "wan";
	}
	return "?";
}

static const char *
reason_of(const struct peerpath *pp, const struct peerpath_in *in)
{
	static const char *const trying[] = { "trying lan", "trying observed", "trying wan" };
	static const char *const probing[] = { "probing lan", "probing observed",
		"probing wan" };
	enum peerpath_kind k = PEERPATH_KIND_WAN;

	if (pp->idx < in->n && in->kind != NULL && (unsigned)in->kind[pp->idx] <= 2)
		k = in->kind[pp->idx];
	switch (pp->state) {
	case PEERPATH_TRIAL: return trying[k];
	case PEERPATH_DIRECT: return peerpath_kind_name(k);
	case PEERPATH_PROBE: return probing[k];
	case PEERPATH_RELAY: return "relay";
	case PEERPATH_ROAMED: return "roamed";
	case PEERPATH_IDLE: break;
	}
	return "-";
}

/* d within +-25%, from the caller's jitter */
static int64_t
jittered(uint32_t d, uint32_t jitter)
{
	return (int64_t)(d - d / 4) + (int64_t)(jitter % (d / 2 + 1));
}

/* Moves to state on candidate idx now, taking the evidence seen now as the baseline. */
static void
switch_to(struct peerpath *pp, enum peerpath_state state, size_t idx,
    const struct peerpath_in *in, bool *kick)
{
	pp->state = state;
	pp->idx = idx;
	pp->switched_s = in->now_s;
	pp->hs_at_switch = in->last_handshake_s;
	pp->rx_at_switch = in->rx_bytes;
	*kick = true;
}

static void
relay_enter(struct peerpath *pp, const struct peerpath_in *in, bool *kick)
{
	switch_to(pp, PEERPATH_RELAY, 0, in, kick);
	pp->probe_at_s = in->now_s + jittered(pp->backoff_s, in->jitter);
}

static void
restart(struct peerpath *pp, const struct peerpath_in *in, bool *kick)
{
	pp->n = in->n;
	pp->list_gen = in->list_gen;
	pp->backoff_s = pp->conf.probe_base_s;
	pp->probe_next = 0;
	if (in->n > 0) {
		switch_to(pp, PEERPATH_TRIAL, 0, in, kick);
	} else if (in->relay) {
		relay_enter(pp, in, kick);
	} else {
		pp->state = PEERPATH_IDLE;
		pp->idx = 0;
	}
}

/* A handshake newer than the switch's, or bytes received since: the current endpoint
 * carries the peer's packets. Never while WireGuard's endpoint is the relay. */
static bool
fresh(const struct peerpath *pp, const struct peerpath_in *in)
{
	if (in->via_relay)
		return false;
	if (in->live != NULL && pp->idx < in->n && in->live[pp->idx])
		return true;
	if (in->last_handshake_s != 0 && in->last_handshake_s > pp->hs_at_switch &&
	    in->last_handshake_s >= pp->switched_s)
		return true;
	return in->rx_bytes > pp->rx_at_switch;
}

/* DIRECT, ROAMED: takes new signs of life; false when the session is dead. */
static bool
alive(struct peerpath *pp, const struct peerpath_in *in)
{
	if (!in->via_relay) {
		if (in->last_handshake_s > pp->alive_s)
			pp->alive_s = in->last_handshake_s;
		if (in->rx_bytes > pp->rx_at_switch)
			pp->alive_s = in->now_s;
	}
	pp->rx_at_switch = in->rx_bytes;
	return in->now_s - pp->alive_s < (int64_t)pp->conf.live_s;
}

static void
confirm(struct peerpath *pp, const struct peerpath_in *in)
{
	pp->state = PEERPATH_DIRECT;
	pp->alive_s = in->now_s;
	pp->rx_at_switch = in->rx_bytes;
	pp->backoff_s = pp->conf.probe_base_s;
}

static void
step_trial(struct peerpath *pp, const struct peerpath_in *in, bool *kick)
{
	if (fresh(pp, in)) {
		confirm(pp, in);
		return;
	}
	if (in->now_s - pp->switched_s < (int64_t)pp->conf.trial_timeout_s)
		return;
	if (pp->idx + 1 < in->n)
		switch_to(pp, PEERPATH_TRIAL, pp->idx + 1, in, kick);
	else if (in->relay)
		relay_enter(pp, in, kick);
	else
		switch_to(pp, PEERPATH_TRIAL, 0, in, kick);
}

static void
step_relay(struct peerpath *pp, const struct peerpath_in *in, bool *kick)
{
	/* the peer's probe worked: WireGuard followed its packets off the relay */
	if (!in->via_relay && in->last_handshake_s != 0 &&
	    in->last_handshake_s > pp->hs_at_switch && in->last_handshake_s >= pp->switched_s) {
		pp->state = PEERPATH_ROAMED;
		pp->alive_s = in->last_handshake_s;
		pp->rx_at_switch = in->rx_bytes;
		pp->backoff_s = pp->conf.probe_base_s;
		return;
	}
	/* relayed traffic is no news: only a handshake from here on says the peer moved */
	pp->hs_at_switch = in->last_handshake_s > pp->hs_at_switch ? in->last_handshake_s :
	    pp->hs_at_switch;
	if (in->n == 0 || in->now_s < pp->probe_at_s)
		return;
	switch_to(pp, PEERPATH_PROBE, pp->probe_next % in->n, in, kick);
	pp->probe_next = (pp->idx + 1) % in->n;
}

static void
step_probe(struct peerpath *pp, const struct peerpath_in *in, bool *kick)
{
	uint32_t next;

	if (fresh(pp, in)) {
		confirm(pp, in);
		return;
	}
	if (in->now_s - pp->switched_s < (int64_t)pp->conf.probe_timeout_s)
		return;
	next = pp->backoff_s > pp->conf.probe_cap_s / 2 ? pp->conf.probe_cap_s :
	    pp->backoff_s * 2;
	pp->backoff_s = next;
	relay_enter(pp, in, kick);
}

static int64_t
next_of(const struct peerpath *pp)
{
	switch (pp->state) {
	case PEERPATH_TRIAL: return pp->switched_s + pp->conf.trial_timeout_s;
	case PEERPATH_PROBE: return pp->switched_s + pp->conf.probe_timeout_s;
	case PEERPATH_RELAY: return pp->n > 0 ? pp->probe_at_s : 0;
	case PEERPATH_DIRECT:
	case PEERPATH_ROAMED: return pp->alive_s + pp->conf.live_s;
	case PEERPATH_IDLE: break;
	}
	return 0;
}

void
peerpath_step(struct peerpath *pp, const struct peerpath_in *in, struct peerpath_out *out)
{
	bool kick = false;

	/* a counter that went back: the peer was re-added on the interface */
	if (in->rx_bytes < pp->rx_at_switch)
		pp->rx_at_switch = in->rx_bytes;
	if (!pp->started || in->list_gen != pp->list_gen || in->n != pp->n) {
		pp->started = true;
		restart(pp, in, &kick);
	} else {
		switch (pp->state) {
		case PEERPATH_IDLE:
			if (in->relay)
				restart(pp, in, &kick);
			break;
		case PEERPATH_TRIAL:
			step_trial(pp, in, &kick);
			break;
		case PEERPATH_DIRECT:
			if (!alive(pp, in))
				restart(pp, in, &kick);
			break;
		case PEERPATH_RELAY:
			if (!in->relay)
				restart(pp, in, &kick);
			else
				step_relay(pp, in, &kick);
			break;
		case PEERPATH_PROBE:
			if (!in->relay)
				restart(pp, in, &kick);
			else
				step_probe(pp, in, &kick);
			break;
		case PEERPATH_ROAMED:
			if (in->via_relay && in->relay)
				relay_enter(pp, in, &kick);
			else if (!alive(pp, in))
				restart(pp, in, &kick);
			break;
		}
	}
	memset(out, 0, sizeof(*out));
	out->state = pp->state;
	out->kick = kick;
	out->reason = reason_of(pp, in);
	out->next_s = next_of(pp);
	out->confirmed = pp->state == PEERPATH_DIRECT || pp->state == PEERPATH_ROAMED;
	switch (pp->state) {
	case PEERPATH_TRIAL:
	case PEERPATH_DIRECT:
	case PEERPATH_PROBE:
		out->choice = (int)pp->idx;
		break;
	case PEERPATH_RELAY:
		out->choice = PEERPATH_CHOICE_RELAY;
		break;
	case PEERPATH_ROAMED:
		out->choice = PEERPATH_CHOICE_KEEP;
		break;
	case PEERPATH_IDLE:
		out->choice = PEERPATH_CHOICE_NONE;
		break;
	}
}
