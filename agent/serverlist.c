/* The agent's list of servers and the choice of the current one (agent/serverlist.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "agent/refusal.h"
#include "agent/serverlist.h"
#include "common/confcheck.h"
#include "rpc/grpc.h"

/* --- the entries ------------------------------------------------------------------------ */

static bool
blank(char c)
{
	return c == ' ' || c == '\t';
}

/* why for entry k (1-based) of total: the entry named only when there are several. */
static bool
entry_fail(char *why, size_t whylen, size_t k, size_t total, const char *entry,
    const char *what)
{
	if (total > 1)
		snprintf(why, whylen, "entry %zu \"%s\": %s", k, entry, what);
	else
		snprintf(why, whylen, "%s", what);
	return false;
}

bool
serverlist_init(struct serverlist *sl, const char *value, uint32_t base_ms, uint32_t cap_ms,
    char *why, size_t whylen)
{
	const char *p = value != NULL ? value : "", *end;
	size_t total = 1, k = 0, n;
	char one[SERVERLIST_ENTRY_MAX], what[200];

	memset(sl, 0, sizeof(*sl));
	for (const char *q = p; *q != '\0'; q++)
		total += *q == ',';
	if (total > SERVERLIST_ENTRIES_MAX) {
		snprintf(why, whylen, "%zu servers; at most %d", total, SERVERLIST_ENTRIES_MAX);
		return false;
	}
	for (;;) {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		while (p < end && blank(*p))
			p++;
		n = (size_t)(end - p);
		while (n > 0 && blank(p[n - 1]))
			n--;
		k++;
		if (n >= sizeof(one)) {
			snprintf(one, sizeof(one), "%.40s...", p);
			return entry_fail(why, whylen, k, total, one, "too long");
		}
		memcpy(one, p, n);
		one[n] = '\0';
		if (n == 0 && total > 1)
			return entry_fail(why, whylen, k, total, one,
			    "empty (servers are HOST:PORT, separated by commas)");
		if (!confcheck_hostport(one, true, what, sizeof(what)))
			return entry_fail(why, whylen, k, total, one, what);
		for (size_t i = 0; i < sl->n_entries; i++) {
			if (strcmp(sl->entry[i], one) == 0) {
				snprintf(what, sizeof(what), "repeats entry %zu", i + 1);
				return entry_fail(why, whylen, k, total, one, what);
			}
		}
		memcpy(sl->entry[sl->n_entries], one, n + 1);
		sl->target[sl->n_entries].entry = (unsigned)sl->n_entries;
		sl->n_entries++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	sl->n_targets = sl->n_entries;
	backoff_init(&sl->backoff, base_ms, cap_ms < base_ms ? base_ms : cap_ms, 0);
	return true;
}

void
serverlist_entry_split(const char *entry, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon = strrchr(entry, ':');
	const char *h = entry;
	size_t n;

	if (colon == NULL) {
		snprintf(host, hostlen, "%s", entry);
		snprintf(port, portlen, "%s", "");
		return;
	}
	n = (size_t)(colon - entry);
	if (entry[0] == '[' && n >= 2) {
		h++;
		n -= 2;
	}
	snprintf(host, hostlen, "%.*s", (int)n, h);
	snprintf(port, portlen, "%s", colon + 1);
}

/* --- addresses -------------------------------------------------------------------------- */

static bool
target_same(const struct serverlist_target *a, const struct serverlist_target *b)
{
	return a->entry == b->entry && a->addrlen == b->addrlen &&
	    memcmp(&a->addr, &b->addr, a->addrlen) == 0;
}

/* t's index in sl, else the first of its entry's, else 0. */
static size_t
target_find(const struct serverlist *sl, const struct serverlist_target *t)
{
	size_t first = SIZE_MAX;

	for (size_t i = 0; i < sl->n_targets; i++) {
		if (target_same(&sl->target[i], t))
			return i;
		if (first == SIZE_MAX && sl->target[i].entry == t->entry)
			first = i;
	}
	return first != SIZE_MAX ? first : 0;
}

void
serverlist_resolved(struct serverlist *sl, size_t e, const struct sockaddr_storage *addrs,
    size_t n)
{
	struct serverlist_target nt[SERVERLIST_ENTRIES_MAX * SERVERLIST_ADDRS_MAX];
	struct serverlist_target cur = sl->target[sl->cur], start = sl->target[sl->round_start];
	size_t m = 0, added = 0;

	if (e >= sl->n_entries)
		return;
	for (size_t i = 0; i < sl->n_targets; i++)
		if (sl->target[i].entry < e)
			nt[m++] = sl->target[i];
	for (size_t i = 0; i < n && added < SERVERLIST_ADDRS_MAX; i++) {
		struct serverlist_target t = { .entry = (unsigned)e };
		bool dup = false;

		if (addrs[i].ss_family == AF_INET)
			t.addrlen = sizeof(struct sockaddr_in);
		else if (addrs[i].ss_family == AF_INET6)
			t.addrlen = sizeof(struct sockaddr_in6);
		else
			continue;
		memcpy(&t.addr, &addrs[i], t.addrlen);
		for (size_t j = m - added; j < m && !dup; j++)
			dup = target_same(&nt[j], &t);
		if (!dup) {
			nt[m++] = t;
			added++;
		}
	}
	if (added == 0)
		nt[m++] = (struct serverlist_target){ .entry = (unsigned)e };
	for (size_t i = 0; i < sl->n_targets; i++)
		if (sl->target[i].entry > e)
			nt[m++] = sl->target[i];
	memcpy(sl->target, nt, m * sizeof(nt[0]));
	sl->n_targets = m;
	sl->cur = target_find(sl, &cur);
	sl->round_start = target_find(sl, &start);
}

/* --- failing over ----------------------------------------------------------------------- */

bool
serverlist_fails_over(int status, const char *message, bool refused)
{
	if (refused || status == GRPC_OK || refusal_classify(status, message) != REFUSAL_NONE)
		return false;
	if (status == GRPC_UNAVAILABLE)
		return true;
	/* h2client's words for a RST_STREAM other than CANCEL (INTERNAL) */
	return message != NULL && strstr(message, "stream reset by server") != NULL;
}

enum serverlist_move
serverlist_failed(struct serverlist *sl, uint64_t gen, uint32_t *delay_ms)
{
	*delay_ms = 0;
	if (gen != sl->gen || sl->n_targets == 0)
		return SERVERLIST_STALE;
	sl->gen++;
	sl->up = false;
	sl->cur = (sl->cur + 1) % sl->n_targets;
	if (sl->cur != sl->round_start)
		return SERVERLIST_NEXT;
	*delay_ms = backoff_next(&sl->backoff);
	return SERVERLIST_ROUND;
}

void
serverlist_ok(struct serverlist *sl, uint64_t gen)
{
	if (gen != sl->gen)
		return;
	sl->up = true;
	sl->round_start = sl->cur;
	backoff_reset(&sl->backoff);
}

const char *
serverlist_name(const struct serverlist *sl, size_t t, char *buf, size_t len)
{
	const struct serverlist_target *x;
	char host[SERVERLIST_ENTRY_MAX], port[16], addr[INET6_ADDRSTRLEN];
	const void *raw;

	if (t >= sl->n_targets) {
		snprintf(buf, len, "?");
		return buf;
	}
	x = &sl->target[t];
	if (x->addr.ss_family == AF_INET)
		raw = &((const struct sockaddr_in *)&x->addr)->sin_addr;
	else if (x->addr.ss_family == AF_INET6)
		raw = &((const struct sockaddr_in6 *)&x->addr)->sin6_addr;
	else
		raw = NULL;
	serverlist_entry_split(sl->entry[x->entry], host, sizeof(host), port, sizeof(port));
	if (raw == NULL || inet_ntop(x->addr.ss_family, raw, addr, sizeof(addr)) == NULL ||
	    strcmp(addr, host) == 0)
		snprintf(buf, len, "%s", sl->entry[x->entry]);
	else
		snprintf(buf, len, "%s (%s)", sl->entry[x->entry], addr);
	return buf;
}
