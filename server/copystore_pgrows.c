/* wiresyncd --copy-store: the rows of a PostgreSQL source (server/copystore_impl.h), read
 * back from server/pgschema.c's tables in their text forms (bytea as hex, addresses as
 * store_impl.h's lists, a token's groups as "a,b,c"), each into the copy. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/copystore_impl.h"
#include "server/pgrows.h"
#include "server/store_impl.h"

static const char *
row_peer(struct copy *k, const PGresult *res, int i)
{
	struct peer p;
	uint8_t *lanid = NULL, n_wan;
	size_t len;
	bool bad = false;
	const char *why = NULL;

	memset(&p, 0, sizeof(p));
	if (!pgrows_col_fixed(res, i, 0, p.key, WG_KEY_LEN))
		return "bad key";
	if (!pgrows_col_text(res, i, 1, p.name, sizeof(p.name)) ||
	    !pgrows_col_text(res, i, 2, p.network, sizeof(p.network)))
		return "name or network too long";
	p.listen_port = (uint32_t)pgrows_col_i64(res, i, 3);
	if (!store_list_parse(PQgetvalue(res, i, 4), p.tunnel, CERT_TUNNEL_MAX, &p.n_tunnel) ||
	    !store_list_parse(PQgetvalue(res, i, 5), p.lan, PEER_LAN_MAX, &p.n_lan) ||
	    !store_list_parse(PQgetvalue(res, i, 6), &p.wan, 1, &n_wan))
		return "bad addresses";
	lanid = pgrows_col_bytes(res, i, 7, &len, &bad);
	if (bad || len > PEER_LAN_ID_MAX) {
		PQfreemem(lanid);
		return "bad lan_id";
	}
	if (len > 0)
		memcpy(p.lan_id, lanid, len);
	p.lan_id_len = (uint8_t)len;
	PQfreemem(lanid);
	if (!pgrows_col_text(res, i, 8, p.observed_endpoint, sizeof(p.observed_endpoint)))
		return "observed endpoint too long";
	p.last_seen_ms = pgrows_col_i64(res, i, 10);
	p.revision = (uint64_t)pgrows_col_i64(res, i, 11);
	p.cert = pgrows_col_bytes(res, i, 12, &p.cert_len, &bad);
	p.chain = pgrows_col_bytes(res, i, 13, &p.chain_len, &bad);
	p.is_static = pgrows_col_bool(res, i, 14);
	if (bad)
		why = "out of memory";
	else
		copy_peer(k, &p);
	PQfreemem(p.cert);
	PQfreemem(p.chain);
	return why;
}

static const char *
row_change(struct copy *k, const PGresult *res, int i)
{
	struct store_change c;

	memset(&c, 0, sizeof(c));
	c.revision = (uint64_t)pgrows_col_i64(res, i, 0);
	if (!pgrows_col_fixed(res, i, 1, c.key, WG_KEY_LEN))
		return "bad key";
	if (!pgrows_col_text(res, i, 2, c.network, sizeof(c.network)))
		return "network too long";
	c.removed = pgrows_col_bool(res, i, 3);
	copy_change(k, &c, pgrows_col_i64(res, i, 4));
	return NULL;
}

static const char *
row_join(struct copy *k, const PGresult *res, int i)
{
	struct store_join j;
	uint8_t *der[4];
	const char *why = pgrows_join_read(res, i, &j, der);

	if (why == NULL)
		copy_join(k, &j);
	for (int d = 0; d < 4; d++)
		PQfreemem(der[d]);
	return why;
}

static const char *
row_token(struct copy *k, const PGresult *res, int i)
{
	struct store_token t;
	const char *why = pgrows_token_read(res, i, &t);

	if (why == NULL)
		copy_token(k, &t);
	return why;
}

static const char *
row_audit(struct copy *k, const PGresult *res, int i)
{
	struct store_audit e;

	memset(&e, 0, sizeof(e));
	e.id = (uint64_t)pgrows_col_i64(res, i, 0);
	e.time_ms = pgrows_col_i64(res, i, 1);
	if (!pgrows_col_text(res, i, 2, e.network, sizeof(e.network)) ||
	    !pgrows_col_text(res, i, 3, e.admin, sizeof(e.admin)) ||
	    !pgrows_col_text(res, i, 4, e.serial, sizeof(e.serial)) ||
	    !pgrows_col_text(res, i, 5, e.action, sizeof(e.action)) ||
	    !pgrows_col_text(res, i, 6, e.detail, sizeof(e.detail)))
		return "a column too long";
	copy_audit(k, &e);
	return NULL;
}

static const char *
row_link(struct copy *k, const PGresult *res, int i)
{
	struct store_link l;

	memset(&l, 0, sizeof(l));
	if (!pgrows_col_fixed(res, i, 0, l.reporter, WG_KEY_LEN) ||
	    !pgrows_col_fixed(res, i, 1, l.peer, WG_KEY_LEN))
		return "bad key";
	if (!pgrows_col_text(res, i, 2, l.path, sizeof(l.path)) ||
	    !pgrows_col_text(res, i, 3, l.endpoint, sizeof(l.endpoint)) ||
	    !pgrows_col_text(res, i, 7, l.down_reason, sizeof(l.down_reason)))
		return "a column too long";
	l.last_handshake_ms = pgrows_col_i64(res, i, 4);
	l.rx_bytes = (uint64_t)pgrows_col_i64(res, i, 5);
	l.tx_bytes = (uint64_t)pgrows_col_i64(res, i, 6);
	l.reported_ms = pgrows_col_i64(res, i, 8);
	copy_link(k, &l);
	return NULL;
}

/* The reads of the source, in this order, each row into the copy. */
static const struct {
	const char *table, *sql;
	const char *(*row)(struct copy *k, const PGresult *res, int i);
} reads[] = {
	{ "peers", "SELECT key, name, network, listen_port, tunnel_ips, lan_ips, wan_ip, lan_id, "
	  "observed_endpoint, online, last_seen_ms, revision, certificate, chain, static FROM "
	  "peers ORDER BY key", row_peer },
	{ "changes", "SELECT revision, key, network, removed, ts_ms FROM changes ORDER BY "
	  "revision", row_change },
	{ "join_requests", PGROWS_JOIN_SELECT, row_join },
	{ "join_tokens", PGROWS_TOKEN_SELECT, row_token },
	{ "audit", "SELECT id, time_ms, network, admin, serial, action, detail FROM audit ORDER "
	  "BY id", row_audit },
	{ "link_health", "SELECT reporter_key, peer_key, path, endpoint, last_handshake_ms, "
	  "rx_bytes, tx_bytes, down_reason, reported_ms FROM link_health ORDER BY reporter_key, "
	  "peer_key", row_link },
};
#define N_READS (sizeof(reads) / sizeof(reads[0]))

size_t
copy_pg_tables(void)
{
	return N_READS;
}

const char *
copy_pg_table(size_t i)
{
	return reads[i].table;
}

const char *
copy_pg_table_sql(size_t i)
{
	return reads[i].sql;
}

const char *
copy_pg_row(size_t i, struct copy *k, const PGresult *res, int r)
{
	return reads[i].row(k, res, r);
}
