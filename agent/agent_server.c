/* The agent's servers (agent/serverlist.h): the names resolved, connections made to the
 * current one, the moves to the next logged once, and the current one kept in
 * state_dir/server-IF for --show. The Watch stream (kept alive by PINGs) is the judge of
 * whether the current server is there; Updates, link reports and renewals follow it. */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/agent_impl.h"
#include "agent/serverlist.h"
#include "agent/state.h"
#include "common/watch.h"
#include "rpc/h2client.h"
#include "rpc/log.h"

/* Every entry's addresses, now (getaddrinfo blocks, as rpc_client_new's always has: at
 * the start and once a round, never per connection). A name that does not resolve is kept
 * as it is: the attempt to connect says why. */
static void
resolve_all(struct agent *a)
{
	struct serverlist *sl = &a->servers;

	for (size_t e = 0; e < sl->n_entries; e++) {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
		struct addrinfo *res = NULL;
		struct sockaddr_storage addrs[SERVERLIST_ADDRS_MAX];
		char host[SERVERLIST_ENTRY_MAX], port[16];
		size_t n = 0;
		int r;

		serverlist_entry_split(sl->entry[e], host, sizeof(host), port, sizeof(port));
		r = getaddrinfo(host, port, &hints, &res);
		if (r != 0)
			log_debug("server %s: %s", sl->entry[e], gai_strerror(r));
		for (struct addrinfo *ai = r == 0 ? res : NULL; ai != NULL && n < SERVERLIST_ADDRS_MAX;
		    ai = ai->ai_next) {
			if (ai->ai_addrlen > sizeof(addrs[0]))
				continue;
			memset(&addrs[n], 0, sizeof(addrs[n]));
			memcpy(&addrs[n], ai->ai_addr, ai->ai_addrlen);
			n++;
		}
		if (res != NULL)
			freeaddrinfo(res);
		serverlist_resolved(sl, e, addrs, n);
	}
}

/* state_dir/server-IF: "NAME STATE since TIME", one line. */
static void
server_save(struct agent *a, const char *state)
{
	char name[SERVERLIST_NAME_MAX], line[SERVERLIST_NAME_MAX + 96], when[32];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (a->server_path[0] == '\0')
		return;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	n = snprintf(line, sizeof(line), "%s %s since %s\n",
	    serverlist_name(&a->servers, a->servers.cur, name, sizeof(name)), state, when);
	if (n > 0 && state_blob_save(a->server_path, (const uint8_t *)line,
	    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		log_debug("%s: cannot save the current server", a->server_path);
}

int
agent_servers_init(struct agent *a, char *err, size_t errlen)
{
	struct serverlist *sl = &a->servers;
	char why[400], name[SERVERLIST_NAME_MAX];

	if (!serverlist_init(sl, a->conf->server, WATCH_BACKOFF_BASE_MS, WATCH_BACKOFF_CAP_MS,
	    why, sizeof(why))) {
		snprintf(err, errlen, "server = %s: %s", a->conf->server, why);
		return -1;
	}
	snprintf(a->server_path, sizeof(a->server_path), "%s/server-%s", a->conf->state_dir,
	    a->conf->interface);
	resolve_all(a);
	if (sl->n_targets > 1)
		log_info("%zu server%s (%zu addresses); trying %s first", sl->n_entries,
		    sl->n_entries == 1 ? "" : "s", sl->n_targets,
		    serverlist_name(sl, sl->cur, name, sizeof(name)));
	server_save(a, "trying");
	return 0;
}

struct rpc_client *
agent_server_client(struct agent *a, uint64_t *gen)
{
	const struct serverlist_target *t = serverlist_current(&a->servers);
	const char *entry = serverlist_current_entry(&a->servers);
	struct rpc_client *c;

	*gen = a->servers.gen;
	if (t->addr.ss_family != AF_UNSPEC)
		c = rpc_client_new_addr(a->loop, a->ctx, entry, (const struct sockaddr *)&t->addr,
		    t->addrlen);
	else
		c = rpc_client_new(a->loop, a->ctx, entry);
	if (c == NULL)
		log_warnx("server %s: cannot make a connection (out of memory?)", entry);
	return c;
}

void
agent_server_watch_config(struct agent *a, struct watch_client_config *wc)
{
	const struct serverlist_target *t = serverlist_current(&a->servers);

	wc->server = serverlist_current_entry(&a->servers);
	wc->addr = t->addr.ss_family != AF_UNSPEC ? (const struct sockaddr *)&t->addr : NULL;
	wc->addrlen = t->addrlen;
	a->watch_gen = a->servers.gen;
}

bool
agent_server_failed(struct agent *a, uint64_t gen, int status, const char *why,
    uint32_t *delay_ms)
{
	struct serverlist *sl = &a->servers;
	char was[SERVERLIST_NAME_MAX], now[SERVERLIST_NAME_MAX];
	enum serverlist_move mv;
	size_t from = sl->cur;

	*delay_ms = 0;
	if (!serverlist_fails_over(status, why, a->refusal.kind != REFUSAL_NONE))
		return false;
	serverlist_name(sl, from, was, sizeof(was));
	mv = serverlist_failed(sl, gen, delay_ms);
	if (mv == SERVERLIST_STALE)
		return false;
	if (mv == SERVERLIST_ROUND)
		resolve_all(a);
	serverlist_name(sl, sl->cur, now, sizeof(now));
	/* one server: nothing to switch to, the Watch says it retries */
	if (strcmp(was, now) != 0) {
		if (mv == SERVERLIST_ROUND)
			log_info("server %s unreachable (%s); trying %s in %u ms (every server "
			    "tried)", was, why, now, *delay_ms);
		else
			log_info("server %s unreachable (%s); trying %s", was, why, now);
	}
	server_save(a, "trying");
	return true;
}

void
agent_server_up(struct agent *a, uint64_t gen)
{
	char name[SERVERLIST_NAME_MAX];

	if (gen != a->servers.gen)
		return;
	if (!a->servers.up && a->servers.n_targets > 1)
		log_info("server %s: connected", serverlist_name(&a->servers, a->servers.cur, name,
		    sizeof(name)));
	serverlist_ok(&a->servers, gen);
	server_save(a, "watching");
}

void
agent_server_show(const char *path, FILE *out)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (state_blob_load(path, &buf, &len) < 0 || len == 0) {
		fprintf(out, "# server: not known (%s: none; the agent has not run)\n", path);
	} else {
		/* the running agent's last word: the server it watches, or tries next */
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\0'))
			len--;
		fprintf(out, "# server: %.*s\n", (int)len, (const char *)buf);
	}
	free(buf);
}
