/* The peerpath checks' fixture (test/peerpath_fx.h). */
#include "config.h"

#include <string.h>

#include <check.h>

#include "test/peerpath_fx.h"

static const enum peerpath_kind kinds3[] = { PEERPATH_KIND_LAN, PEERPATH_KIND_OBSERVED,
	PEERPATH_KIND_WAN };

void
fx_init(struct fx *f, size_t n, bool relay)
{
	struct peerpath_conf c = { .trial_timeout_s = TRIAL, .probe_timeout_s = PROBE,
		.probe_base_s = 5, .probe_cap_s = 320, .live_s = 180 };

	memset(f, 0, sizeof(*f));
	peerpath_init(&f->pp, &c);
	f->in.now_s = T0;
	f->in.n = n;
	f->in.kind = n > 0 ? kinds3 : NULL;
	f->in.list_gen = 1;
	f->in.relay = relay;
	f->in.at = PEERPATH_AT_NONE;
}

void
step_at(struct fx *f, int64_t t)
{
	int to;

	f->in.now_s = t;
	f->in.at_changed = !f->stepped || f->in.at != f->read_at;
	peerpath_step(&f->pp, &f->in, &f->out);
	f->read_at = f->in.at;
	f->stepped = true;
	switch (f->out.choice) {
	case PEERPATH_CHOICE_KEEP: to = f->in.at; break;
	case PEERPATH_CHOICE_NONE: to = PEERPATH_AT_NONE; break;
	case PEERPATH_CHOICE_RELAY: to = PEERPATH_AT_RELAY; break;
	default: to = f->out.choice; break;
	}
	if (f->out.rekey && to != f->in.at) {
		f->in.rx_bytes = 0;
		f->in.last_handshake_s = 0;
	}
	f->in.at = to;
}

void
assert_out(const struct fx *f, enum peerpath_state st, int choice, bool kick,
    const char *reason)
{
	ck_assert_msg(f->out.state == st, "state %s, want %s", peerpath_state_name(f->out.state),
	    peerpath_state_name(st));
	ck_assert_int_eq(f->out.choice, choice);
	ck_assert_msg(f->out.kick == kick, "kick %d, want %d", f->out.kick, kick);
	ck_assert_str_eq(f->out.reason, reason);
}

void
walk_to_relay(struct fx *f)
{
	step_at(f, T0);
	step_at(f, T0 + TRIAL);
	step_at(f, T0 + 2 * TRIAL);
	step_at(f, T0 + 3 * TRIAL);
	assert_out(f, PEERPATH_RELAY, PEERPATH_CHOICE_RELAY, true, "relay");
	ck_assert(f->out.rekey);
}

