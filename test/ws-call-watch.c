/* ws-call's streams: watch (one Watch, its events printed or summed up per peer) and
 * watch-many (N connections, one Watch each). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common/cert.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/h2client.h"
#include "test/ws-call.h"

/* --- watch: one stream, its events printed or summed up per peer ---------------------- */

#define STATE_MAX 4096

/* What a watcher has learnt: one entry per peer key. */
struct known_peer {
	uint8_t key[WG_KEY_LEN];
	char name[CERT_NAME_MAX + 1];
	uint32_t port;
	bool online, removed;
	uint64_t revision;
};

struct watch_state {
	long want, got;
	struct rpc_client *client;
	struct rpc_client_call *call;
	struct loop *loop;
	bool done, stalled;
	int status;
	char message[256];
	uint64_t stall_ms, idle_exit_ms, revision;
	struct loop_timer stall_timer, idle_timer;
	struct known_peer *known;
	size_t n_known;
};

static void
known_set(struct watch_state *w, const Wiresync__V1__Peer *p, uint64_t revision)
{
	struct known_peer *k = NULL;

	if (p->public_key.len != WG_KEY_LEN)
		return;
	for (size_t i = 0; i < w->n_known; i++)
		if (memcmp(w->known[i].key, p->public_key.data, WG_KEY_LEN) == 0)
			k = &w->known[i];
	if (k == NULL) {
		if (w->n_known == STATE_MAX)
			return;
		k = &w->known[w->n_known++];
		memcpy(k->key, p->public_key.data, WG_KEY_LEN);
	}
	snprintf(k->name, sizeof(k->name), "%s", p->name);
	k->port = p->listen_port;
	k->online = p->online;
	k->revision = revision;
	k->removed = false;
}

static int
known_cmp(const void *a, const void *b)
{
	return strcmp(((const struct known_peer *)a)->name, ((const struct known_peer *)b)->name);
}

static void
known_print(struct watch_state *w)
{
	qsort(w->known, w->n_known, sizeof(*w->known), known_cmp);
	for (size_t i = 0; i < w->n_known; i++)
		if (!w->known[i].removed)
			printf("final %s port=%u online=%d revision=%llu\n", w->known[i].name,
			    w->known[i].port, w->known[i].online,
			    (unsigned long long)w->known[i].revision);
	printf("final-revision %llu\n", (unsigned long long)w->revision);
}

static void
idle_exit(void *arg)
{
	struct watch_state *w = arg;

	if (w->call != NULL)
		rpc_client_call_cancel(w->call);
}

static void
stall_over(void *arg)
{
	struct watch_state *w = arg;

	rpc_client_pause_reading(w->client, false);
	if (w->idle_exit_ms > 0)
		loop_timer_set(w->loop, &w->idle_timer, w->idle_exit_ms, idle_exit, w);
}

static void
watch_message(void *arg, const uint8_t *data, size_t len)
{
	struct watch_state *w = arg;
	Wiresync__V1__WatchEvent *ev;
	char k[45];

	ev = wiresync__v1__watch_event__unpack(NULL, len, data);
	if (ev == NULL) {
		printf("undecodable event\n");
		return;
	}
	bool quiet = w->stall_ms > 0 || w->idle_exit_ms > 0;

	w->revision = ev->revision;
	switch (ev->event_case) {
	case WIRESYNC__V1__WATCH_EVENT__EVENT_SNAPSHOT:
		printf("snapshot revision=%llu peers=%zu\n", (unsigned long long)ev->revision,
		    ev->snapshot->n_peers);
		w->n_known = 0;
		for (size_t i = 0; i < ev->snapshot->n_peers; i++) {
			if (!quiet)
				wc_print_peer(ev->snapshot->peers[i]);
			known_set(w, ev->snapshot->peers[i], ev->snapshot->peers[i]->revision);
		}
		break;
	case WIRESYNC__V1__WATCH_EVENT__EVENT_UPSERT:
		if (!quiet) {
			printf("upsert revision=%llu\n", (unsigned long long)ev->revision);
			wc_print_peer(ev->upsert);
		}
		known_set(w, ev->upsert, ev->revision);
		break;
	case WIRESYNC__V1__WATCH_EVENT__EVENT_REMOVED_KEY:
		printf("removed revision=%llu key=%s\n", (unsigned long long)ev->revision,
		    wc_b64(ev->removed_key.data, ev->removed_key.len, k));
		for (size_t i = 0; i < w->n_known; i++)
			if (ev->removed_key.len == WG_KEY_LEN &&
			    memcmp(w->known[i].key, ev->removed_key.data, WG_KEY_LEN) == 0)
				w->known[i].removed = true;
		break;
	default:
		printf("empty event revision=%llu\n", (unsigned long long)ev->revision);
	}
	fflush(stdout);
	wiresync__v1__watch_event__free_unpacked(ev, NULL);
	if (w->stall_ms > 0 && !w->stalled) {
		/* stop reading: the server's writes to us back up */
		w->stalled = true;
		rpc_client_pause_reading(w->client, true);
		loop_timer_set(w->loop, &w->stall_timer, w->stall_ms, stall_over, w);
	} else if (w->idle_exit_ms > 0 && (!w->stall_ms || !loop_timer_armed(&w->stall_timer))) {
		loop_timer_set(w->loop, &w->idle_timer, w->idle_exit_ms, idle_exit, w);
	}
	if (++w->got == w->want && w->call != NULL)
		rpc_client_call_cancel(w->call);
}

static void
watch_done(void *arg, int status, const char *message)
{
	struct watch_state *w = arg;

	w->done = true;
	w->call = NULL;
	w->status = (w->got == w->want || w->idle_exit_ms > 0) && status == GRPC_CANCELLED ?
	    GRPC_OK : status;
	snprintf(w->message, sizeof(w->message), "%s", message);
}

int
wc_run_watch(struct loop *loop, struct rpc_client *client, const char *path, const uint8_t *req,
    size_t req_len, uint64_t timeout_ms, int argc, char **argv)
{
	static const struct rpc_client_cb cb = { .on_message = watch_message, .on_done = watch_done };
	struct watch_state w = { .want = -1, .client = client, .loop = loop };

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--events") == 0)
			w.want = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--stall-ms") == 0)
			w.stall_ms = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--idle-exit-ms") == 0)
			w.idle_exit_ms = strtoull(argv[i + 1], NULL, 10);
	}
	w.known = calloc(STATE_MAX, sizeof(*w.known));
	if (w.known == NULL)
		return EXIT_LOCAL;
	w.call = rpc_client_call(client, path, req, req_len, timeout_ms, &cb, &w);
	while (!w.done && loop_run_once(loop, -1) == 0)
		;
	loop_timer_cancel(loop, &w.stall_timer);
	loop_timer_cancel(loop, &w.idle_timer);
	if (w.stall_ms > 0 || w.idle_exit_ms > 0)
		known_print(&w);
	free(w.known);
	return wc_finish(w.status, w.message);
}

/* --- watch-many: N connections, one Watch each ----------------------------------------- */

struct many_one {
	struct many *m;
	struct rpc_client *client;
	bool first, matched, ended;
};

struct many {
	long n, ready, matched, ended;
	const char *name;
	uint32_t port;
};

static void
many_message(void *arg, const uint8_t *data, size_t len)
{
	struct many_one *one = arg;
	struct many *m = one->m;
	Wiresync__V1__WatchEvent *ev = wiresync__v1__watch_event__unpack(NULL, len, data);

	if (ev == NULL)
		return;
	if (!one->first) {
		one->first = true;
		if (++m->ready == m->n) {
			printf("watch-many ready %ld\n", m->n);
			fflush(stdout);
		}
	}
	if (ev->event_case == WIRESYNC__V1__WATCH_EVENT__EVENT_UPSERT && !one->matched &&
	    m->name != NULL && strcmp(ev->upsert->name, m->name) == 0 &&
	    ev->upsert->listen_port == m->port) {
		one->matched = true;
		m->matched++;
	}
	wiresync__v1__watch_event__free_unpacked(ev, NULL);
}

static void
many_done(void *arg, int status, const char *message)
{
	struct many_one *one = arg;

	one->ended = true;
	one->m->ended++;
	if (status != GRPC_CANCELLED && one->m->ended <= 3)
		fprintf(stderr, "ws-call: watch-many: stream ended: %s: %s\n",
		    grpc_status_name(status), message);
}

int
wc_run_watch_many(struct loop *loop, SSL_CTX *ctx, const struct opts *o, int argc, char **argv)
{
	static const struct rpc_client_cb cb = { .on_message = many_message, .on_done = many_done };
	Wiresync__V1__WatchRequest wr = WIRESYNC__V1__WATCH_REQUEST__INIT;
	struct many m = { 0 };
	struct many_one *ones;
	struct rlimit rl;
	uint8_t req[16];
	size_t req_len;
	uint64_t deadline;
	int status;

	if (argc < 2)
		wc_usage();
	m.n = strtol(argv[1], NULL, 10);
	for (int i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--name") == 0)
			m.name = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0)
			m.port = (uint32_t)strtoul(argv[i + 1], NULL, 10);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)m.n + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)m.n + 64 ? rl.rlim_max : (rlim_t)m.n + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	ones = calloc((size_t)m.n, sizeof(*ones));
	if (ones == NULL)
		return EXIT_LOCAL;
	req_len = wiresync__v1__watch_request__pack(&wr, req);
	for (long i = 0; i < m.n; i++) {
		ones[i].m = &m;
		ones[i].client = rpc_client_new(loop, ctx, o->server);
		if (ones[i].client == NULL ||
		    rpc_client_call(ones[i].client, "/wiresync.v1.WireSync/Watch", req, req_len, 0,
		    &cb, &ones[i]) == NULL) {
			fprintf(stderr, "ws-call: watch-many: cannot start stream %ld\n", i);
			m.ended++;
			ones[i].ended = true;
		}
		/* let handshakes progress while connecting the rest */
		if (i % 50 == 49)
			loop_run_once(loop, 0);
	}
	deadline = loop_now_ms(loop) + (o->timeout_ms ? o->timeout_ms : 60000);
	while (loop_now_ms(loop) < deadline && m.ended < m.n &&
	    (m.ready < m.n || (m.name != NULL && m.matched < m.n)))
		loop_run_once(loop, 100);
	if (m.ready < m.n)
		printf("watch-many ready %ld/%ld\n", m.ready, m.n);
	if (m.name != NULL)
		printf("watch-many received %ld/%ld\n", m.matched, m.n);
	status = m.ready == m.n && (m.name == NULL || m.matched == m.n) ? GRPC_OK :
	    GRPC_DEADLINE_EXCEEDED;
	for (long i = 0; i < m.n; i++)
		rpc_client_del(ones[i].client);
	loop_run_once(loop, 0);
	free(ones);
	return status;
}
