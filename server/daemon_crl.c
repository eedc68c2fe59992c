/* wiresyncd: the CRLs in force, the session ticket keys that must not outlive them, and the
 * daily expiry warnings (server/daemon.h). */
#include "config.h"

#include <limits.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/x509.h>

#include "common/cert.h"
#include "rpc/log.h"
#include "rpc/tickets.h"
#include "rpc/tls.h"
#include "server/audit.h"
#include "server/crl.h"
#include "server/web.h"
#include "server/daemon.h"
#include "server/issuer.h"
#include "server/service.h"
#include "server/store.h"

int64_t
wall_s(void)
{
	return (int64_t)time(NULL);
}

static void crl_stale_timer_arm(struct daemon *d);

/* The moment a CRL goes stale is worth a line: agents keep their peers, and the server
 * keeps serving (or, with crl_stale = refuse, admits no one new). */
static void
on_crl_stale_timer(void *arg)
{
	struct daemon *d = arg;

	crlset_log_stale(service_crls(d->svc), wall_s(), 0, d->crl, d->crl_refuse);
	crl_stale_timer_arm(d);
}

static void
crl_stale_timer_arm(struct daemon *d)
{
	int64_t now = wall_s(), next = crlset_next_stale(service_crls(d->svc), now);

	loop_timer_cancel(d->loop, &d->crl_stale_timer);
	if (next > 0)
		loop_timer_set(d->loop, &d->crl_stale_timer, (uint64_t)(next - now + 1) * 1000,
		    on_crl_stale_timer, d);
}

/* Later handshakes check the new CRLs; live connections and stored peers are swept now.
 * Returns 1 when the CRLs differ from the ones in force, 0 when they are the same, -1
 * (the ones in force stay). */
int
apply_crl(struct daemon *d, char *err, size_t errlen)
{
	struct crlset *set;
	bool changed = false;

	set = crlset_read(d->crl, SSL_CTX_get_cert_store(d->ctx), service_revision(d->svc), err,
	    errlen);
	if (set == NULL)
		return -1;
	if (tls_ctx_set_crls(d->ctx, crlset_stack(set), err, errlen) < 0) {
		crlset_del(set);
		return -1;
	}
	audit_crls(d->svc, set, service_crls(d->svc), d->crl);   /* before the old set goes */
	service_apply_crls(d->svc, set, &changed);
	/* the console's HTTPS checks admins against the same CRLs */
	if (changed && web_set_crls(d->web, crlset_stack(service_crls(d->svc)), err, errlen) < 0)
		log_warnx("web console: %s; it keeps the CRLs it had", err);
	crl_stale_timer_arm(d);
	return changed;
}

/* A session resumed from a ticket skips the CRL: tickets made before a CRL change must
 * not resume again. */
static void
forget_tickets(struct daemon *d, const char *why)
{
	char err[256];

	if (d->tickets == NULL)
		return;
	if (store_shared(d->store)) {
		log_info("%s: new session ticket keys for the cluster; older sessions need a full "
		    "handshake", why);
		forget_shared_tickets(d);
		return;
	}
	if (tls_tickets_rotate(d->tickets, true, err, sizeof(err)) < 0)
		log_warnx("%s: cannot make new ticket keys: %s", why, err);
	else
		log_info("%s: new session ticket keys; older sessions need a full handshake", why);
}

void
reload_crl(struct daemon *d, const char *why)
{
	char err[256];

	if (d->crl == NULL || d->crl[0] == '\0') {
		log_info("%s: no crl configured, nothing to reload", why);
		return;
	}
	switch (apply_crl(d, err, sizeof(err))) {
	case -1:
		log_warnx("%s: keeping the old CRL: %s", why, err);
		break;
	case 0:
		log_info("%s: CRL %s unchanged", why, d->crl);
		break;
	default:
		log_info("%s: reloaded CRL %s (%zu CAs)", why, d->crl,
		    crlset_count(service_crls(d->svc)));
		forget_tickets(d, why);
		crlset_log_stale(service_crls(d->svc), wall_s(), d->expiry_warn_days, d->crl,
		    d->crl_refuse);
	}
}

void
on_crl_file(void *arg)
{
	reload_crl(arg, "CRL file changed");
}

static void
on_ticket_timer(void *arg)
{
	struct daemon *d = arg;
	char err[256];

	if (tls_tickets_rotate(d->tickets, false, err, sizeof(err)) < 0)
		log_warnx("cannot rotate the session ticket keys: %s", err);
	else
		log_debug("rotated the session ticket keys");
	/* on failure, try again in a minute */
	loop_timer_set(d->loop, &d->ticket_timer,
	    tls_tickets_due_ms(d->tickets) > 0 ? tls_tickets_due_ms(d->tickets) : 60000,
	    on_ticket_timer, d);
}

/* Once a day: certificates about to expire, ours and the stored peers', and CRLs. */
void
on_expiry_timer(void *arg)
{
	struct daemon *d = arg;
	X509 *own = SSL_CTX_get0_certificate(d->ctx);
	int left = own != NULL ? cert_days_left(own) : INT_MIN;

	if (left != INT_MIN && left < (int)d->expiry_warn_days)
		log_warnx("the server's own certificate expires in %d days: issue a new one", left);
	if (service_issuer(d->svc) != NULL &&
	    issuer_expiring(service_issuer(d->svc), wall_s(), d->expiry_warn_days, &left))
		log_warnx("the online issuer (issuer_certificate) of network %s ends in %d days, "
		    "and what it signs with it: make a new one (wiresync-ca issuer NAME --force "
		    "--ip-range ...) and reload", issuer_network(service_issuer(d->svc)), left);
	service_log_expiring(d->svc, d->expiry_warn_days);
	crlset_log_stale(service_crls(d->svc), wall_s(), d->expiry_warn_days, d->crl,
	    d->crl_refuse);
	loop_timer_set(d->loop, &d->expiry_timer, 24ull * 3600 * 1000, on_expiry_timer, d);
}

/* Ticket keys older than the CRL file may have sealed sessions of revoked certificates.
 * Nanoseconds, not seconds: a CRL written in the second the keys were made is not newer
 * (a tie, the same clock tick, still counts as newer: forgetting is the safe side). */
int
open_tickets(struct daemon *d, const struct serverconf *conf, char *err, size_t errlen)
{
	struct stat crl_st, tk_st;
	bool crl_newer;

	if (store_shared(d->store))
		return open_shared_tickets(d, conf->ticket_key_rotate_s, err, errlen);

	crl_newer = d->crl != NULL && stat(d->crl, &crl_st) == 0 &&
	    stat(conf->ticket_key_file, &tk_st) == 0 &&
	    (crl_st.st_mtim.tv_sec > tk_st.st_mtim.tv_sec ||
	    (crl_st.st_mtim.tv_sec == tk_st.st_mtim.tv_sec &&
	    crl_st.st_mtim.tv_nsec >= tk_st.st_mtim.tv_nsec));
	d->tickets = tls_tickets_open(d->ctx, conf->ticket_key_file, conf->ticket_key_rotate_s,
	    err, errlen);
	if (d->tickets == NULL)
		return -1;
	if (crl_newer)
		forget_tickets(d, "CRL newer than the ticket keys");
	return loop_timer_set(d->loop, &d->ticket_timer, tls_tickets_due_ms(d->tickets),
	    on_ticket_timer, d);
}

