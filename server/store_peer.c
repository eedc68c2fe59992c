/* The peer records: checked, written and read back exactly. Address lists are stored as
 * canonical netaddr text joined by ','; an address carries "/prefix" only when the prefix is
 * not the full length, so every record reads back as it was written. The statements are
 * store.c's, prepared once (their columns in STORE_PEER_COLUMNS order). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rpc/log.h"
#include "server/store_impl.h"

#define STORE_CERT_MAX (64 * 1024)   /* a DER certificate larger than this is refused */

void
store_list_format(const struct netaddr *a, size_t n, char *buf)
{
	char one[NETADDR_STRLEN];
	size_t i, len = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		netaddr_format(&a[i], a[i].prefix != (a[i].family == AF_INET ? 32 : 128), one);
		len += (size_t)snprintf(buf + len, STORE_LIST_MAX - len, "%s%s",
		    i > 0 ? "," : "", one);
	}
}

bool
store_list_parse(const char *text, struct netaddr *a, size_t max, uint8_t *n)
{
	char one[NETADDR_STRLEN];
	const char *p = text, *comma;
	size_t len, count = 0;

	*n = 0;
	if (text == NULL || *text == '\0')
		return true;
	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (count == max || len >= sizeof(one))
			return false;
		memcpy(one, p, len);
		one[len] = '\0';
		if (!netaddr_parse(one, true, &a[count], NULL, 0))
			return false;
		count++;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	*n = (uint8_t)count;
	return true;
}

static bool
store_addr_valid(const struct netaddr *a)
{
	return (a->family == AF_INET && a->prefix <= 32) ||
	    (a->family == AF_INET6 && a->prefix <= 128);
}

/* Checks the bounds a record must keep to be stored and read back. */
static const char *
store_peer_invalid(const struct peer *p)
{
	size_t i;

	if (strnlen(p->name, sizeof(p->name)) == sizeof(p->name) ||
	    strnlen(p->network, sizeof(p->network)) == sizeof(p->network))
		return "name or network not terminated";
	if (strnlen(p->observed_endpoint, sizeof(p->observed_endpoint)) ==
	    sizeof(p->observed_endpoint))
		return "observed endpoint not terminated";
	if (p->n_tunnel > CERT_TUNNEL_MAX || p->n_lan > PEER_LAN_MAX ||
	    p->lan_id_len > PEER_LAN_ID_MAX)
		return "too many addresses or lan_id too long";
	for (i = 0; i < p->n_tunnel; i++)
		if (!store_addr_valid(&p->tunnel[i]))
			return "bad tunnel address";
	for (i = 0; i < p->n_lan; i++)
		if (!store_addr_valid(&p->lan[i]))
			return "bad LAN address";
	if (p->wan.family != 0 && !store_addr_valid(&p->wan))
		return "bad WAN address";
	if (p->cert_len > STORE_CERT_MAX || (p->cert == NULL && p->cert_len != 0))
		return "bad certificate length";
	if (p->chain_len > STORE_CERT_MAX || (p->chain == NULL && p->chain_len != 0))
		return "bad chain length";
	return NULL;
}

static void
store_log_key(const char *path, const char *what, const uint8_t key[WG_KEY_LEN],
    const char *why)
{
	char b64[45];

	wg_key_to_base64(key, b64);
	log_warnx("store %s: %s %s: %s", path, what, b64, why);
}

int
store_peer_put(struct store *st, const struct peer *p)
{
	sqlite3_stmt *stmt = st->stmt[STMT_PUT];
	char tunnel[STORE_LIST_MAX], lan[STORE_LIST_MAX], wan[NETADDR_STRLEN];
	const char *why;
	int rc;

	if ((why = store_peer_invalid(p)) != NULL) {
		store_log_key(st->path, "put", p->key, why);
		return -EINVAL;
	}
	if (!store_in_tx(st, "put"))
		return -EINVAL;
	store_list_format(p->tunnel, p->n_tunnel, tunnel);
	store_list_format(p->lan, p->n_lan, lan);
	store_list_format(&p->wan, p->wan.family != 0 ? 1 : 0, wan);

	/* SQLITE_STATIC: every buffer outlives the step, and the bindings are cleared. */
	if ((rc = sqlite3_bind_blob(stmt, 1, p->key, WG_KEY_LEN, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 2, p->name, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 3, p->network, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 4, p->listen_port)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 5, tunnel, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 6, lan, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 7, wan, -1, SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_blob(stmt, 8, p->lan_id, p->lan_id_len,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_text(stmt, 9, p->observed_endpoint, -1,
	    SQLITE_STATIC)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(stmt, 10, p->online ? 1 : 0)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 11, p->last_seen_ms)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 12, (sqlite3_int64)p->revision)) != SQLITE_OK ||
	    (rc = p->cert_len > 0 ?
	    sqlite3_bind_blob(stmt, 13, p->cert, (int)p->cert_len, SQLITE_STATIC) :
	    sqlite3_bind_null(stmt, 13)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int(stmt, 14, p->is_static ? 1 : 0)) != SQLITE_OK ||
	    (rc = p->chain_len > 0 ?
	    sqlite3_bind_blob(stmt, 15, p->chain, (int)p->chain_len, SQLITE_STATIC) :
	    sqlite3_bind_null(stmt, 15)) != SQLITE_OK) {
		sqlite3_clear_bindings(stmt);
		log_warnx("store %s: put %s: %s", st->path, p->name, sqlite3_errstr(rc));
		return -EIO;
	}
	return store_stmt_run(st, stmt, "put");
}

int
store_peer_delete(struct store *st, const uint8_t key[WG_KEY_LEN])
{
	sqlite3_stmt *stmt = st->stmt[STMT_DELETE];
	int rc;

	if (!store_in_tx(st, "delete"))
		return -EINVAL;
	if ((rc = sqlite3_bind_blob(stmt, 1, key, WG_KEY_LEN, SQLITE_STATIC)) != SQLITE_OK) {
		store_log_key(st->path, "delete", key, sqlite3_errstr(rc));
		return -EIO;
	}
	return store_stmt_run(st, stmt, "delete");
}

bool
store_column_text(sqlite3_stmt *stmt, int i, char *out, size_t outlen)
{
	const unsigned char *text = sqlite3_column_text(stmt, i);
	size_t len = (size_t)sqlite3_column_bytes(stmt, i);

	if (len >= outlen)
		return false;
	memcpy(out, text != NULL ? (const char *)text : "", len);
	out[len] = '\0';
	return true;
}

/* Reads the current row into p; p->cert and p->chain point into SQLite's row until the
 * next step. */
static const char *
store_peer_read(sqlite3_stmt *stmt, struct peer *p)
{
	const void *blob;
	sqlite3_int64 port;
	uint8_t n_wan;
	int len;

	memset(p, 0, sizeof(*p));
	blob = sqlite3_column_blob(stmt, 0);
	if (blob == NULL || sqlite3_column_bytes(stmt, 0) != WG_KEY_LEN)
		return "bad key";
	memcpy(p->key, blob, WG_KEY_LEN);
	if (!store_column_text(stmt, 1, p->name, sizeof(p->name)) ||
	    !store_column_text(stmt, 2, p->network, sizeof(p->network)))
		return "name or network too long";
	port = sqlite3_column_int64(stmt, 3);
	if (port < 0 || port > UINT32_MAX)
		return "bad listen port";
	p->listen_port = (uint32_t)port;
	if (!store_list_parse((const char *)sqlite3_column_text(stmt, 4), p->tunnel,
	    CERT_TUNNEL_MAX, &p->n_tunnel))
		return "bad tunnel addresses";
	if (!store_list_parse((const char *)sqlite3_column_text(stmt, 5), p->lan,
	    PEER_LAN_MAX, &p->n_lan))
		return "bad LAN addresses";
	if (!store_list_parse((const char *)sqlite3_column_text(stmt, 6), &p->wan, 1, &n_wan))
		return "bad WAN address";
	len = sqlite3_column_bytes(stmt, 7);
	if (len > PEER_LAN_ID_MAX)
		return "lan_id too long";
	if (len > 0)
		memcpy(p->lan_id, sqlite3_column_blob(stmt, 7), (size_t)len);
	p->lan_id_len = (uint8_t)len;
	if (!store_column_text(stmt, 8, p->observed_endpoint, sizeof(p->observed_endpoint)))
		return "observed endpoint too long";
	p->online = sqlite3_column_int(stmt, 9) != 0;
	p->last_seen_ms = sqlite3_column_int64(stmt, 10);
	p->revision = (uint64_t)sqlite3_column_int64(stmt, 11);
	blob = sqlite3_column_blob(stmt, 12);
	len = sqlite3_column_bytes(stmt, 12);
	if (blob != NULL && len > 0) {
		/* Borrowed for the callback only, which sees the record as const. */
		p->cert = (uint8_t *)(uintptr_t)blob;
		p->cert_len = (size_t)len;
	}
	p->is_static = sqlite3_column_int(stmt, 13) != 0;
	blob = sqlite3_column_blob(stmt, 14);
	len = sqlite3_column_bytes(stmt, 14);
	if (blob != NULL && len > 0) {
		p->chain = (uint8_t *)(uintptr_t)blob;
		p->chain_len = (size_t)len;
	}
	return NULL;
}

int
store_peers_foreach(struct store *st, int (*fn)(const struct peer *p, void *arg), void *arg)
{
	sqlite3_stmt *stmt = st->stmt[STMT_FOREACH];
	struct peer p;
	const char *why;
	int rc, ret = 0;

	if (st->shared != NULL)
		return store_shared_peers_foreach(st->shared, fn, arg);
	/* The statement is shared: fn must not start another walk. */
	if (sqlite3_stmt_busy(stmt)) {
		log_warnx("store %s: nested foreach", st->path);
		return -EBUSY;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if ((why = store_peer_read(stmt, &p)) != NULL) {
			store_log_key(st->path, "read", p.key, why);
			ret = -EIO;
			goto out;
		}
		if ((ret = fn(&p, arg)) != 0)
			goto out;
	}
	if (rc != SQLITE_DONE) {
		log_warnx("store %s: read peers: %s", st->path, sqlite3_errmsg(st->db));
		ret = -EIO;
	}
out:
	sqlite3_reset(stmt);
	return ret;
}
