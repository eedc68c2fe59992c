/* wiresync.v1.Admin's CreateToken (issue 13): a join token that lets hosts of the caller's
 * network join without waiting for the operator, once the server has an online issuer to
 * sign them with. The token's text is in the reply only: the store keeps its SHA-256
 * (server/store_token.c), and the log never prints it. Part of the Admin service
 * (admin_impl.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "proto/admin.pb-c.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "server/admin_impl.h"
#include "server/audit.h"
#include "server/enroll_impl.h"
#include "server/issuer.h"
#include "server/token.h"

/* Tokens stay this long past their expiry, so that a late host hears "expired", not
 * "unknown"; then CreateToken drops them. */
#define TOKEN_KEEP_EXPIRED_S (7 * 86400)

/* The network the caller makes a token for: its own; false with the call failed. */
static bool
token_network(struct admin *a, struct rpc_call *call, const struct agent_conn *ac,
    const char *given, const struct issuer **is)
{
	const char *network = ac->id.network;

	if (given[0] != '\0' && strcmp(given, network) != 0) {
		rpc_call_fail(call, GRPC_PERMISSION_DENIED, "network: %s is not the network of "
		    "your admin certificate (%s)", given, network);
		return false;
	}
	if ((*is = service_issuer(a->svc)) == NULL) {
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "this server has no online issuer "
		    "(issuer_certificate): approve joins with wiresyncctl approve");
		return false;
	}
	if (strcmp(issuer_network(*is), network) != 0) {
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "network: the online issuer signs "
		    "for network %s only, not %s", issuer_network(*is), network);
		return false;
	}
	if (a->enroll == NULL || enroll_pool(a->enroll, network) == NULL) {
		rpc_call_fail(call, GRPC_FAILED_PRECONDITION, "network: %s has no pool (pool = "
		    "%s CIDR in the server config): a token join needs one to take its address "
		    "from", network, network);
		return false;
	}
	return true;
}

void
adm_handle_create_token(struct rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
	struct admin *a = arg;
	const struct agent_conn *ac = adm_caller(call);
	Wiresync__V1__CreateTokenRequest *m;
	Wiresync__V1__CreateTokenReply r = WIRESYNC__V1__CREATE_TOKEN_REPLY__INIT;
	const struct issuer *is;
	struct token_params p;
	struct store_token t;
	char text[TOKEN_TEXT_LEN + 1] = "", why[200];
	int64_t now = (int64_t)time(NULL);
	int ret;

	if (ac == NULL)
		return;
	if ((m = wiresync__v1__create_token_request__unpack(NULL, len, req)) == NULL) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "CreateTokenRequest does not decode");
		return;
	}
	if (!token_network(a, call, ac, m->network, &is))
		goto out;
	if (!token_params_resolve(m->uses, m->expires_s, (const char *const *)m->groups,
	    m->n_groups, &p, why, sizeof(why))) {
		rpc_call_fail(call, GRPC_INVALID_ARGUMENT, "%s", why);
		goto out;
	}
	if (store_tokens_expire(a->st, now - TOKEN_KEEP_EXPIRED_S) < 0)
		log_warnx("join tokens expired a week ago: cannot drop them from the store");
	memset(&t, 0, sizeof(t));
	snprintf(t.network, sizeof(t.network), "%s", ac->id.network);
	t.uses_left = p.uses;
	t.created_s = now;
	t.expires_s = now + p.lifetime_s;
	t.n_groups = (uint8_t)p.n_groups;
	memcpy(t.groups, p.groups, sizeof(t.groups));
	snprintf(t.admin_name, sizeof(t.admin_name), "%s", ac->id.name);
	snprintf(t.admin_serial, sizeof(t.admin_serial), "%s", ac->id.serial);
	if (token_generate(text) < 0) {
		rpc_call_fail(call, GRPC_UNAVAILABLE, "the random generator failed: try again");
		goto out;
	}
	token_hash(text, t.sha256);
	if ((ret = store_token_add(a->st, &t)) < 0) {
		rpc_call_fail(call, GRPC_UNAVAILABLE, "store write failed: no token made; try "
		    "again");
		goto out;
	}
	log_info("%s (%s, serial %s) made join token %" PRIu64 ": %" PRIu32 " use%s, "
	    "expires in %" PRId64 " s, %zu group%s", ac->id.name, ac->id.network,
	    ac->id.serial, t.id, t.uses_left, t.uses_left == 1 ? "" : "s", p.lifetime_s,
	    p.n_groups, p.n_groups == 1 ? "" : "s");
	audit_record(a->svc, ac, t.network, "token-create", "token %" PRIu64 ": %" PRIu32
	    " uses, expires in %" PRId64 " s, %zu groups", t.id, t.uses_left, p.lifetime_s, p.n_groups);
	r.token = text;
	r.id = t.id;
	r.network = t.network;
	r.uses = t.uses_left;
	r.expires = t.expires_s;
	svc_reply_message(call, &r.base);
out:
	OPENSSL_cleanse(text, sizeof(text));
	wiresync__v1__create_token_request__free_unpacked(m, NULL);
}
