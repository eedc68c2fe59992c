/* The agent renews its own certificate (issue 13): at two thirds of its lifetime it sends a
 * CSR for its current TLS key over its mutual-TLS connection (WireSync.Renew), polls while
 * the operator has not approved, checks what comes back against its CA and its current
 * identity, writes it over its certificate file (tmp + rename) and reconnects to the server
 * with it. The WireGuard interface is not touched: its key and addresses stay the same, so
 * the tunnels keep passing traffic. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "agent/agent_impl.h"
#include "agent/csr.h"
#include "agent/renew.h"
#include "rpc/grpc.h"
#include "rpc/log.h"
#include "rpc/tls.h"

#define RENEW_PATH "/wiresync.v1.WireSync/Renew"
#define RENEW_TIMEOUT_MS 30000
#define RENEW_CHAIN_MAX 4
#define RENEW_DENIED_RETRY_MS (3600u * 1000)

struct agent_renew {
	struct agent *a;
	struct loop_timer timer;
	struct rpc_client *client, *stale;
	uint64_t gen;                /* the client's server (a->servers.gen) */
	struct loop_defer stale_defer;
	bool inflight;
	uint8_t *csr;                /* kept across polls: the same CSR resumes the request */
	size_t csr_len;
	Wiresync__V1__RenewReply *reply;
	struct backoff poll;
	uint64_t logged_id;          /* the waiting request already told to the operator */
	SSL_CTX *ctx;                /* the context made with a renewed certificate; NULL none */
	int64_t not_after;
};

static void
when_text(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void renew_start(void *arg);

/* Arms the renewal of the certificate valid from nb to na. */
static void
renew_arm(struct agent_renew *r, int64_t nb, int64_t na)
{
	int64_t due = renew_due(nb, na), now = now_s();
	char until[32], at[32];

	r->not_after = na;
	when_text(na, until);
	when_text(due > now ? due : now, at);
	log_info("certificate %s: serial %s, valid until %s; renewal asked at %s",
	    r->a->conf->certificate, r->a->self.serial, until, at);
	loop_timer_set(r->a->loop, &r->timer, due > now ? (uint64_t)(due - now) * 1000 : 1000,
	    renew_start, r);
}

static void
stale_drop(void *arg)
{
	struct agent_renew *r = arg;

	rpc_client_del(r->stale);
	r->stale = NULL;
}

/* Never freed from inside its own callback: handed to the end of the loop turn. */
static void
client_drop(struct agent_renew *r)
{
	if (r->client == NULL)
		return;
	rpc_client_del(r->stale);
	r->stale = r->client;
	r->client = NULL;
	loop_defer(r->a->loop, &r->stale_defer, stale_drop, r);
}

static void
forget_csr(struct agent_renew *r)
{
	free(r->csr);
	r->csr = NULL;
	r->csr_len = 0;
}

static void
poll_later(struct agent_renew *r, uint32_t delay_ms)
{
	loop_timer_set(r->a->loop, &r->timer, delay_ms, renew_start, r);
}

static uint32_t
poll_delay(struct agent_renew *r)
{
	r->poll.cap_ms = renew_poll_cap_ms(now_s(), r->not_after);
	return backoff_next(&r->poll);
}

/* --- the new certificate ---------------------------------------------------------------- */

/* The first certificate of the CA file, DER (OPENSSL_free), or NULL. */
static uint8_t *
ca_der(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	X509 *x = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned char *der = NULL;
	int n = x != NULL ? i2d_X509(x, &der) : -1;

	if (f != NULL)
		fclose(f);
	X509_free(x);
	*len = n > 0 ? (size_t)n : 0;
	return n > 0 ? der : NULL;
}

/* leaf then chain as PEM into path.new with mode, fsync'd; 0 or -1 with err. */
static int
pem_tmp_write(const char *tmp, X509 *leaf, STACK_OF(X509) *chain, mode_t mode, char *err,
    size_t errlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int fd = -1, rc = -1;

	if (b == NULL || PEM_write_bio_X509(b, leaf) != 1) {
		snprintf(err, errlen, "cannot encode the certificate");
		goto out;
	}
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (PEM_write_bio_X509(b, sk_X509_value(chain, i)) != 1) {
			snprintf(err, errlen, "cannot encode the chain");
			goto out;
		}
	n = BIO_get_mem_data(b, &p);
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)) < 0 ||
	    fchmod(fd, mode) < 0 || write(fd, p, (size_t)n) != (ssize_t)n || fsync(fd) < 0) {
		snprintf(err, errlen, "%.300s: %s", tmp, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	BIO_free(b);
	return rc;
}

/* Checks the issued certificate, writes it over ours and takes it for the next
 * connections. 0; -1 with err when the certificate is not one we can take (a new CSR
 * makes a new request); -2 with err when writing or loading it failed here (the same
 * CSR fetches it again). Nothing is changed on failure. */
static int
renew_install(struct agent_renew *r, const Wiresync__V1__RenewReply *m, char *err,
    size_t errlen)
{
	struct agent *a = r->a;
	const uint8_t *chain[RENEW_CHAIN_MAX];
	size_t chain_len[RENEW_CHAIN_MAX], ca_len = 0;
	uint8_t pin[CSR_SHA256_LEN], *ca = NULL;
	struct tls_files f = { NULL, a->conf->private_key, a->conf->ca, NULL };
	struct cert_identity id;
	X509 *leaf = NULL, *root = NULL;
	STACK_OF(X509) *inter = NULL;
	SSL_CTX *ctx = NULL;
	struct stat st;
	char tmp[4200], why[256], until[32];
	int rc = -1;

	if (m->n_chain > RENEW_CHAIN_MAX) {
		snprintf(err, errlen, "the reply has %zu chain certificates, at most %d",
		    m->n_chain, RENEW_CHAIN_MAX);
		return -1;
	}
	for (size_t i = 0; i < m->n_chain; i++) {
		chain[i] = m->chain[i].data;
		chain_len[i] = m->chain[i].len;
	}
	if ((ca = ca_der(a->conf->ca, &ca_len)) == NULL) {
		snprintf(err, errlen, "%s: cannot read the CA certificate", a->conf->ca);
		return -1;
	}
	SHA256(ca, ca_len, pin);
	if (csr_reply_check(m->certificate.data, m->certificate.len, ca, ca_len, chain,
	    chain_len, m->n_chain, pin, SSL_CTX_get0_privatekey(a->ctx), a->self.name,
	    a->self.key, &id, &leaf, &root, &inter, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	if (!renew_same_identity(&a->self, &id, why, sizeof(why))) {
		snprintf(err, errlen, "the renewed certificate is not ours: %s", why);
		goto out;
	}
	if (stat(a->conf->certificate, &st) < 0)
		st.st_mode = 0644;
	snprintf(tmp, sizeof(tmp), "%s.new", a->conf->certificate);
	rc = -2;
	if (pem_tmp_write(tmp, leaf, inter, st.st_mode & 07777, err, errlen) < 0)
		goto out;
	f.certificate = tmp;
	if ((ctx = tls_client_ctx_new(&f, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "the renewed certificate does not load: %s", why);
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, a->conf->certificate) < 0) {
		snprintf(err, errlen, "%.300s: %s", a->conf->certificate, strerror(errno));
		unlink(tmp);
		SSL_CTX_free(ctx);
		goto out;
	}
	when_text(id.not_after, until);
	log_info("certificate renewed: serial %s, valid until %s (was %s); %s written, "
	    "reconnecting to the server with it (the tunnels stay)", id.serial, until,
	    a->self.serial, a->conf->certificate);
	SSL_CTX_free(r->ctx);        /* the clients made with it hold their own reference */
	r->ctx = a->ctx = ctx;
	a->self = id;
	renew_arm(r, cert_asn1_time_s(X509_get0_notBefore(leaf)), id.not_after);
	rc = 0;
out:
	OPENSSL_free(ca);
	X509_free(leaf);
	X509_free(root);
	sk_X509_pop_free(inter, X509_free);
	return rc;
}

/* --- the call --------------------------------------------------------------------------- */

static void
renew_message(void *arg, const uint8_t *data, size_t len)
{
	struct agent_renew *r = arg;

	if (r->reply != NULL)
		wiresync__v1__renew_reply__free_unpacked(r->reply, NULL);
	r->reply = wiresync__v1__renew_reply__unpack(NULL, len, data);
}

static void
renew_reply_take(struct agent_renew *r, const Wiresync__V1__RenewReply *m)
{
	char err[512], until[32];
	uint32_t delay;
	int rc;

	switch (m->state) {
	case WIRESYNC__V1__RENEW_STATE__RENEW_ISSUED:
		if ((rc = renew_install(r, m, err, sizeof(err))) == 0) {
			forget_csr(r);
			backoff_reset(&r->poll);
			client_drop(r);
			agent_reconnect(r->a);
			return;
		}
		delay = poll_delay(r);
		log_warnx("certificate renewal: %s; asking again in %u ms%s", err, delay,
		    rc == -1 ? " with a new request" : "");
		if (rc == -1)
			forget_csr(r);
		poll_later(r, delay);
		return;
	case WIRESYNC__V1__RENEW_STATE__RENEW_DENIED:
		when_text(r->not_after, until);
		log_warnx("certificate renewal request %llu denied: %s; the certificate expires at "
		    "%s: ask the operator (asking again in an hour)", (unsigned long long)m->id,
		    m->message, until);
		forget_csr(r);
		poll_later(r, RENEW_DENIED_RETRY_MS);
		return;
	default:
		delay = poll_delay(r);
		if (m->id != r->logged_id) {
			when_text(r->not_after, until);
			log_info("certificate renewal request %llu waits for the operator: run "
			    "`wiresyncctl approve --renewals` where the CA lives (the certificate "
			    "expires at %s)", (unsigned long long)m->id, until);
			r->logged_id = m->id;
		} else {
			log_debug("certificate renewal request %llu still waiting; next poll in %u ms",
			    (unsigned long long)m->id, delay);
		}
		poll_later(r, delay);
		return;
	}
}

static void
renew_done(void *arg, int status, const char *message)
{
	struct agent_renew *r = arg;
	Wiresync__V1__RenewReply *m = r->reply;
	uint32_t delay;

	r->inflight = false;
	r->reply = NULL;
	if (r->a->stopping) {
		if (m != NULL)
			wiresync__v1__renew_reply__free_unpacked(m, NULL);
		return;
	}
	if (status == GRPC_OK && m != NULL) {
		renew_reply_take(r, m);
	} else {
		delay = poll_delay(r);
		log_warnx("certificate renewal: Renew failed: %s: %s; retrying in %u ms",
		    grpc_status_name(status), status == GRPC_OK ? "no reply" : message, delay);
		client_drop(r);
		poll_later(r, delay);
	}
	if (m != NULL)
		wiresync__v1__renew_reply__free_unpacked(m, NULL);
}

static void
renew_start(void *arg)
{
	static const struct rpc_client_cb cb = { .on_message = renew_message,
	    .on_done = renew_done };
	struct agent_renew *r = arg;
	struct agent *a = r->a;
	Wiresync__V1__RenewRequest m = WIRESYNC__V1__RENEW_REQUEST__INIT;
	uint8_t buf[CSR_DER_MAX + 16];
	size_t len;
	char err[256];

	if (r->inflight)
		return;
	if (r->csr == NULL && csr_build(SSL_CTX_get0_privatekey(a->ctx), a->self.name, &r->csr,
	    &r->csr_len, err, sizeof(err)) < 0) {
		log_warnx("certificate renewal: cannot make a CSR: %s", err);
		poll_later(r, poll_delay(r));
		return;
	}
	m.csr.data = r->csr;
	m.csr.len = r->csr_len;
	len = wiresync__v1__renew_request__get_packed_size(&m);
	if (len > sizeof(buf)) {
		forget_csr(r);
		return;
	}
	wiresync__v1__renew_request__pack(&m, buf);
	if (r->client == NULL || !rpc_client_alive(r->client) || r->gen != a->servers.gen) {
		client_drop(r);
		if ((r->client = agent_server_client(a, &r->gen)) == NULL) {
			poll_later(r, poll_delay(r));
			return;
		}
	}
	if (rpc_client_call(r->client, RENEW_PATH, buf, len, RENEW_TIMEOUT_MS, &cb, r) != NULL)
		r->inflight = true;
	else
		poll_later(r, poll_delay(r));
}

/* --- life ------------------------------------------------------------------------------- */

struct agent_renew *
agent_renew_new(struct agent *a)
{
	struct agent_renew *r = calloc(1, sizeof(*r));
	X509 *own = SSL_CTX_get0_certificate(a->ctx);

	if (r == NULL)
		return NULL;
	r->a = a;
	backoff_init(&r->poll, RENEW_POLL_BASE_MS, RENEW_POLL_CAP_MS, 0);
	if (own != NULL)
		renew_arm(r, cert_asn1_time_s(X509_get0_notBefore(own)),
		    cert_asn1_time_s(X509_get0_notAfter(own)));
	return r;
}

void
agent_renew_del(struct agent_renew *r)
{
	if (r == NULL)
		return;
	loop_timer_cancel(r->a->loop, &r->timer);
	loop_defer_cancel(r->a->loop, &r->stale_defer);
	rpc_client_del(r->client);
	rpc_client_del(r->stale);
	if (r->reply != NULL)
		wiresync__v1__renew_reply__free_unpacked(r->reply, NULL);
	forget_csr(r);
	SSL_CTX_free(r->ctx);
	free(r);
}
