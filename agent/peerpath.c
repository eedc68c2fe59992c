/* A peer's path: the walk over its direct candidates, the relay, probes back to direct.
 * States and transitions are described in peerpath.h. */
#include "config.h"

#include <string.h>

#include "agent/peerpath.h"

static const struct peerpath_conf defaults = {
	.trial_timeout_s = 15,
	.probe_timeout_s = 3,
	.probe_base_s = 5,
	.probe_cap_s = 320,
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
	/* base * 2^k, so that each back-off's probe grid is part of every shorter one's */
	{
		uint32_t cap = pp->conf.probe_base_s;
		while (cap <= pp->conf.probe_cap_s / 2)
			cap *= 2;
		pp->conf.probe_cap_s = cap;
	}
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

bool
peerpath_refresh_due(int64_t last_handshake_s, int64_t now_s, int64_t *at_s)
{
	*at_s = last_handshake_s > 0 ? last_handshake_s + PEERPATH_REFRESH_S : 0;
	return *at_s != 0 && now_s >= *at_s;
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

/* The first probe time after now on the grid of the current back-off (peerpath.h). */
static int64_t
probe_slot(const struct peerpath *pp, int64_t now, uint32_t jitter)
{
	int64_t b = pp->backoff_s, j = jitter % pp->conf.probe_cap_s;
	int64_t t = now + 1;

	return t + ((b - (t + j) % b) % b);
}

/* The candidate a probe at t tries: the same on both ends for the same t. */
static size_t
probe_pick(int64_t t, size_t n)
{
	uint64_t h = (uint64_t)t * 0x9e3779b97f4a7c15ull;

	return (size_t)((h >> 32) % n);
}

/* Moves to state on candidate idx now, writing a new endpoint. */
static void
switch_to(struct peerpath *pp, enum peerpath_state state, size_t idx,
    const struct peerpath_in *in, bool rekey, struct peerpath_out *out)
{
	pp->state = state;
	pp->idx = idx;
	pp->switched_s = in->now_s;
	out->kick = true;
	out->rekey = rekey;
}

static int64_t
lag_of(const struct peerpath_in *in)
{
	return in->later ? PEERPATH_LATER_S : 0;
}

static void
relay_enter(struct peerpath *pp, const struct peerpath_in *in, bool rekey,
    struct peerpath_out *out)
{
	int64_t lag = lag_of(in);

	switch_to(pp, PEERPATH_RELAY, 0, in, rekey, out);
	/* the later end keeps the slot the first end may still be about to probe */
	pp->probe_at_s = probe_slot(pp, in->now_s - lag, in->jitter) + lag;
}

static void
restart(struct peerpath *pp, const struct peerpath_in *in, bool rekey,
    struct peerpath_out *out)
{
	pp->n = in->n;
	pp->list_gen = in->list_gen;
	pp->backoff_s = pp->conf.probe_base_s;
	if (in->n > 0) {
		switch_to(pp, PEERPATH_TRIAL, 0, in, rekey, out);
	} else if (in->relay) {
		relay_enter(pp, in, rekey, out);
	} else {
		pp->state = PEERPATH_IDLE;
		pp->idx = 0;
	}
}

/* Where this step finds evidence (peerpath.h): a candidate index, PEERPATH_AT_OTHER, or
 * PEERPATH_AT_NONE for none (and for the relay's address). Takes the counters as the next
 * step's baseline. */
static int
evidence(struct peerpath *pp, const struct peerpath_in *in)
{
	int64_t hs = in->last_handshake_s;
	uint64_t rx = in->rx_bytes;
	bool ev;

	if (!pp->started) {
		/* the agent (re)started: a session WireGuard holds is taken while it lives */
		ev = hs > 0 && in->now_s - hs < (int64_t)pp->conf.live_s;
	} else if (rx < pp->seen_rx || hs < pp->seen_hs) {
		/* re-added since the last step: all it counted came after our write */
		ev = hs > 0 || rx > 0;
	} else {
		ev = hs > pp->seen_hs || (rx > pp->seen_rx && !in->at_changed);
	}
	/* on RELAY, only WireGuard moves the endpoint off the relay (peerpath.h) */
	if (pp->started && pp->state == PEERPATH_RELAY && in->now_s > pp->switched_s)
		ev = ev || in->at >= 0 || in->at == PEERPATH_AT_OTHER;
	pp->seen_hs = hs;
	pp->seen_rx = rx;
	if (!ev || in->at == PEERPATH_AT_RELAY || in->at == PEERPATH_AT_NONE)
		return PEERPATH_AT_NONE;
	if (in->at >= 0 && (size_t)in->at >= in->n)
		return PEERPATH_AT_OTHER;
	return in->at;
}

/* Evidence at ev (not PEERPATH_AT_NONE): that candidate is the path, or the roamed address. */
static void
confirm(struct peerpath *pp, const struct peerpath_in *in, int ev)
{
	pp->state = ev >= 0 ? PEERPATH_DIRECT : PEERPATH_ROAMED;
	if (ev >= 0)
		pp->idx = (size_t)ev;
	pp->alive_s = in->now_s;
	pp->backoff_s = pp->conf.probe_base_s;
}

/* TRIAL, PROBE: evidence that ends the trial. At a candidate after the one on trial it
 * does not: the preferred one is tried first (the peer may still send from the path both
 * ends are leaving, as when a LAN address appears). */
static bool
ends_trial(const struct peerpath *pp, int ev)
{
	return ev == PEERPATH_AT_OTHER || (ev >= 0 && (size_t)ev <= pp->idx);
}

static void
step_trial(struct peerpath *pp, const struct peerpath_in *in, int ev,
    struct peerpath_out *out)
{
	if (ends_trial(pp, ev)) {
		confirm(pp, in, ev);
		return;
	}
	if (in->now_s - pp->switched_s < (int64_t)pp->conf.trial_timeout_s)
		return;
	if (pp->idx + 1 < in->n)
		switch_to(pp, PEERPATH_TRIAL, pp->idx + 1, in, true, out);
	else if (in->relay)
		relay_enter(pp, in, true, out);
	else
		switch_to(pp, PEERPATH_TRIAL, 0, in, true, out);
}

static void
step_relay(struct peerpath *pp, const struct peerpath_in *in, int ev,
    struct peerpath_out *out)
{
	/* the peer's probe worked: WireGuard followed its packets off the relay */
	if (ev != PEERPATH_AT_NONE) {
		confirm(pp, in, ev);
		return;
	}
	if (in->n == 0 || in->now_s < pp->probe_at_s)
		return;
	switch_to(pp, PEERPATH_PROBE, probe_pick(pp->probe_at_s - lag_of(in), in->n), in, true,
	    out);
}

static void
step_probe(struct peerpath *pp, const struct peerpath_in *in, int ev,
    struct peerpath_out *out)
{
	if (ends_trial(pp, ev)) {
		confirm(pp, in, ev);
		return;
	}
	if (in->now_s - pp->switched_s < (int64_t)pp->conf.probe_timeout_s)
		return;
	if (pp->backoff_s < pp->conf.probe_cap_s)
		pp->backoff_s *= 2;
	relay_enter(pp, in, true, out);
}

/* DIRECT, ROAMED: takes the evidence; false when the session is dead. */
static bool
alive(struct peerpath *pp, const struct peerpath_in *in, int ev)
{
	if (ev != PEERPATH_AT_NONE) {
		/* WireGuard follows the peer to no candidate, or to a preferred one: that is
		 * the path; to a candidate after ours, the session lives but ours stays */
		if (ev == PEERPATH_AT_OTHER) {
			pp->state = PEERPATH_ROAMED;
		} else if (pp->state == PEERPATH_ROAMED || (size_t)ev < pp->idx) {
			pp->state = PEERPATH_DIRECT;
			pp->idx = (size_t)ev;
		}
		pp->alive_s = in->now_s;
	}
	return in->now_s - pp->alive_s < (int64_t)pp->conf.live_s;
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
	int ev;

	memset(out, 0, sizeof(*out));
	ev = evidence(pp, in);
	if (!pp->started || in->list_gen != pp->list_gen || in->n != pp->n) {
		bool first = !pp->started;

		pp->started = true;
		if (!first && (pp->state == PEERPATH_DIRECT || pp->state == PEERPATH_ROAMED) &&
		    in->n > 0 && in->at == 0) {
			/* the working path heads the new list: nothing to try */
			pp->n = in->n;
			pp->list_gen = in->list_gen;
			pp->state = PEERPATH_DIRECT;
			pp->idx = 0;
		} else if (!first && pp->state == PEERPATH_ROAMED && in->at == PEERPATH_AT_OTHER) {
			/* WireGuard follows the peer where no candidate, old or new, names */
			pp->n = in->n;
			pp->list_gen = in->list_gen;
		} else {
			/* the walk with handshakes: an idle tunnel answers nothing else, and only
			 * a handshake says a new candidate works */
			restart(pp, in, true, out);
			/* the agent (re)started on a tunnel that works: keep it */
			if (first && ev != PEERPATH_AT_NONE && pp->state != PEERPATH_IDLE)
				confirm(pp, in, ev);
		}
	} else {
		switch (pp->state) {
		case PEERPATH_IDLE:
			if (in->relay)
				restart(pp, in, true, out);
			break;
		case PEERPATH_TRIAL:
			step_trial(pp, in, ev, out);
			break;
		case PEERPATH_DIRECT:
			if (!alive(pp, in, ev))
				restart(pp, in, false, out);
			break;
		case PEERPATH_RELAY:
			if (!in->relay)
				restart(pp, in, true, out);
			else
				step_relay(pp, in, ev, out);
			break;
		case PEERPATH_PROBE:
			if (!in->relay)
				restart(pp, in, true, out);
			else
				step_probe(pp, in, ev, out);
			break;
		case PEERPATH_ROAMED:
			if (in->at == PEERPATH_AT_RELAY && in->relay)
				relay_enter(pp, in, false, out);
			else if (!alive(pp, in, ev))
				restart(pp, in, false, out);
			break;
		}
	}
	out->state = pp->state;
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
