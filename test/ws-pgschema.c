/* ws-pgschema: server/pgschema.c's guarantees against a real PostgreSQL (test/pgconn.test).
 *
 *   WS_PG=URI ws-pgschema
 *
 * Prints "PASS<TAB>what" / "FAIL<TAB>what<TAB>detail" / "NOTE<TAB>..." lines; exit 0 when
 * every check passed. Three connections stand for three servers: they migrate at once
 * (once, under the lock); they commit 3 x WRITES transactions at once, each ending in
 * PGSCHEMA_COMMIT_SQL, while a fourth follows the change log the way a server's follower
 * does (rows after the last revision it read) and must never find a gap it later sees
 * filled; two of them claim one tunnel address at once (exactly one wins); a schema newer
 * than the build is refused. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/loop.h"
#include "server/pgconn.h"
#include "server/pgschema.h"
#include "test/pgtest.h"

#define SERVERS 3
#define WRITES 150

static struct loop *loop;

struct conn {
	int idx;
	struct pgconn *c;
	int ups;
	/* migration */
	int migrated, version;
	char merr[512];
	/* writes */
	int sent, committed, write_errors;
	uint64_t last_rev, rev_not_increasing;
	char werr[256];
	/* a claim */
	int claim_done, claim_ok;
	char claim_err[256];
};

static void
on_up(void *arg)
{
	((struct conn *)arg)->ups++;
}

static void
on_down(void *arg, const char *why)
{
	(void)arg;
	(void)why;
}

static const struct pgconn_cb cbs = { .on_up = on_up, .on_down = on_down };

static void
on_migrated(void *arg, int version, const char *err)
{
	struct conn *c = arg;

	c->migrated++;
	c->version = version;
	snprintf(c->merr, sizeof(c->merr), "%s", err != NULL ? err : "");
}

/* ---- writes ------------------------------------------------------------------------- */

static void send_write(struct conn *c);

static void
on_write_step(void *arg, const PGresult *res, const char *err)
{
	struct conn *c = arg;

	if (res == NULL && c->write_errors++ == 0)
		snprintf(c->werr, sizeof(c->werr), "%s", err);
}

static void
on_write_rev(void *arg, const PGresult *res, const char *err)
{
	struct conn *c = arg;
	uint64_t rev;

	on_write_step(arg, res, err);
	if (res == NULL || PQntuples(res) != 1)
		return;
	rev = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	if (rev <= c->last_rev)
		c->rev_not_increasing++;
	c->last_rev = rev;
}

static void
on_write_commit(void *arg, const PGresult *res, const char *err)
{
	struct conn *c = arg;

	on_write_step(arg, res, err);
	if (res != NULL)
		c->committed++;
	else
		pgconn_send(c->c, "ROLLBACK", 0, NULL, NULL, NULL);
	if (c->sent < WRITES)
		send_write(c);
}

/* One server's write: a new peer and its tunnel address, then the commit statement. */
static void
send_write(struct conn *c)
{
	uint8_t key[32] = { 0 };
	char keyhex[80], addr[32], name[32], keys[128] = "{", nets[64] = "{", rm[16] = "{";
	struct pgschema_array ka, na;
	const char *peer[5], *tun[3], *commit[5];

	key[0] = (uint8_t)c->idx;
	key[1] = (uint8_t)(c->sent >> 8);
	key[2] = (uint8_t)c->sent;
	strcpy(keyhex, "\\x");
	for (int i = 0; i < 32; i++)
		snprintf(keyhex + 2 + 2 * i, 3, "%02x", key[i]);
	snprintf(addr, sizeof(addr), "10.%d.%d.%d", c->idx, c->sent >> 8, c->sent & 255);
	snprintf(name, sizeof(name), "h%d-%d", c->idx, c->sent);
	peer[0] = keyhex;
	peer[1] = name;
	peer[2] = "net1";
	peer[3] = addr;
	peer[4] = "0";
	tun[0] = "net1";
	tun[1] = addr;
	tun[2] = keyhex;
	pgschema_array_init(&ka, keys, sizeof(keys));
	pgschema_array_bytea(&ka, key, 32);
	pgschema_array_end(&ka);
	pgschema_array_init(&na, nets, sizeof(nets));
	pgschema_array_text(&na, "net1");
	pgschema_array_end(&na);
	strcpy(rm, "{f}");
	commit[0] = "1";
	commit[1] = keys;
	commit[2] = nets;
	commit[3] = rm;
	commit[4] = "1700000000000";
	c->sent++;
	pgconn_send(c->c, "BEGIN", 0, NULL, on_write_step, c);
	pgconn_send(c->c, "INSERT INTO peers (key, name, network, listen_port, tunnel_ips, "
	    "lan_ips, wan_ip, lan_id, observed_endpoint, online, last_seen_ms, revision) "
	    "VALUES ($1::bytea, $2, $3, 51820, $4, '', '', '', '', true, 0, $5::bigint)", 5, peer,
	    on_write_step, c);
	pgconn_send(c->c, "INSERT INTO peer_tunnels (network, addr, key) VALUES ($1, $2, "
	    "$3::bytea)", 3, tun, on_write_step, c);
	pgconn_send(c->c, PGSCHEMA_COMMIT_SQL, 5, commit, on_write_rev, c);
	pgconn_send(c->c, "COMMIT", 0, NULL, on_write_commit, c);
}

/* ---- the follower ------------------------------------------------------------------- */

struct follower {
	struct pgconn *c;
	int ups;
	uint64_t last;               /* the last revision read */
	uint64_t gaps;               /* reads whose first row was not last + 1 */
	uint64_t rows, polls;
	bool inflight;
	char gap[128];
};

static void
on_follow(void *arg, const PGresult *res, const char *err)
{
	struct follower *f = arg;

	(void)err;
	f->inflight = false;
	f->polls++;
	if (res == NULL)
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		uint64_t r = strtoull(PQgetvalue(res, i, 0), NULL, 10);
		if (r != f->last + 1 && f->gaps++ == 0)
			snprintf(f->gap, sizeof(f->gap), "after %" PRIu64 " came %" PRIu64, f->last,
			    r);
		if (r > f->last)
			f->last = r;
		f->rows++;
	}
}

static void
follow(struct follower *f)
{
	char last[24];
	const char *v[1] = { last };

	if (f->inflight || !pgconn_ready(f->c))
		return;
	snprintf(last, sizeof(last), "%" PRIu64, f->last);
	if (pgconn_send(f->c, "SELECT revision FROM changes WHERE revision > $1::bigint "
	    "ORDER BY revision", 1, v, on_follow, f) == 0)
		f->inflight = true;
}

static void
on_fup(void *arg)
{
	((struct follower *)arg)->ups++;
}

static const struct pgconn_cb fcbs = { .on_up = on_fup, .on_down = on_down };

/* ---- a claim of one address --------------------------------------------------------- */

static void
on_claim_step(void *arg, const PGresult *res, const char *err)
{
	struct conn *c = arg;

	if (res == NULL && c->claim_err[0] == '\0')
		snprintf(c->claim_err, sizeof(c->claim_err), "%s", err);
}

static void
on_claim_commit(void *arg, const PGresult *res, const char *err)
{
	struct conn *c = arg;

	on_claim_step(arg, res, err);
	c->claim_done++;
	c->claim_ok = res != NULL && c->claim_err[0] == '\0';
	if (!c->claim_ok)
		pgconn_send(c->c, "ROLLBACK", 0, NULL, NULL, NULL);
}

static void
send_claim(struct conn *c, uint8_t k, const char *network)
{
	char keyhex[80], name[16];
	const char *peer[3], *tun[3];

	strcpy(keyhex, "\\x");
	for (int i = 0; i < 32; i++)
		snprintf(keyhex + 2 + 2 * i, 3, "%02x", i == 0 ? 0xee : k);
	snprintf(name, sizeof(name), "claim%u", k);
	peer[0] = keyhex;
	peer[1] = name;
	peer[2] = network;
	tun[0] = network;
	tun[1] = "10.200.0.5";
	tun[2] = keyhex;
	c->claim_done = 0;
	c->claim_err[0] = '\0';
	pgconn_send(c->c, "BEGIN", 0, NULL, on_claim_step, c);
	pgconn_send(c->c, "INSERT INTO peers (key, name, network, listen_port, tunnel_ips, "
	    "lan_ips, wan_ip, lan_id, observed_endpoint, online, last_seen_ms, revision) "
	    "VALUES ($1::bytea, $2, $3, 51820, '10.200.0.5', '', '', '', '', true, 0, 0)", 3,
	    peer, on_claim_step, c);
	pgconn_send(c->c, "INSERT INTO peer_tunnels (network, addr, key) VALUES ($1, $2, "
	    "$3::bytea)", 3, tun, on_claim_step, c);
	/* hold the claim a moment, so that the other's arrives while this one is open */
	pgconn_send(c->c, "SELECT pg_sleep(0.2)", 0, NULL, on_claim_step, c);
	pgconn_send(c->c, "COMMIT", 0, NULL, on_claim_commit, c);
}

struct scalar {
	int done;
	char v[64], err[256];
};

static void
on_scalar(void *arg, const PGresult *res, const char *err)
{
	struct scalar *s = arg;

	s->done++;
	if (res != NULL && PQntuples(res) > 0)
		snprintf(s->v, sizeof(s->v), "%s", PQgetvalue(res, 0, 0));
	else if (res == NULL)
		snprintf(s->err, sizeof(s->err), "%s", err);
}

static void
scalar(struct pgconn *c, const char *sql, struct scalar *s)
{
	memset(s, 0, sizeof(*s));
	pgconn_send(c, sql, 0, NULL, on_scalar, s);
	pgtest_run_until(loop, &s->done, 1, 10);
}

int
main(void)
{
	const char *uri = getenv("WS_PG");
	struct conn cs[SERVERS];
	struct follower f = { 0 };
	struct scalar s;
	char err[512], det[2048];
	int all = 0, n;
	double t0, t1;

	if (uri == NULL) {
		fprintf(stderr, "usage: WS_PG=URI ws-pgschema\n");
		return 2;
	}
	loop = loop_new();
	memset(cs, 0, sizeof(cs));
	for (int i = 0; i < SERVERS; i++) {
		cs[i].idx = i + 1;
		cs[i].c = pgconn_new(loop, uri, &cbs, &cs[i], err, sizeof(err));
		if (cs[i].c == NULL) {
			pgtest_check(0, "pgconn_new", err);
			return 1;
		}
	}
	f.c = pgconn_new(loop, uri, &fcbs, &f, err, sizeof(err));
	for (double end = pgtest_now_s() + 15; pgtest_now_s() < end; loop_run_once(loop, 20)) {
		n = f.ups;
		for (int i = 0; i < SERVERS; i++)
			n += cs[i].ups > 0;
		if (n == SERVERS + 1)
			break;
	}
	/* three servers start at once: each migrates, the lock makes it once */
	scalar(f.c, "DROP TABLE IF EXISTS ws_schema, meta, peers, peer_tunnels, changes, "
	    "join_requests, join_tokens, audit, link_health, servers, ticket_keys CASCADE", &s);
	for (int i = 0; i < SERVERS; i++)
		pgschema_migrate(cs[i].c, on_migrated, &cs[i]);
	for (double end = pgtest_now_s() + 30; pgtest_now_s() < end; loop_run_once(loop, 20)) {
		n = 0;
		for (int i = 0; i < SERVERS; i++)
			n += cs[i].migrated;
		if (n == SERVERS)
			break;
	}
	snprintf(det, sizeof(det), "versions %d %d %d: %s%s%s", cs[0].version, cs[1].version,
	    cs[2].version, cs[0].merr, cs[1].merr, cs[2].merr);
	pgtest_check(cs[0].version == pgschema_version() && cs[1].version == pgschema_version() &&
	    cs[2].version == pgschema_version(),
	    "three servers migrating at once: each sees the schema at this build's version", det);
	scalar(f.c, "SELECT count(*) FROM ws_schema", &s);
	pgtest_check(strcmp(s.v, "1") == 0, "ws_schema holds one row", s.v);

	/* concurrent writes while the follower reads the log */
	t0 = pgtest_now_s();
	for (int i = 0; i < SERVERS; i++)
		send_write(&cs[i]);
	for (double end = pgtest_now_s() + 120; pgtest_now_s() < end; loop_run_once(loop, 1)) {
		follow(&f);
		all = 0;
		for (int i = 0; i < SERVERS; i++)
			all += cs[i].committed + cs[i].write_errors;
		if (all >= SERVERS * WRITES)
			break;
	}
	t1 = pgtest_now_s();
	for (double end = pgtest_now_s() + 10; pgtest_now_s() < end && f.last < SERVERS * WRITES;
	    loop_run_once(loop, 5))
		follow(&f);
	n = 0;
	for (int i = 0; i < SERVERS; i++)
		n += cs[i].committed;
	snprintf(det, sizeof(det), "%d committed; errors %d %d %d: %s%s%s", n,
	    cs[0].write_errors, cs[1].write_errors, cs[2].write_errors, cs[0].werr, cs[1].werr,
	    cs[2].werr);
	pgtest_check(n == SERVERS * WRITES, "three servers commit their writes at once", det);
	printf("NOTE\t%d transactions from %d connections in %.0f ms (%.0f/s, fsync on)\n",
	    n, SERVERS, (t1 - t0) * 1000, n / (t1 - t0));
	snprintf(det, sizeof(det), "%" PRIu64 " not increasing", cs[0].rev_not_increasing +
	    cs[1].rev_not_increasing + cs[2].rev_not_increasing);
	pgtest_check(cs[0].rev_not_increasing + cs[1].rev_not_increasing +
	    cs[2].rev_not_increasing == 0, "each server's revisions increase", det);
	scalar(f.c, "SELECT count(*) || ' ' || min(revision) || ' ' || max(revision) || ' ' || "
	    "(SELECT value FROM meta WHERE name = 'revision') FROM changes", &s);
	snprintf(det, sizeof(det), "%d 1 %d %d", SERVERS * WRITES, SERVERS * WRITES,
	    SERVERS * WRITES);
	pgtest_check(strcmp(s.v, det) == 0, "the log holds revisions 1..N, gap-free, and the counter is N",
	    s.v);
	snprintf(det, sizeof(det), "%" PRIu64 " polls, %" PRIu64 " rows, %" PRIu64 " gaps (%s)",
	    f.polls, f.rows, f.gaps, f.gap);
	pgtest_check(f.gaps == 0 && f.rows == (uint64_t)SERVERS * WRITES && f.polls > 10,
	    "a follower reading the log during the writes never finds a gap: revisions come "
	    "in commit order", det);
	printf("NOTE\tthe follower polled %" PRIu64 " times while they ran\n", f.polls);
	scalar(f.c, "SELECT count(*) FROM peers p JOIN changes c ON c.key = p.key "
	    "WHERE p.revision <> c.revision", &s);
	pgtest_check(strcmp(s.v, "0") == 0, "each peer's revision is its change's", s.v);

	/* one address claimed through two servers at once: exactly one wins */
	send_claim(&cs[0], 1, "net2");
	send_claim(&cs[1], 2, "net2");
	for (double end = pgtest_now_s() + 20; pgtest_now_s() < end && (cs[0].claim_done == 0 ||
	    cs[1].claim_done == 0); loop_run_once(loop, 20))
		;
	snprintf(det, sizeof(det), "a %s (%s), b %s (%s)", cs[0].claim_ok ? "won" : "lost",
	    cs[0].claim_err, cs[1].claim_ok ? "won" : "lost", cs[1].claim_err);
	pgtest_check(cs[0].claim_ok + cs[1].claim_ok == 1 &&
	    (strstr(cs[0].claim_err, "duplicate key") || strstr(cs[1].claim_err, "duplicate key")),
	    "10.200.0.5 claimed through two servers at once: exactly one wins", det);
	scalar(f.c, "SELECT count(*) FROM peer_tunnels WHERE network = 'net2' AND "
	    "addr = '10.200.0.5'", &s);
	pgtest_check(strcmp(s.v, "1") == 0, "one holder of the address in net2", s.v);
	send_claim(&cs[2], 3, "net3");
	pgtest_run_until(loop, &cs[2].claim_done, 1, 10);
	pgtest_check(cs[2].claim_ok, "the same address in another network is free", cs[2].claim_err);

	/* a database a newer wiresyncd migrated */
	scalar(f.c, "UPDATE ws_schema SET version = 7", &s);
	cs[0].migrated = 0;
	pgschema_migrate(cs[0].c, on_migrated, &cs[0]);
	pgtest_run_until(loop, &cs[0].migrated, 1, 10);
	pgtest_check(cs[0].version == -1 && strstr(cs[0].merr, "schema is version 7, newer than this "
	    "wiresyncd's 2: upgrade wiresyncd") != NULL, "a newer schema is refused, saying what "
	    "to do", cs[0].merr);
	scalar(cs[0].c, "SELECT 1", &s);
	pgtest_check(strcmp(s.v, "1") == 0, "the connection works after the refused migration", s.err);
	/* a database of schema 1 (before shared join requests) is upgraded in place */
	scalar(f.c, "DROP FUNCTION ws_enroll_step(bigint)", &s);
	scalar(f.c, "DELETE FROM meta WHERE name = 'enroll_revision'", &s);
	scalar(f.c, "UPDATE ws_schema SET version = 1", &s);
	cs[0].migrated = 0;
	pgschema_migrate(cs[0].c, on_migrated, &cs[0]);
	pgtest_run_until(loop, &cs[0].migrated, 1, 10);
	pgtest_check(cs[0].version == 2, "schema 1 is migrated to 2", cs[0].merr);
	scalar(f.c, "SELECT ws_enroll_step(0)", &s);
	pgtest_check(strcmp(s.v, "1") == 0, "the enrolment revision steps from 0", s.err);
	scalar(f.c, "SELECT ws_enroll_step(0)", &s);
	pgtest_check(s.v[0] == '\0' && strstr(s.err, "40001") != NULL, "a step from a revision "
	    "already passed fails with 40001", s.err);

	for (int i = 0; i < SERVERS; i++)
		pgconn_del(cs[i].c);
	pgconn_del(f.c);
	loop_del(loop);
	return pgtest_failed == 0 ? 0 : 1;
}
