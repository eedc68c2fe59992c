/* The link report's entries and its timing (agent/linkreport.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/linkreport.h"

void
linkreport_init(struct linkreport *lr)
{
	memset(lr, 0, sizeof(*lr));
	lr->min_interval_s = LINKREPORT_MIN_S;
}

void
linkreport_free(struct linkreport *lr)
{
	if (lr == NULL)
		return;
	free(lr->built);
	free(lr->sent);
	linkreport_init(lr);
}

static bool
is_up(const struct linkreport_in *in, int64_t now_s)
{
	return !in->refused && in->last_handshake_s > 0 &&
	    now_s - in->last_handshake_s <= LINKREPORT_UP_S;
}

static int64_t
stall_s(unsigned keepalive_s)
{
	return (int64_t)LINKREPORT_STALL_MUL * keepalive_s + LINKREPORT_STALL_SLACK_S;
}

/* Since when rx_bytes has stood still (watched under the same keepalive), from was. */
static int64_t
rx_since(const struct linkreport_in *in, const struct linkreport_entry *was, int64_t now_s)
{
	if (was == NULL || was->rx_since_s == 0 || was->rx_bytes != in->rx_bytes ||
	    was->keepalive_s != in->keepalive_s)
		return now_s;
	return was->rx_since_s;
}

/* A handshake recent enough, but nothing received for longer than the keepalive allows. */
static bool
stalled(const struct linkreport_in *in, int64_t rx_since_s, int64_t now_s)
{
	return in->keepalive_s > 0 && now_s - rx_since_s > stall_s(in->keepalive_s);
}

/* "45 s", "2 min", "3 h": how long, as people say it. */
static void
span(int64_t s, char *buf, size_t len)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(buf, len, "%lld s", (long long)s);
	else if (s < 2 * 3600)
		snprintf(buf, len, "%lld min", (long long)(s / 60));
	else
		snprintf(buf, len, "%lld h", (long long)(s / 3600));
}

void
linkreport_reason(const struct linkreport_in *in, int64_t now_s, int64_t down_since_s,
    char *buf, size_t len)
{
	char d[32];

	span(now_s - down_since_s, d, sizeof(d));
	if (in->refused)
		snprintf(buf, len, "not paired by policy");
	else if (is_up(in, now_s))
		snprintf(buf, len, "%s", "");
	else if (!in->online)
		snprintf(buf, len, "peer offline (not connected to the server) for %s", d);
	else if (in->n_cands == 0 && !in->relay)
		snprintf(buf, len, "no address known");
	else if (in->state == PEERPATH_RELAY || in->state == PEERPATH_PROBE)
		snprintf(buf, len, "no handshake on any of %zu candidates nor over the relay "
		    "for %s", in->n_cands, d);
	else if (in->n_cands == 0)
		snprintf(buf, len, "no address known; no handshake over the relay for %s", d);
	else if (in->state == PEERPATH_DIRECT || in->state == PEERPATH_ROAMED)
		/* the path machine has not yet given up on the path it had */
		snprintf(buf, len, "no handshake on the %s path for %s", in->state ==
		    PEERPATH_DIRECT && in->has_kind ? peerpath_kind_name(in->kind) : "roamed", d);
	else
		snprintf(buf, len, "no handshake on any of %zu candidate%s for %s", in->n_cands,
		    in->n_cands == 1 ? "" : "s", d);
}

static const char *
path_of(const struct linkreport_in *in)
{
	switch (in->state) {
	case PEERPATH_TRIAL:
	case PEERPATH_DIRECT:
		return in->has_kind ? peerpath_kind_name(in->kind) : "";
	case PEERPATH_ROAMED:
		/* WireGuard follows the peer at its mapping toward us */
		return "observed";
	case PEERPATH_RELAY:
	case PEERPATH_PROBE:
		return "relay";
	case PEERPATH_IDLE:
		break;
	}
	return "";
}

static int
by_key(const void *x, const void *y)
{
	return memcmp(((const struct linkreport_entry *)x)->key,
	    ((const struct linkreport_entry *)y)->key, 32);
}

static const struct linkreport_entry *
find(const struct linkreport_entry *v, size_t n, const uint8_t key[32])
{
	struct linkreport_entry k;

	if (n == 0)
		return NULL;
	memcpy(k.key, key, 32);
	return bsearch(&k, v, n, sizeof(*v), by_key);
}

int
linkreport_build(struct linkreport *lr, const struct linkreport_in *in, size_t n,
    int64_t now_s, struct linkreport_entry **out)
{
	struct linkreport_entry *v, *copy;

	*out = NULL;
	if (n > LINKREPORT_MAX)
		n = LINKREPORT_MAX;
	v = calloc(n > 0 ? n : 1, sizeof(*v));
	copy = calloc(n > 0 ? n : 1, sizeof(*copy));
	if (v == NULL || copy == NULL) {
		free(v);
		free(copy);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		const struct linkreport_entry *was = find(lr->built, lr->n_built, in[i].key);
		struct linkreport_entry *e = &v[i];
		bool stall;

		memcpy(e->key, in[i].key, 32);
		e->rx_since_s = rx_since(&in[i], was, now_s);
		e->keepalive_s = in[i].keepalive_s;
		stall = is_up(&in[i], now_s) && stalled(&in[i], e->rx_since_s, now_s);
		e->up = is_up(&in[i], now_s) && !stall;
		if (e->up)
			snprintf(e->path, sizeof(e->path), "%s", path_of(&in[i]));
		snprintf(e->endpoint, sizeof(e->endpoint), "%s", in[i].endpoint != NULL ?
		    in[i].endpoint : "");
		e->last_handshake_ms = in[i].last_handshake_s * 1000;
		e->rx_bytes = in[i].rx_bytes;
		e->tx_bytes = in[i].tx_bytes;
		if (!e->up) {
			/* down since it was last seen up, or since the handshake went stale */
			e->down_since_s = was != NULL && !was->up ? was->down_since_s : now_s;
			if (in[i].last_handshake_s > 0 && in[i].last_handshake_s +
			    LINKREPORT_UP_S < e->down_since_s)
				e->down_since_s = in[i].last_handshake_s + LINKREPORT_UP_S;
			if (stall)
				/* the handshake is recent: what tells is the silence */
				snprintf(e->down_reason, sizeof(e->down_reason), "nothing received "
				    "for %lld s (keepalive %u s)", (long long)(now_s - e->rx_since_s),
				    in[i].keepalive_s);
			else
				linkreport_reason(&in[i], now_s, e->down_since_s, e->down_reason,
				    sizeof(e->down_reason));
		}
	}
	qsort(v, n, sizeof(*v), by_key);
	memcpy(copy, v, n * sizeof(*v));
	free(lr->built);
	lr->built = copy;
	lr->n_built = n;
	*out = v;
	return (int)n;
}

/* Whether built differs from sent in what counts: the peers, their path, endpoint, up. */
static bool
changed(const struct linkreport *lr)
{
	if (!lr->ever_sent || lr->n_built != lr->n_sent)
		return true;
	for (size_t i = 0; i < lr->n_built; i++) {
		const struct linkreport_entry *b = &lr->built[i], *s = &lr->sent[i];
		if (memcmp(b->key, s->key, 32) != 0 || b->up != s->up ||
		    strcmp(b->path, s->path) != 0 || strcmp(b->endpoint, s->endpoint) != 0)
			return true;
		/* a rekey (every 2 min on a live tunnel) after a long gap: the server judges
		 * "up" by the handshake's age, and the one it has is getting old */
		if (b->last_handshake_ms - s->last_handshake_ms >= LINKREPORT_HS_GAP_S * 1000)
			return true;
	}
	return false;
}

bool
linkreport_due(const struct linkreport *lr, int64_t now_s, int64_t *next_s)
{
	int64_t at;

	if (lr->attempted_s == 0) {
		*next_s = now_s;
		return true;
	}
	at = lr->attempted_s + (changed(lr) ? lr->min_interval_s : LINKREPORT_EVERY_S);
	*next_s = at;
	return now_s >= at;
}

void
linkreport_attempted(struct linkreport *lr, int64_t now_s)
{
	lr->attempted_s = now_s;
}

int
linkreport_sent(struct linkreport *lr, uint32_t min_interval_s)
{
	struct linkreport_entry *s = calloc(lr->n_built > 0 ? lr->n_built : 1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	memcpy(s, lr->built, lr->n_built * sizeof(*s));
	free(lr->sent);
	lr->sent = s;
	lr->n_sent = lr->n_built;
	lr->ever_sent = true;
	if (min_interval_s > 0)
		lr->min_interval_s = min_interval_s > 3600 ? 3600 : min_interval_s;
	return 0;
}
