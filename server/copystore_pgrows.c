/* wiresyncd --copy-store: the rows of a PostgreSQL source (server/copystore_impl.h), read
 * back from server/pgschema.c's tables in their text forms (bytea as hex, addresses as
 * store_impl.h's lists, a token's groups as "a,b,c"), each into the copy. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "server/copystore_impl.h"
#include "server/store_impl.h"

/* Column col of row i as bytes (PQfreemem them), NULL with *len 0 for SQL NULL. */
static uint8_t *
col_bytes(const PGresult *res, int i, int col, size_t *len, bool *bad)
{
	uint8_t *b;

	*len = 0;
	if (PQgetisnull(res, i, col))
		return NULL;
	if ((b = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, col), len)) == NULL)
		*bad = true;
	return b;
}

/* Column col into a fixed key or hash of n bytes. */
static bool
col_fixed(const PGresult *res, int i, int col, uint8_t *out, size_t n)
{
	size_t len;
	bool bad = false;
	uint8_t *b = col_bytes(res, i, col, &len, &bad);
	bool ok = b != NULL && len == n;

	if (ok)
		memcpy(out, b, n);
	PQfreemem(b);
	return ok;
}

static bool
col_text(const PGresult *res, int i, int col, char *out, size_t size)
{
	return snprintf(out, size, "%s", PQgetvalue(res, i, col)) < (int)size;
}

static int64_t
col_i64(const PGresult *res, int i, int col)
{
	return strtoll(PQgetvalue(res, i, col), NULL, 10);
}

static bool
col_bool(const PGresult *res, int i, int col)
{
	return PQgetvalue(res, i, col)[0] == 't';
}

static const char *
row_peer(struct copy *k, const PGresult *res, int i)
{
	struct peer p;
	uint8_t *lanid = NULL, n_wan;
	size_t len;
	bool bad = false;
	const char *why = NULL;

	memset(&p, 0, sizeof(p));
	if (!col_fixed(res, i, 0, p.key, WG_KEY_LEN))
		return "bad key";
	if (!col_text(res, i, 1, p.name, sizeof(p.name)) ||
	    !col_text(res, i, 2, p.network, sizeof(p.network)))
		return "name or network too long";
	p.listen_port = (uint32_t)col_i64(res, i, 3);
	if (!store_list_parse(PQgetvalue(res, i, 4), p.tunnel, CERT_TUNNEL_MAX, &p.n_tunnel) ||
	    !store_list_parse(PQgetvalue(res, i, 5), p.lan, PEER_LAN_MAX, &p.n_lan) ||
	    !store_list_parse(PQgetvalue(res, i, 6), &p.wan, 1, &n_wan))
		return "bad addresses";
	lanid = col_bytes(res, i, 7, &len, &bad);
	if (bad || len > PEER_LAN_ID_MAX) {
		PQfreemem(lanid);
		return "bad lan_id";
	}
	if (len > 0)
		memcpy(p.lan_id, lanid, len);
	p.lan_id_len = (uint8_t)len;
	PQfreemem(lanid);
	if (!col_text(res, i, 8, p.observed_endpoint, sizeof(p.observed_endpoint)))
		return "observed endpoint too long";
	p.last_seen_ms = col_i64(res, i, 10);
	p.revision = (uint64_t)col_i64(res, i, 11);
	p.cert = col_bytes(res, i, 12, &p.cert_len, &bad);
	p.chain = col_bytes(res, i, 13, &p.chain_len, &bad);
	p.is_static = col_bool(res, i, 14);
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
	c.revision = (uint64_t)col_i64(res, i, 0);
	if (!col_fixed(res, i, 1, c.key, WG_KEY_LEN))
		return "bad key";
	if (!col_text(res, i, 2, c.network, sizeof(c.network)))
		return "network too long";
	c.removed = col_bool(res, i, 3);
	copy_change(k, &c, col_i64(res, i, 4));
	return NULL;
}

static const char *
row_join(struct copy *k, const PGresult *res, int i)
{
	struct store_join j;
	uint8_t *csr = NULL, *cert = NULL, *ca = NULL, *cur = NULL;
	bool bad = false;
	const char *why = NULL;

	memset(&j, 0, sizeof(j));
	j.id = (uint64_t)col_i64(res, i, 0);
	if (!col_text(res, i, 1, j.name, sizeof(j.name)) ||
	    !col_text(res, i, 2, j.network, sizeof(j.network)) ||
	    !col_text(res, i, 12, j.reason, sizeof(j.reason)))
		return "name, network or reason too long";
	if (!col_fixed(res, i, 3, j.key, WG_KEY_LEN) || !col_fixed(res, i, 4, j.csr_sha256, 32))
		return "bad key or CSR hash";
	if (!netaddr_parse(PQgetvalue(res, i, 5), false, &j.source, NULL, 0))
		return "bad source address";
	j.created_s = col_i64(res, i, 6);
	j.state = (int)col_i64(res, i, 7);
	if (!store_list_parse(PQgetvalue(res, i, 9), j.ips, CERT_TUNNEL_MAX, &j.n_ips))
		return "bad reserved addresses";
	j.renewal = col_bool(res, i, 13);
	j.csr = csr = col_bytes(res, i, 8, &j.csr_len, &bad);
	j.cert = cert = col_bytes(res, i, 10, &j.cert_len, &bad);
	j.ca = ca = col_bytes(res, i, 11, &j.ca_len, &bad);
	j.current = cur = col_bytes(res, i, 14, &j.current_len, &bad);
	if (bad)
		why = "out of memory";
	else
		copy_join(k, &j);
	PQfreemem(csr);
	PQfreemem(cert);
	PQfreemem(ca);
	PQfreemem(cur);
	return why;
}

static const char *
row_token(struct copy *k, const PGresult *res, int i)
{
	struct store_token t;
	const char *g = PQgetvalue(res, i, 5);

	memset(&t, 0, sizeof(t));
	t.id = (uint64_t)col_i64(res, i, 0);
	if (!col_text(res, i, 1, t.network, sizeof(t.network)) ||
	    !col_text(res, i, 7, t.admin_name, sizeof(t.admin_name)) ||
	    !col_text(res, i, 8, t.admin_serial, sizeof(t.admin_serial)))
		return "network or admin too long";
	if (!col_fixed(res, i, 2, t.sha256, 32))
		return "bad hash";
	t.uses_left = (uint32_t)col_i64(res, i, 3);
	t.expires_s = col_i64(res, i, 4);
	t.created_s = col_i64(res, i, 6);
	/* "a,b,c": group names hold no comma */
	while (*g != '\0') {
		const char *c = strchr(g, ',');
		size_t n = c != NULL ? (size_t)(c - g) : strlen(g);
		if (t.n_groups == CERT_GROUPS_MAX || !policy_group_name_ok(g, n))
			return "bad groups";
		memcpy(t.groups[t.n_groups], g, n);
		t.groups[t.n_groups++][n] = '\0';
		g += n + (c != NULL);
	}
	copy_token(k, &t);
	return NULL;
}

static const char *
row_audit(struct copy *k, const PGresult *res, int i)
{
	struct store_audit e;

	memset(&e, 0, sizeof(e));
	e.id = (uint64_t)col_i64(res, i, 0);
	e.time_ms = col_i64(res, i, 1);
	if (!col_text(res, i, 2, e.network, sizeof(e.network)) ||
	    !col_text(res, i, 3, e.admin, sizeof(e.admin)) ||
	    !col_text(res, i, 4, e.serial, sizeof(e.serial)) ||
	    !col_text(res, i, 5, e.action, sizeof(e.action)) ||
	    !col_text(res, i, 6, e.detail, sizeof(e.detail)))
		return "a column too long";
	copy_audit(k, &e);
	return NULL;
}

static const char *
row_link(struct copy *k, const PGresult *res, int i)
{
	struct store_link l;

	memset(&l, 0, sizeof(l));
	if (!col_fixed(res, i, 0, l.reporter, WG_KEY_LEN) ||
	    !col_fixed(res, i, 1, l.peer, WG_KEY_LEN))
		return "bad key";
	if (!col_text(res, i, 2, l.path, sizeof(l.path)) ||
	    !col_text(res, i, 3, l.endpoint, sizeof(l.endpoint)) ||
	    !col_text(res, i, 7, l.down_reason, sizeof(l.down_reason)))
		return "a column too long";
	l.last_handshake_ms = col_i64(res, i, 4);
	l.rx_bytes = (uint64_t)col_i64(res, i, 5);
	l.tx_bytes = (uint64_t)col_i64(res, i, 6);
	l.reported_ms = col_i64(res, i, 8);
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
	{ "join_requests", "SELECT id, name, network, key, csr_sha256, source, created_s, state, "
	  "csr, reserved_ips, certificate, ca, reason, renewal, current_certificate FROM "
	  "join_requests ORDER BY id", row_join },
	{ "join_tokens", "SELECT id, network, sha256, uses_left, expires_s, groups, created_s, "
	  "admin_name, admin_serial FROM join_tokens ORDER BY id", row_token },
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
