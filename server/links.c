/* Link health (server/links.h): WireSync.ReportLinks, each host's latest report in memory
 * and in the store, and the pairs made of the two ends' reports. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/links.h"
#include "server/peers.h"
#include "server/service_impl.h"

const char *const links_path_names[LINKS_PATHS] = {
	"lan", "wan", "observed", "relay", "mixed", ""
};

struct reporter {
	uint8_t key[WG_KEY_LEN];
	uint64_t accepted_ms;        /* monotonic: the rate limit */
	struct store_link *rows;     /* sorted by peer key */
	size_t n;
};

struct links {
	struct service *svc;
	struct store *st;
	uint32_t up_window_s;
	struct reporter *r;          /* sorted by key */
	size_t n, cap;
	void (*observer)(void *);    /* a report changed an end's up/down (links_set_observer) */
	void *observer_arg;
};

static bool end_up(const struct store_link *row, int64_t now_ms, uint32_t window_s);
static const struct store_link *row_about(const struct reporter *r,
    const uint8_t peer[WG_KEY_LEN]);

void
links_set_observer(struct links *l, void (*fn)(void *), void *arg)
{
	if (l == NULL)
		return;
	l->observer = fn;
	l->observer_arg = arg;
}

/* Whether rows[0..n) (sorted) differ from r's in an end's up/down or in the peers named. */
static bool
ups_changed(const struct links *l, const struct reporter *r, const struct store_link *rows,
    size_t n, int64_t now_ms)
{
	if (r == NULL || r->n != n)
		return true;
	for (size_t i = 0; i < n; i++) {
		const struct store_link *was = row_about(r, rows[i].peer);
		if (was == NULL || end_up(was, now_ms, l->up_window_s) !=
		    end_up(&rows[i], now_ms, l->up_window_s))
			return true;
	}
	return false;
}

int64_t
links_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint32_t
links_up_window_s(const struct links *l)
{
	return l->up_window_s;
}

const struct links *
service_links(const struct service *svc)
{
	return svc != NULL ? svc->links : NULL;
}

/* --- the table of reporters ------------------------------------------------------------ */

static int
key_cmp(const void *x, const void *y)
{
	return memcmp(x, y, WG_KEY_LEN);
}

static struct reporter *
reporter_find(const struct links *l, const uint8_t key[WG_KEY_LEN], size_t *at)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(l->r[mid].key, key, WG_KEY_LEN);
		if (c == 0) {
			if (at != NULL)
				*at = mid;
			return &l->r[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (at != NULL)
		*at = lo;
	return NULL;
}

static struct reporter *
reporter_get(struct links *l, const uint8_t key[WG_KEY_LEN])
{
	size_t at;
	struct reporter *r = reporter_find(l, key, &at);

	if (r != NULL)
		return r;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct reporter *v = realloc(l->r, cap * sizeof(*v));
		if (v == NULL)
			return NULL;
		l->r = v;
		l->cap = cap;
	}
	memmove(&l->r[at + 1], &l->r[at], (l->n - at) * sizeof(*l->r));
	l->n++;
	r = &l->r[at];
	memset(r, 0, sizeof(*r));
	memcpy(r->key, key, WG_KEY_LEN);
	return r;
}

static void
reporter_drop(struct links *l, size_t at)
{
	free(l->r[at].rows);
	memmove(&l->r[at], &l->r[at + 1], (l->n - at - 1) * sizeof(*l->r));
	l->n--;
}

/* Loading: rows come by reporter, then peer: appended in order. */
static int
load_row(const struct store_link *row, void *arg)
{
	struct links *l = arg;
	struct reporter *r = reporter_get(l, row->reporter);
	struct store_link *v;

	if (r == NULL || (v = realloc(r->rows, (r->n + 1) * sizeof(*v))) == NULL)
		return -ENOMEM;
	r->rows = v;
	r->rows[r->n++] = *row;
	return 0;
}

void
links_after_commit(struct links *l)
{
	if (l == NULL)
		return;
	for (size_t i = l->n; i-- > 0;) {
		if (service_peer_get(l->svc, l->r[i].key) != NULL)
			continue;
		if (store_links_drop(l->st, l->r[i].key) < 0)
			continue;   /* logged; tried again at the next commit */
		reporter_drop(l, i);
	}
}

struct links *
links_new(struct service *svc, struct store *st, uint32_t up_window_s, char *err,
    size_t errlen)
{
	struct links *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	l->svc = svc;
	l->st = st;
	l->up_window_s = up_window_s > 0 ? up_window_s : LINKS_UP_WINDOW_S;
	if (store_links_foreach(st, load_row, l) != 0) {
		snprintf(err, errlen, "cannot load link health from the store");
		links_del(l);
		return NULL;
	}
	return l;
}

void
links_del(struct links *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->r[i].rows);
	free(l->r);
	free(l);
}

/* --- ReportLinks ---------------------------------------------------------------------- */

/* "IPV4:PORT" or "[IPV6]:PORT", port 1..65535. */
static bool
endpoint_ok(const char *s)
{
	char host[STORE_LINK_EP_MAX + 1];
	const char *colon;
	char *endp;
	unsigned long port;
	uint8_t buf[16];
	size_t hl;

	if (strlen(s) > STORE_LINK_EP_MAX || (colon = strrchr(s, ':')) == NULL)
		return false;
	port = strtoul(colon + 1, &endp, 10);
	if (colon[1] < '0' || colon[1] > '9' || *endp != '\0' || port == 0 || port > 65535)
		return false;
	hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 3 || s[hl - 1] != ']')
			return false;
		memcpy(host, s + 1, hl - 2);
		host[hl - 2] = '\0';
		return inet_pton(AF_INET6, host, buf) == 1;
	}
	memcpy(host, s, hl);
	host[hl] = '\0';
	return inet_pton(AF_INET, host, buf) == 1;
}

static bool
path_ok(const char *s)
{
	return s[0] == '\0' || strcmp(s, "lan") == 0 || strcmp(s, "wan") == 0 ||
	    strcmp(s, "observed") == 0 || strcmp(s, "relay") == 0;
}

/* The report's first bad field, named, into err; true when it has none. */
static bool
report_ok(const Wiresync__V1__LinkReport *m, char *err, size_t errlen)
{
	if (m->n_links > LINKS_REPORT_MAX) {
		snprintf(err, errlen, "links: %zu entries, at most %d", m->n_links,
		    LINKS_REPORT_MAX);
		return false;
	}
	for (size_t i = 0; i < m->n_links; i++) {
		const Wiresync__V1__LinkHealth *h = m->links[i];

		if (h->peer_key.len != WG_KEY_LEN) {
			snprintf(err, errlen, "links[%zu].peer_key: %zu bytes, want %d", i,
			    h->peer_key.len, WG_KEY_LEN);
			return false;
		}
		if (strlen(h->path) > STORE_LINK_PATH_MAX || !path_ok(h->path)) {
			snprintf(err, errlen, "links[%zu].path: \"%.20s\" is none of lan, wan, "
			    "observed, relay or \"\"", i, h->path);
			return false;
		}
		if (h->endpoint[0] != '\0' && !endpoint_ok(h->endpoint)) {
			snprintf(err, errlen, "links[%zu].endpoint: \"%.80s\" is not ip:port", i,
			    h->endpoint);
			return false;
		}
		if (strlen(h->down_reason) > STORE_LINK_REASON_MAX) {
			snprintf(err, errlen, "links[%zu].down_reason: %zu bytes, at most %d", i,
			    strlen(h->down_reason), STORE_LINK_REASON_MAX);
			return false;
		}
		if (h->last_handshake_ms < 0) {
			snprintf(err, errlen, "links[%zu].last_handshake_ms: negative", i);
			return false;
		}
	}
	return true;
}

static int
row_cmp(const void *x, const void *y)
{
	return key_cmp(((const struct store_link *)x)->peer, ((const struct store_link *)y)->peer);
}

void
links_handle_report(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct service *svc = arg;
	struct links *l = svc->links;
	const struct agent_conn *ac = rpc_call_conn_user(call);
	Wiresync__V1__LinkReport *m = NULL;
	Wiresync__V1__LinkReportReply reply = WIRESYNC__V1__LINK_REPORT_REPLY__INIT;
	const struct peer *self;
	struct reporter *r;
	struct store_link *rows = NULL;
	uint64_t now = loop_now_ms(svc->loop);
	int64_t wall = links_wall_ms();
	size_t n = 0;
	bool changed;
	char err[200];

	if (l == NULL) {
		rpc_call_fail(call, GRPC_UNAVAILABLE, "link health is not kept");
		return;
	}
	if (!ac->id.has_key) {
		rpc_call_fail(call, GRPC_PERMISSION_DENIED, "caller: an admin certificate binds no "
		    "WireGuard key and has no links to report");
		return;
	}
	if ((self = service_peer_get(svc, ac->id.key)) == NULL ||
	    strcmp(self->network, ac->id.network) != 0) {
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "caller: not a stored host of "
		    "network %s (Update first)", ac->id.network);
		return;
	}
	if ((m = wiresync__v1__link_report__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "LinkReport does not decode");
		return;
	}
	if (!report_ok(m, err, sizeof(err))) {
		log_info("%s (%s): ReportLinks refused: %s", ac->id.name, ac->id.network, err);
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "%s", err);
		goto out;
	}
	/* one second of leeway: agents count whole seconds */
	r = reporter_find(l, ac->id.key, NULL);
	if (r != NULL && r->accepted_ms != 0 && now < r->accepted_ms +
	    (LINKS_MIN_INTERVAL_S - 1) * 1000) {
		rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "ReportLinks: at most one report per "
		    "%d s (min_interval_s)", LINKS_MIN_INTERVAL_S);
		goto out;
	}
	if ((rows = calloc(m->n_links > 0 ? m->n_links : 1, sizeof(*rows))) == NULL)
		goto nomem;
	for (size_t i = 0; i < m->n_links; i++) {
		const Wiresync__V1__LinkHealth *h = m->links[i];
		const struct peer *p = service_peer_get(svc, h->peer_key.data);
		struct store_link *row = &rows[n];

		/* only peers of the caller's network, never itself */
		if (p == NULL || p == self || strcmp(p->network, self->network) != 0)
			continue;
		memcpy(row->reporter, ac->id.key, WG_KEY_LEN);
		memcpy(row->peer, p->key, WG_KEY_LEN);
		snprintf(row->path, sizeof(row->path), "%s", h->path);
		snprintf(row->endpoint, sizeof(row->endpoint), "%s", h->endpoint);
		snprintf(row->down_reason, sizeof(row->down_reason), "%s", h->down_reason);
		row->last_handshake_ms = h->last_handshake_ms;
		row->rx_bytes = h->rx_bytes;
		row->tx_bytes = h->tx_bytes;
		row->reported_ms = wall;
		n++;
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	/* a key twice: the last one stands */
	{
		size_t w = 0;
		for (size_t i = 0; i < n; i++) {
			if (w > 0 && key_cmp(rows[w - 1].peer, rows[i].peer) == 0)
				w--;
			rows[w++] = rows[i];
		}
		n = w;
	}
	changed = ups_changed(l, reporter_find(l, ac->id.key, NULL), rows, n, wall);
	if (store_links_replace(l->st, ac->id.key, rows, n) < 0) {
		rpc_call_fail(call, GRPC_UNAVAILABLE, "the store failed; report again later");
		goto out;
	}
	if ((r = reporter_get(l, ac->id.key)) == NULL)
		goto nomem;
	free(r->rows);
	r->rows = rows;
	r->n = n;
	r->accepted_ms = now;
	rows = NULL;
	reply.min_interval_s = LINKS_MIN_INTERVAL_S;
	svc_reply_message(call, &reply.base);
	if (changed && l->observer != NULL)
		l->observer(l->observer_arg);
	goto out;
nomem:
	rpc_call_fail(call, GRPC_RESOURCE_EXHAUSTED, "out of memory");
out:
	free(rows);
	wiresync__v1__link_report__free_unpacked(m, NULL);
}

/* --- pairs ----------------------------------------------------------------------------- */

static const struct store_link *
row_about(const struct reporter *r, const uint8_t peer[WG_KEY_LEN])
{
	struct store_link k;

	if (r == NULL || r->n == 0)
		return NULL;
	memcpy(k.peer, peer, WG_KEY_LEN);
	return bsearch(&k, r->rows, r->n, sizeof(*r->rows), row_cmp);
}

/* The agent says down (path "": a stall, say) whatever the handshake's age. */
static bool
end_up(const struct store_link *row, int64_t now_ms, uint32_t window_s)
{
	return row != NULL && row->path[0] != '\0' && row->last_handshake_ms > 0 &&
	    now_ms - row->last_handshake_ms <= (int64_t)window_s * 1000;
}

static int
pair_cmp(const void *x, const void *y)
{
	const struct link_pair *p = x, *q = y;
	int c = strcmp(p->a->name, q->a->name);

	if (c == 0)
		c = strcmp(p->b->name, q->b->name);
	if (c == 0)
		c = key_cmp(p->a->key, q->a->key);
	if (c == 0)
		c = key_cmp(p->b->key, q->b->key);
	return c;
}

int
links_pairs(const struct links *l, const char *network, const char *name, int64_t now_ms,
    struct link_pair **out, size_t *n_out)
{
	struct link_pair *v = NULL;
	size_t n = 0, cap = 0;

	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < l->n; i++) {
		const struct reporter *r = &l->r[i];
		const struct peer *me = service_peer_get(l->svc, r->key);

		if (me == NULL || (network != NULL && strcmp(me->network, network) != 0))
			continue;
		for (size_t j = 0; j < r->n; j++) {
			const struct peer *other = service_peer_get(l->svc, r->rows[j].peer);
			const struct reporter *ro;
			struct link_pair *p;
			bool me_first;

			if (other == NULL || strcmp(other->network, me->network) != 0)
				continue;
			if (name != NULL && name[0] != '\0' && strcmp(me->name, name) != 0 &&
			    strcmp(other->name, name) != 0)
				continue;
			ro = reporter_find(l, other->key, NULL);
			/* a pair both ends reported on is made once, by the end with the lower key */
			if (ro != NULL && row_about(ro, r->key) != NULL &&
			    key_cmp(r->key, other->key) > 0)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 32;
				struct link_pair *nv = realloc(v, nc * sizeof(*nv));
				if (nv == NULL) {
					free(v);
					return -ENOMEM;
				}
				v = nv;
				cap = nc;
			}
			p = &v[n++];
			me_first = strcmp(me->name, other->name) < 0 || (strcmp(me->name,
			    other->name) == 0 && key_cmp(me->key, other->key) < 0);
			p->a = me_first ? me : other;
			p->b = me_first ? other : me;
			p->ra = me_first ? &r->rows[j] : row_about(ro, r->key);
			p->rb = me_first ? row_about(ro, r->key) : &r->rows[j];
			p->up = end_up(p->ra, now_ms, l->up_window_s) &&
			    end_up(p->rb, now_ms, l->up_window_s);
			p->path = !p->up ? "" : strcmp(p->ra->path, p->rb->path) == 0 ?
			    p->ra->path : "mixed";
		}
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), pair_cmp);
	*out = v;
	*n_out = n;
	return 0;
}

void
links_count(const struct links *l, int64_t now_ms, size_t up[LINKS_PATHS],
    size_t down[LINKS_PATHS])
{
	struct link_pair *v;
	size_t n;

	memset(up, 0, LINKS_PATHS * sizeof(*up));
	memset(down, 0, LINKS_PATHS * sizeof(*down));
	if (l == NULL || links_pairs(l, NULL, NULL, now_ms, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t k = LINKS_PATHS - 1;
		for (size_t j = 0; j < LINKS_PATHS; j++)
			if (strcmp(v[i].path, links_path_names[j]) == 0) {
				k = j;
				break;
			}
		if (v[i].up)
			up[k]++;
		else
			down[k]++;
	}
	free(v);
}
