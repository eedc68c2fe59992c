/* The service's sweeps, run from main.c's timers and CRL reloads: a new CRL set closes
 * the connections and removes the peers it revokes; certificates near expiry are logged. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "rpc/log.h"
#include "server/crl.h"
#include "server/peers.h"
#include "server/service_impl.h"

static bool
cert_revoked_x509(const struct crlset *crls, X509 *x, char *serial, size_t serial_len)
{
	struct cert_identity id;
	char err[160];

	if (x == NULL || !crlset_revokes(crls, x))
		return false;
	if (cert_identity_from_x509(x, &id, err, sizeof(err)))
		snprintf(serial, serial_len, "%s", id.serial);
	return true;
}

static bool
cert_revoked(const struct crlset *crls, const uint8_t *der, size_t len, char *serial,
    size_t serial_len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	bool revoked = cert_revoked_x509(crls, x, serial, serial_len);

	X509_free(x);
	return revoked;
}

/* The serial of x as hex, for logs. */
static void
serial_hex(X509 *x, char *out, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;

	snprintf(out, len, "%s", hex != NULL ? hex : "?");
	OPENSSL_free(hex);
	BN_free(bn);
}

/* True when the root's CRL revokes an intermediate of chain (an online issuer): all it
 * signed goes with it. Its serial goes to serial. */
static bool
chain_revoked_x509(const struct crlset *crls, STACK_OF(X509) *chain, char *serial,
    size_t serial_len)
{
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (crlset_revokes(crls, sk_X509_value(chain, i))) {
			serial_hex(sk_X509_value(chain, i), serial, serial_len);
			return true;
		}
	return false;
}

/* The same for a stored record's chain. */
static bool
peer_chain_revoked(const struct crlset *crls, const struct peer *p, char *serial,
    size_t serial_len)
{
	const uint8_t *der[PEER_CHAIN_MAX];
	size_t len[PEER_CHAIN_MAX];
	int n = peer_chain_split(p, der, len, PEER_CHAIN_MAX);
	bool revoked = false;

	for (int i = 0; i < n && !revoked; i++) {
		const unsigned char *q = der[i];
		X509 *x = d2i_X509(NULL, &q, (long)len[i]);
		if (x != NULL && crlset_revokes(crls, x)) {
			serial_hex(x, serial, serial_len);
			revoked = true;
		}
		X509_free(x);
	}
	return revoked;
}

struct sweep_ctx {
	struct service *svc;
	size_t removed;
};

static int
sweep_peer(const struct peer *p, void *arg)
{
	struct sweep_ctx *sw = arg;
	struct change *c;
	char serial[80] = "";

	if (cert_revoked(sw->svc->crls, p->cert, p->cert_len, serial, sizeof(serial)))
		log_warnx("certificate of %s (serial %s) is revoked: removing the peer", p->name,
		    serial);
	else if (peer_chain_revoked(sw->svc->crls, p, serial, sizeof(serial)))
		log_warnx("the issuer of %s's certificate (serial %s) is revoked: removing the "
		    "peer", p->name, serial);
	else
		return 0;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	c->kind = CHANGE_REMOVE;
	memcpy(c->key, p->key, WG_KEY_LEN);
	svc_change_queue(sw->svc, c);
	sw->removed++;
	return 0;
}

size_t
service_apply_crls(struct service *svc, struct crlset *crls, bool *changed)
{
	struct sweep_ctx sw = { svc, 0 };
	struct agent_conn *ac, *next;
	struct crlset *old = svc->crls;
	char serial[80];

	if (changed != NULL)
		*changed = !crlset_equal(old, crls);
	svc->crls = crls;
	/* each network's agents get their own CA's CRL when it changed */
	watch_broadcast_crl(svc, old);
	crlset_del(old);
	for (ac = svc->conns; ac != NULL; ac = next) {
		next = ac->next;
		if (cert_revoked_x509(crls, rpc_conn_peer_cert(ac->rc), serial, sizeof(serial))) {
			log_warnx("certificate of %s (serial %s) is revoked: closing its connection",
			    ac->id.name, serial);
			/* frees ac, and may free others' watchers: restart the walk */
			rpc_conn_close(ac->rc, "certificate revoked");
			next = svc->conns;
		} else if (chain_revoked_x509(crls, ac->chain, serial, sizeof(serial))) {
			log_warnx("the issuer of %s's certificate (serial %s) is revoked: closing "
			    "its connection", ac->id.name, serial);
			rpc_conn_close(ac->rc, "issuer revoked");
			next = svc->conns;
		}
	}
	peer_table_foreach(svc->peers, NULL, sweep_peer, &sw);
	return sw.removed;
}

struct expiry_ctx {
	int days;
	size_t n;
};

static int
warn_expiring(const struct peer *p, void *arg)
{
	struct expiry_ctx *e = arg;
	const unsigned char *der = p->cert;
	X509 *x = d2i_X509(NULL, &der, (long)p->cert_len);
	struct cert_identity id;
	char err[160];
	int left;

	if (x == NULL)
		return 0;
	left = cert_days_left(x);
	if (left != INT_MIN && left < e->days && cert_identity_from_x509(x, &id, err, sizeof(err))) {
		log_warnx("certificate of %s (serial %s) expires in %d days: issue a new one",
		    p->name, id.serial, left);
		e->n++;
	}
	X509_free(x);
	return 0;
}

size_t
service_log_expiring(struct service *svc, unsigned days)
{
	struct expiry_ctx e = { (int)days, 0 };

	if (days > 0)
		peer_table_foreach(svc->peers, NULL, warn_expiring, &e);
	return e.n;
}
