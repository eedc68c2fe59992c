/* The agent's revocation checks: the CA's CRL, relayed by the server but checked here and
 * saved in state_dir, peers verified again under each new one, and the warnings before our
 * certificate or the CRL in use expires. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "agent/agent_impl.h"
#include "agent/refused.h"
#include "agent/state.h"
#include "agent/verify.h"
#include "common/cert.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/log.h"

/* Once a day: our certificate, and the CRL in use, must not expire unnoticed. */
void
agent_expiry_check(void *arg)
{
	struct agent *a = arg;
	X509 *own = SSL_CTX_get0_certificate(a->ctx);
	int left = own != NULL ? cert_days_left(own) : INT_MIN;

	if (left != INT_MIN && left < (int)a->conf->expiry_warn_days)
		log_warnx("our certificate %s expires in %d days: ask the operator for a new one",
		    a->conf->certificate, left);
	agent_crl_warn(a, a->conf->expiry_warn_days);
	loop_timer_set(a->loop, &a->expiry_timer, 24ull * 3600 * 1000, agent_expiry_check, a);
}

/* --- revocation: the CA's CRL, relayed by the server but checked here --------------- */


/* A stale CRL is still enforced and peers stay: the operator must hear of it, here as on
 * the server (which logs the same). */
void
agent_crl_warn(struct agent *a, unsigned warn_days)
{
	int64_t this_up = 0, next = peer_verifier_crl_next_update(a->verifier, &this_up);
	int64_t now = now_s();
	char when[32];
	struct tm tm;
	time_t t = (time_t)next;

	if (next == 0)
		return;
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (now >= next)
		log_warnx("the CRL in use is past its nextUpdate %s: still enforcing its %d "
		    "revocations and keeping every verified peer; the operator must renew it where "
		    "the CA lives (wiresync-ca -d DIR crl) and give it to the server, which relays "
		    "it", when, peer_verifier_crl_count(a->verifier));
	else if (next - now < cert_crl_warn_window(this_up, next, warn_days))
		log_warnx("the CRL in use goes stale in %lld days (nextUpdate %s): the operator "
		    "should renew it (wiresync-ca -d DIR crl)", (long long)((next - now) / 86400),
		    when);
}

static void
on_crl_timer(void *arg)
{
	struct agent *a = arg;

	agent_crl_warn(a, 0);
	agent_crl_timer_arm(a);
}

void
agent_crl_timer_arm(struct agent *a)
{
	int64_t next = peer_verifier_crl_next_update(a->verifier, NULL), now = now_s();

	loop_timer_cancel(a->loop, &a->crl_timer);
	if (next > now)
		loop_timer_set(a->loop, &a->crl_timer, (uint64_t)(next - now + 1) * 1000,
		    on_crl_timer, a);
}

/* 1 when der became the CRL in use, 0 when it is not newer, -1 when refused (logged). */
static int
take_crl(struct agent *a, const uint8_t *der, size_t len, const char *from)
{
	char err[160];
	int r = peer_verifier_offer_crl(a->verifier, der, len, err, sizeof(err));

	if (r < 0)
		log_warnx("refusing the CRL from %s: %s", from, err);
	if (r <= 0)
		return r;
	if (!peer_verifier_crl_sha256(a->verifier, a->crl_sha256))
		memset(a->crl_sha256, 0, sizeof(a->crl_sha256));
	log_info("CRL from %s in use: %d certificates revoked", from,
	    peer_verifier_crl_count(a->verifier));
	return 1;
}

void
agent_on_crl(void *arg, const uint8_t *der, size_t len)
{
	struct agent *a = arg;

	uint8_t *all;
	size_t all_len;

	if (take_crl(a, der, len, "the server") <= 0)
		return;
	/* every CA's CRL in use, so a restart starts from all of them */
	if (peer_verifier_crls_der(a->verifier, &all, &all_len) < 0 ||
	    state_blob_save(a->crl_path, all, all_len) < 0)
		log_warnx("%s: cannot save the CRL", a->crl_path);
	free(all);
	agent_recheck(a, "verifies under the CRL now in use");
	agent_crl_warn(a, 0);
	agent_crl_timer_arm(a);
}

/* The newest of the configured CRL and the one saved from the server. */
void
agent_crl_state_load(struct agent *a)
{
	uint8_t *der;
	const uint8_t *p, *end;
	size_t len;
	int r;

	snprintf(a->crl_path, sizeof(a->crl_path), "%s/crl-%s", a->conf->state_dir,
	    a->conf->interface);
	peer_verifier_crl_sha256(a->verifier, a->crl_sha256);
	r = state_blob_load(a->crl_path, &der, &len);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		log_warnx("%s: %s", a->crl_path, strerror(-r));
		return;
	}
	/* one DER CRL per CA, one after the other */
	for (p = der, end = der + len; p < end;) {
		const unsigned char *q = p;
		X509_CRL *crl = d2i_X509_CRL(NULL, &q, (long)(end - p));
		if (crl == NULL) {
			log_warnx("%s: damaged after %zu bytes; the rest is ignored", a->crl_path,
			    (size_t)(p - der));
			break;
		}
		X509_CRL_free(crl);
		take_crl(a, p, (size_t)(q - p), a->crl_path);
		p = q;
	}
	free(der);
}
