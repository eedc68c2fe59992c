/* ws-follow: runs a watch_client (common/watch.h) for integration tests. Prints one line per
 * event and per state change, keeps the peer set those events describe, and prints it when
 * it exits: 0 when an exit condition was met, 1 on timeout, 2 on a usage or setup error,
 * 3 when stopped by SIGTERM or SIGINT. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/watch.h"
#include "rpc/log.h"
#include "rpc/loop.h"
#include "rpc/tls.h"

#define EXIT_MET 0
#define EXIT_TIMEOUT 1
#define EXIT_LOCAL 2
#define EXIT_SIGNAL 3
#define KEY_MAX 64

struct opts {
	const char *server, *cert, *key, *ca;
	uint64_t since;
	bool has_reconnects, has_revision;
	uint64_t reconnects, revision;
	uint64_t timeout_s;
	uint32_t base_ms, cap_ms;
};

struct entry {
	uint8_t key[KEY_MAX];
	size_t key_len;
	char *name;
	uint32_t port;
	bool online;
	uint64_t revision;
};

struct follow {
	struct opts o;
	struct loop *loop;
	struct watch_client *w;
	struct entry *peers;
	size_t n, cap;
	bool done;
	int rc;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: ws-follow -s HOST:PORT -C CERT -K KEY -A CA [--since N]\n"
	    "                 [--exit-after-reconnects N] [--exit-when-revision R]\n"
	    "                 [--timeout-s S] [--backoff-base-ms MS] [--backoff-cap-ms MS] [-v]\n"
	    "exit: 0 condition met, 1 timeout (default 30 s), 2 usage or setup error,\n"
	    "      3 stopped by SIGTERM/SIGINT; the final state is printed in every case but 2\n");
	exit(EXIT_LOCAL);
}

static uint64_t
number(const char *opt, const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-') {
		fprintf(stderr, "ws-follow: %s: bad number \"%s\"\n", opt, s);
		usage();
	}
	return v;
}

static uint32_t
number32(const char *opt, const char *s)
{
	uint64_t v = number(opt, s);

	if (v > UINT32_MAX) {
		fprintf(stderr, "ws-follow: %s: \"%s\" is too large\n", opt, s);
		usage();
	}
	return (uint32_t)v;
}

/* --- the peer map ----------------------------------------------------------------------- */

static void
map_clear(struct follow *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->peers[i].name);
	f->n = 0;
}

static struct entry *
map_find(struct follow *f, const uint8_t *key, size_t len)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->peers[i].key_len == len && memcmp(f->peers[i].key, key, len) == 0)
			return &f->peers[i];
	return NULL;
}

static void
map_put(struct follow *f, const Wiresync__V1__Peer *p)
{
	struct entry *e;
	char *name;

	if (p->public_key.len > KEY_MAX) {
		log_warnx("peer \"%s\": %zu-byte key ignored", p->name, p->public_key.len);
		return;
	}
	name = strdup(p->name);
	if (name == NULL)
		fatal("strdup");
	e = map_find(f, p->public_key.data, p->public_key.len);
	if (e == NULL) {
		if (f->n == f->cap) {
			size_t cap = f->cap != 0 ? f->cap * 2 : 16;
			struct entry *np = reallocarray(f->peers, cap, sizeof(*np));
			if (np == NULL)
				fatal("reallocarray");
			f->peers = np;
			f->cap = cap;
		}
		e = &f->peers[f->n++];
		memcpy(e->key, p->public_key.data, p->public_key.len);
		e->key_len = p->public_key.len;
		e->name = NULL;
	}
	free(e->name);
	e->name = name;
	e->port = p->listen_port;
	e->online = p->online;
	e->revision = p->revision;
}

static void
map_remove(struct follow *f, const uint8_t *key, size_t len)
{
	struct entry *e = map_find(f, key, len);

	if (e == NULL)
		return;
	free(e->name);
	*e = f->peers[--f->n];
}

static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	return memcmp(x->key, y->key, x->key_len);
}

/* --- exit conditions -------------------------------------------------------------------- */

static void
finish(struct follow *f, int rc)
{
	if (f->done)
		return;
	f->done = true;
	f->rc = rc;
	loop_stop(f->loop);
}

/* After each applied event. */
static void
check_exit(struct follow *f, uint64_t revision)
{
	if (f->o.has_revision && revision >= f->o.revision)
		finish(f, EXIT_MET);
	/* Events are applied only on the current connection, the latest one started. */
	if (f->o.has_reconnects && f->w != NULL &&
	    watch_client_reconnects(f->w) >= f->o.reconnects)
		finish(f, EXIT_MET);
}

static void
on_timeout(void *arg)
{
	struct follow *f = arg;

	log_warnx("timeout after %" PRIu64 " s", f->o.timeout_s);
	finish(f, EXIT_TIMEOUT);
}

static void
on_signal(void *arg)
{
	finish(arg, EXIT_SIGNAL);
}

/* --- watch_client ops ------------------------------------------------------------------- */

static void
on_snapshot(void *arg, uint64_t revision, Wiresync__V1__Peer *const *peers, size_t n)
{
	struct follow *f = arg;

	map_clear(f);
	for (size_t i = 0; i < n; i++)
		map_put(f, peers[i]);
	printf("snapshot revision=%" PRIu64 " peers=%zu\n", revision, n);
	fflush(stdout);
	check_exit(f, revision);
}

static void
on_upsert(void *arg, uint64_t revision, const Wiresync__V1__Peer *p)
{
	struct follow *f = arg;

	map_put(f, p);
	printf("upsert revision=%" PRIu64 " name=%s port=%u online=%d\n", revision, p->name,
	    p->listen_port, p->online ? 1 : 0);
	fflush(stdout);
	check_exit(f, revision);
}

static void
on_removed(void *arg, uint64_t revision, const uint8_t *key, size_t len)
{
	struct follow *f = arg;

	map_remove(f, key, len);
	printf("removed revision=%" PRIu64 "\n", revision);
	fflush(stdout);
	check_exit(f, revision);
}

static void
on_state(void *arg, bool connected, const char *why)
{
	printf("state %s %s\n", connected ? "connected" : "disconnected", why);
	fflush(stdout);
}

static const struct watch_client_ops follow_ops = {
	.on_snapshot = on_snapshot,
	.on_upsert = on_upsert,
	.on_removed = on_removed,
	.on_state = on_state,
};

/* --- main ------------------------------------------------------------------------------- */

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 'S' },
		{ "exit-after-reconnects", required_argument, NULL, 'R' },
		{ "exit-when-revision", required_argument, NULL, 'W' },
		{ "timeout-s", required_argument, NULL, 'T' },
		{ "backoff-base-ms", required_argument, NULL, 'B' },
		{ "backoff-cap-ms", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "s:C:K:A:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->server = optarg; break;
		case 'C': o->cert = optarg; break;
		case 'K': o->key = optarg; break;
		case 'A': o->ca = optarg; break;
		case 'v': log_set_level(LOG_LEVEL_DEBUG); break;
		case 'S': o->since = number("--since", optarg); break;
		case 'R':
			o->has_reconnects = true;
			o->reconnects = number("--exit-after-reconnects", optarg);
			break;
		case 'W':
			o->has_revision = true;
			o->revision = number("--exit-when-revision", optarg);
			break;
		case 'T': o->timeout_s = number("--timeout-s", optarg); break;
		case 'B': o->base_ms = number32("--backoff-base-ms", optarg); break;
		case 'P': o->cap_ms = number32("--backoff-cap-ms", optarg); break;
		default: usage();
		}
	}
	if (optind != argc || o->server == NULL || o->cert == NULL || o->key == NULL ||
	    o->ca == NULL)
		usage();
	if (o->timeout_s == 0 || o->timeout_s > 86400)
		o->timeout_s = o->timeout_s == 0 ? 30 : 86400;
}

int
main(int argc, char **argv)
{
	struct follow f = { .rc = EXIT_LOCAL };
	struct loop_timer deadline = { 0 };
	SSL_CTX *ctx = NULL;
	char err[512];

	log_init("ws-follow", LOG_LEVEL_INFO);
	parse_args(argc, argv, &f.o);
	/* h2client writes to sockets the server may have closed. */
	signal(SIGPIPE, SIG_IGN);

	{
		struct tls_files tf = { f.o.cert, f.o.key, f.o.ca, NULL };
		ctx = tls_client_ctx_new(&tf, err, sizeof(err));
		if (ctx == NULL) {
			fprintf(stderr, "ws-follow: %s\n", err);
			goto out;
		}
	}
	f.loop = loop_new();
	if (f.loop == NULL) {
		log_warn("loop_new");
		goto out;
	}
	if (loop_signal_add(f.loop, SIGTERM, on_signal, &f) < 0 ||
	    loop_signal_add(f.loop, SIGINT, on_signal, &f) < 0 ||
	    loop_timer_set(f.loop, &deadline, f.o.timeout_s * 1000, on_timeout, &f) < 0) {
		log_warnx("cannot set up signals and the timeout");
		goto out;
	}
	{
		struct watch_client_config cfg = {
			.server = f.o.server,
			.since_revision = f.o.since,
			.backoff_base_ms = f.o.base_ms,
			.backoff_cap_ms = f.o.cap_ms,
		};
		f.w = watch_client_new(f.loop, ctx, &cfg, &follow_ops, &f);
		if (f.w == NULL) {
			log_warn("cannot follow \"%s\"", f.o.server);
			goto out;
		}
	}
	if (loop_run(f.loop) < 0) {
		log_warn("loop");
		f.rc = EXIT_LOCAL;
		goto out;
	}

	printf("final revision=%" PRIu64 "\n", watch_client_revision(f.w));
	if (f.n > 1)
		qsort(f.peers, f.n, sizeof(*f.peers), entry_cmp);
	for (size_t i = 0; i < f.n; i++)
		printf("peer %s port=%u online=%d revision=%" PRIu64 "\n", f.peers[i].name,
		    f.peers[i].port, f.peers[i].online ? 1 : 0, f.peers[i].revision);
	fflush(stdout);
out:
	watch_client_del(f.w);
	if (f.loop != NULL)
		loop_timer_cancel(f.loop, &deadline);
	/* Runs the deferred frees of the connection. */
	loop_del(f.loop);
	SSL_CTX_free(ctx);
	map_clear(&f);
	free(f.peers);
	return f.rc;
}
