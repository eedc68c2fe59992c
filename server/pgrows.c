/* Join requests and tokens as PostgreSQL rows (server/pgrows.h): text parameters in the
 * SQLite store's forms (store_impl.h's address lists, a token's groups as "a,b,c"),
 * bytea as hex. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "server/pgrows.h"
#include "server/pgschema.h"
#include "server/store_impl.h"

#define GROUPS_TEXT_MAX (CERT_GROUPS_MAX * (CERT_GROUP_MAX + 1))

_Static_assert(sizeof(((struct pgrows_peer *)0)->tunnel) >= STORE_LIST_MAX &&
    sizeof(((struct pgrows_peer *)0)->wan) >= NETADDR_STRLEN + 1 &&
    sizeof(((struct pgrows_peer *)0)->tunnels) >= PGSCHEMA_TUNNELS_MAX,
    "pgrows_peer's buffers hold every record's text");

const char PGROWS_JOIN_SELECT[] =
	"SELECT id, name, network, key, csr_sha256, source, created_s, state, csr, "
	"reserved_ips, certificate, ca, reason, renewal, current_certificate FROM "
	"join_requests ORDER BY id";
const char PGROWS_TOKEN_SELECT[] =
	"SELECT id, network, sha256, uses_left, expires_s, groups, created_s, admin_name, "
	"admin_serial FROM join_tokens ORDER BY id";

void
pgrows_stmt_free(struct pgrows_stmt *s)
{
	for (int i = 0; i < PGROWS_PARAMS_MAX; i++)
		free(s->v[i]);
	memset(s, 0, sizeof(*s));
}

void
pgrows_hex(char *out, const uint8_t *p, size_t n)
{
	out[0] = '\\';
	out[1] = 'x';
	pgschema_hex(out + 2, p, n);
}

char *
pgrows_hex_new(const uint8_t *p, size_t n, bool *oom)
{
	char *s;

	if (p == NULL || n == 0)
		return NULL;
	if ((s = malloc(2 * n + 3)) == NULL)
		*oom = true;
	else
		pgrows_hex(s, p, n);
	return s;
}

int
pgrows_peer_text(const struct peer *p, struct pgrows_peer *t)
{
	bool oom = false;

	memset(t, 0, sizeof(*t));
	if (p->cert_len > 64 * 1024 || p->chain_len > 64 * 1024 ||
	    p->lan_id_len > PEER_LAN_ID_MAX || p->n_tunnel > CERT_TUNNEL_MAX ||
	    p->n_lan > PEER_LAN_MAX ||
	    pgschema_tunnels(p, t->tunnels, sizeof(t->tunnels)) < 0)
		return -EINVAL;
	pgrows_hex(t->key, p->key, WG_KEY_LEN);
	pgrows_hex(t->lan_id, p->lan_id, p->lan_id_len);
	store_list_format(p->tunnel, p->n_tunnel, t->tunnel);
	store_list_format(p->lan, p->n_lan, t->lan);
	store_list_format(&p->wan, p->wan.family != 0 ? 1 : 0, t->wan);
	snprintf(t->port, sizeof(t->port), "%" PRIu32, p->listen_port);
	snprintf(t->last_seen, sizeof(t->last_seen), "%" PRId64, p->last_seen_ms);
	snprintf(t->revision, sizeof(t->revision), "%" PRIu64, p->revision);
	t->cert = pgrows_hex_new(p->cert, p->cert_len, &oom);
	t->chain = pgrows_hex_new(p->chain, p->chain_len, &oom);
	if (oom) {
		pgrows_peer_free(t);
		return -ENOMEM;
	}
	return 0;
}

void
pgrows_peer_free(struct pgrows_peer *t)
{
	free(t->cert);
	free(t->chain);
	t->cert = t->chain = NULL;
}

static char *
text_new(bool *oom, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char *
text_new(bool *oom, const char *fmt, ...)
{
	char buf[STORE_LIST_MAX + STORE_JOIN_REASON_MAX + CERT_NAME_MAX];
	va_list ap;
	char *s;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((s = strdup(buf)) == NULL)
		*oom = true;
	return s;
}

int
pgrows_join_put(const struct store_join *j, struct pgrows_stmt *out)
{
	char source[NETADDR_STRLEN], ips[STORE_LIST_MAX];
	bool oom = false;

	memset(out, 0, sizeof(*out));
	if (j->n_ips > CERT_TUNNEL_MAX || j->csr == NULL || j->csr_len == 0 ||
	    j->state < 0 || j->state > 2)
		return -EINVAL;
	netaddr_format(&j->source, false, source);
	store_list_format(j->ips, j->n_ips, ips);
	out->sql = "INSERT INTO join_requests (id, name, network, key, csr_sha256, source, "
	    "created_s, state, csr, reserved_ips, certificate, ca, reason, renewal, "
	    "current_certificate) VALUES ($1::bigint, $2, $3, $4::bytea, $5::bytea, $6, "
	    "$7::bigint, $8::integer, $9::bytea, $10, $11::bytea, $12::bytea, $13, $14::boolean, "
	    "$15::bytea) ON CONFLICT (id) DO UPDATE SET name = $2, network = $3, key = $4::bytea, "
	    "csr_sha256 = $5::bytea, source = $6, created_s = $7::bigint, state = $8::integer, "
	    "csr = $9::bytea, reserved_ips = $10, certificate = $11::bytea, ca = $12::bytea, "
	    "reason = $13, renewal = $14::boolean, current_certificate = $15::bytea";
	out->n = 15;
	out->v[0] = text_new(&oom, "%" PRIu64, j->id);
	out->v[1] = text_new(&oom, "%s", j->name);
	out->v[2] = text_new(&oom, "%s", j->network);
	out->v[3] = pgrows_hex_new(j->key, WG_KEY_LEN, &oom);
	out->v[4] = pgrows_hex_new(j->csr_sha256, 32, &oom);
	out->v[5] = text_new(&oom, "%s", source);
	out->v[6] = text_new(&oom, "%" PRId64, j->created_s);
	out->v[7] = text_new(&oom, "%d", j->state);
	out->v[8] = pgrows_hex_new(j->csr, j->csr_len, &oom);
	out->v[9] = text_new(&oom, "%s", ips);
	out->v[10] = pgrows_hex_new(j->cert, j->cert_len, &oom);
	out->v[11] = pgrows_hex_new(j->ca, j->ca_len, &oom);
	out->v[12] = text_new(&oom, "%s", j->reason);
	out->v[13] = text_new(&oom, "%s", j->renewal ? "t" : "f");
	out->v[14] = pgrows_hex_new(j->current, j->current_len, &oom);
	if (oom) {
		pgrows_stmt_free(out);
		return -ENOMEM;
	}
	return 0;
}

int
pgrows_token_put(const struct store_token *t, struct pgrows_stmt *out)
{
	char groups[GROUPS_TEXT_MAX] = "";
	size_t o = 0;
	bool oom = false;

	memset(out, 0, sizeof(*out));
	if (t->n_groups > CERT_GROUPS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < t->n_groups; i++)
		o += (size_t)snprintf(groups + o, sizeof(groups) - o, "%s%s", i > 0 ? "," : "",
		    t->groups[i]);
	out->sql = "INSERT INTO join_tokens (id, network, sha256, uses_left, expires_s, groups, "
	    "created_s, admin_name, admin_serial) VALUES ($1::bigint, $2, $3::bytea, "
	    "$4::integer, $5::bigint, $6, $7::bigint, $8, $9)";
	out->n = 9;
	out->v[0] = text_new(&oom, "%" PRIu64, t->id);
	out->v[1] = text_new(&oom, "%s", t->network);
	out->v[2] = pgrows_hex_new(t->sha256, 32, &oom);
	out->v[3] = text_new(&oom, "%" PRIu32, t->uses_left);
	out->v[4] = text_new(&oom, "%" PRId64, t->expires_s);
	out->v[5] = text_new(&oom, "%s", groups);
	out->v[6] = text_new(&oom, "%" PRId64, t->created_s);
	out->v[7] = text_new(&oom, "%s", t->admin_name);
	out->v[8] = text_new(&oom, "%s", t->admin_serial);
	if (oom) {
		pgrows_stmt_free(out);
		return -ENOMEM;
	}
	return 0;
}

/* Column col of row i as bytes (PQfreemem them), NULL with *len 0 for SQL NULL. */
uint8_t *
pgrows_col_bytes(const PGresult *res, int i, int col, size_t *len, bool *bad)
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
bool
pgrows_col_fixed(const PGresult *res, int i, int col, uint8_t *out, size_t n)
{
	size_t len;
	bool bad = false;
	uint8_t *b = pgrows_col_bytes(res, i, col, &len, &bad);
	bool ok = b != NULL && len == n;

	if (ok)
		memcpy(out, b, n);
	PQfreemem(b);
	return ok;
}

bool
pgrows_col_text(const PGresult *res, int i, int col, char *out, size_t size)
{
	return snprintf(out, size, "%s", PQgetvalue(res, i, col)) < (int)size;
}

int64_t
pgrows_col_i64(const PGresult *res, int i, int col)
{
	return strtoll(PQgetvalue(res, i, col), NULL, 10);
}

bool
pgrows_col_bool(const PGresult *res, int i, int col)
{
	return PQgetvalue(res, i, col)[0] == 't';
}

const char *
pgrows_join_read(const PGresult *res, int i, struct store_join *j, uint8_t *der[4])
{
	bool bad = false;

	memset(j, 0, sizeof(*j));
	memset(der, 0, 4 * sizeof(der[0]));
	j->id = (uint64_t)pgrows_col_i64(res, i, 0);
	if (!pgrows_col_text(res, i, 1, j->name, sizeof(j->name)) ||
	    !pgrows_col_text(res, i, 2, j->network, sizeof(j->network)) ||
	    !pgrows_col_text(res, i, 12, j->reason, sizeof(j->reason)))
		return "name, network or reason too long";
	if (!pgrows_col_fixed(res, i, 3, j->key, WG_KEY_LEN) ||
	    !pgrows_col_fixed(res, i, 4, j->csr_sha256, 32))
		return "bad key or CSR hash";
	if (!netaddr_parse(PQgetvalue(res, i, 5), false, &j->source, NULL, 0))
		return "bad source address";
	j->created_s = pgrows_col_i64(res, i, 6);
	j->state = (int)pgrows_col_i64(res, i, 7);
	if (!store_list_parse(PQgetvalue(res, i, 9), j->ips, CERT_TUNNEL_MAX, &j->n_ips))
		return "bad reserved addresses";
	j->renewal = pgrows_col_bool(res, i, 13);
	j->csr = der[0] = pgrows_col_bytes(res, i, 8, &j->csr_len, &bad);
	j->cert = der[1] = pgrows_col_bytes(res, i, 10, &j->cert_len, &bad);
	j->ca = der[2] = pgrows_col_bytes(res, i, 11, &j->ca_len, &bad);
	j->current = der[3] = pgrows_col_bytes(res, i, 14, &j->current_len, &bad);
	return bad ? "out of memory" : NULL;
}

const char *
pgrows_token_read(const PGresult *res, int i, struct store_token *t)
{
	const char *g = PQgetvalue(res, i, 5);

	memset(t, 0, sizeof(*t));
	t->id = (uint64_t)pgrows_col_i64(res, i, 0);
	if (!pgrows_col_text(res, i, 1, t->network, sizeof(t->network)) ||
	    !pgrows_col_text(res, i, 7, t->admin_name, sizeof(t->admin_name)) ||
	    !pgrows_col_text(res, i, 8, t->admin_serial, sizeof(t->admin_serial)))
		return "network or admin too long";
	if (!pgrows_col_fixed(res, i, 2, t->sha256, 32))
		return "bad hash";
	t->uses_left = (uint32_t)pgrows_col_i64(res, i, 3);
	t->expires_s = pgrows_col_i64(res, i, 4);
	t->created_s = pgrows_col_i64(res, i, 6);
	/* "a,b,c": group names hold no comma */
	while (*g != '\0') {
		const char *c = strchr(g, ',');
		size_t n = c != NULL ? (size_t)(c - g) : strlen(g);
		if (t->n_groups == CERT_GROUPS_MAX || !policy_group_name_ok(g, n))
			return "bad groups";
		memcpy(t->groups[t->n_groups], g, n);
		t->groups[t->n_groups++][n] = '\0';
		g += n + (c != NULL);
	}
	return NULL;
}
