/* The web console's sockets: a listener in the server's loop, a bounded set of clients,
 * each with an idle deadline and a bounded request, TLS when the address is not loopback,
 * and the server-sent event stream that tells open pages of each change. One request per
 * connection (Connection: close), the event stream aside. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/netaddr.h"
#include "rpc/log.h"
#include "server/links.h"
#include "server/service.h"
#include "server/service_impl.h"
#include "server/web_impl.h"

#define WEB_IDLE_MS 15000          /* a request must come whole within this */
#define WEB_BEAT_MS 5000           /* the event stream's heartbeat */
#define WEB_OUT_MAX (256 * 1024)   /* a stream that falls this far behind is closed */

struct web_client {
	struct web *w;
	bool used;
	struct loop_io io;
	struct loop_timer timer;
	SSL *ssl;
	bool handshaken;
	bool refused;                /* TLS with a certificate that is not an admin's: 403 */
	char network[CERT_NAME_MAX + 1];   /* the admin's; "" on loopback: every network */
	char in[WEB_REQUEST_MAX + 1];
	size_t in_len;
	char *out;
	size_t out_len, out_off, out_cap;
	bool close_after;            /* once out is sent */
	bool stream;                 /* an event stream */
	struct web_later *later;     /* its response on its way (web_later_answer) */
};

struct web_later {
	struct web_client *c;        /* NULL once the client is gone */
	bool head_only;
	bool inside;                 /* web_route has not returned yet */
	bool answered;               /* ... and answered meanwhile, in rs */
	struct web_resp rs;
};

static const char csp[] =
    "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Cache-Control: no-store\r\n";

static void
client_close(struct web_client *c)
{
	struct web *w = c->w;

	if (c->later != NULL) {
		c->later->c = NULL;
		c->later = NULL;
	}
	loop_timer_cancel(w->loop, &c->timer);
	loop_io_del(w->loop, &c->io);
	if (c->ssl != NULL) {
		if (c->handshaken)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	close(c->io.fd);
	c->io.fd = -1;
	/* a static peer's config page held its private key, in the request and the reply */
	OPENSSL_cleanse(c->in, sizeof(c->in));
	if (c->out != NULL)
		OPENSSL_cleanse(c->out, c->out_cap);
	free(c->out);
	c->out = NULL;
	c->used = false;
}

static void
client_timeout(void *arg)
{
	client_close(arg);
}

static bool
out_append(struct web_client *c, const char *p, size_t n)
{
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap > 0 ? c->out_cap : 4096;
		char *q;
		while (cap < c->out_len + n)
			cap *= 2;
		if (cap > WEB_OUT_MAX + WEB_REQUEST_MAX * 8 || (q = realloc(c->out, cap)) == NULL)
			return false;
		c->out = q;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return true;
}

/* Sends what is queued. 1 all sent, 0 more to send later (*want the events), -1 dead. */
static int
flush_out(struct web_client *c, uint32_t *want)
{
	while (c->out_off < c->out_len) {
		size_t left = c->out_len - c->out_off;
		if (c->ssl != NULL) {
			int n = SSL_write(c->ssl, c->out + c->out_off, left > 65536 ? 65536 :
			    (int)left), e;
			if (n > 0) {
				c->out_off += (size_t)n;
				continue;
			}
			e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				*want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
				return 0;
			}
			ERR_clear_error();
			return -1;
		} else {
			ssize_t n = send(c->io.fd, c->out + c->out_off, left, MSG_NOSIGNAL);
			if (n > 0) {
				c->out_off += (size_t)n;
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				*want = EPOLLOUT;
				return 0;
			}
			return -1;
		}
	}
	c->out_off = c->out_len = 0;
	return 1;
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 303: return "See Other";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

/* Queues the response: the head with the security headers, the CSRF cookie, the body. */
static bool
queue_resp(struct web_client *c, const struct web_resp *rs, bool head_only)
{
	char hdr[1536];
	int n;

	n = snprintf(hdr, sizeof(hdr), "HTTP/1.1 %d %s\r\n%s"
	    "Content-Type: %s\r\n"
	    "Set-Cookie: ws_csrf=%s; Path=/; SameSite=Strict; HttpOnly%s\r\n"
	    "%s%s%s",
	    rs->status, reason(rs->status), csp, rs->type, c->w->csrf,
	    c->ssl != NULL ? "; Secure" : "",
	    rs->location != NULL ? "Location: " : "", rs->location != NULL ? rs->location : "",
	    rs->location != NULL ? "\r\n" : "");
	if (n < 0 || (size_t)n >= sizeof(hdr))
		return false;
	if (rs->event_stream)
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "Connection: keep-alive\r\n\r\n"
		    "retry: 2000\n\n");
	else
		n += snprintf(hdr + n, sizeof(hdr) - (size_t)n, "Content-Length: %zu\r\n"
		    "Connection: close\r\n\r\n", rs->len);
	if ((size_t)n >= sizeof(hdr) || !out_append(c, hdr, (size_t)n))
		return false;
	return head_only || rs->len == 0 || out_append(c, rs->body, rs->len);
}

static void
simple(struct web_resp *rs, int status, const char *text)
{
	memset(rs, 0, sizeof(*rs));
	rs->status = status;
	rs->type = "text/plain; charset=utf-8";
	rs->body = strdup(text);
	rs->len = rs->body != NULL ? strlen(rs->body) : 0;
}

static void client_event(void *arg, uint32_t events);

/* A static peer's config page holds its private key: wiped, then freed. */
static void
body_drop(struct web_resp *rs)
{
	if (rs->body != NULL)
		OPENSSL_cleanse(rs->body, rs->len);
	free(rs->body);
	rs->body = NULL;
}

/* Sends rs (its body taken). */
static void
respond(struct web_client *c, struct web_resp *rs, bool head_only)
{
	bool queued;

	c->w->served++;
	queued = queue_resp(c, rs, head_only);
	body_drop(rs);                       /* copied into out, or dropped */
	if (!queued) {
		client_close(c);
		return;
	}
	if (rs->event_stream) {
		c->stream = true;
		loop_timer_cancel(c->w->loop, &c->timer);   /* the heartbeat finds dead ones */
	} else {
		c->close_after = true;
	}
}

/* A whole request (or a parse verdict st) is in: answer it, now or through a later. */
static void
handle(struct web_client *c, int st, const struct web_req *r)
{
	struct web_resp rs;
	struct web_later *l;
	bool head_only = st == 1 && r->method == WEB_HEAD;

	if (st > 1) {
		simple(&rs, st, "bad request\n");
	} else if (c->refused) {
		simple(&rs, 403, "forbidden: the console serves admin certificates only "
		    "(wiresync-ca admin NAME)\n");
	} else if ((l = calloc(1, sizeof(*l))) == NULL) {
		simple(&rs, 500, "out of memory\n");
	} else {
		l->c = c;
		l->head_only = head_only;
		l->inside = true;
		web_route(c->w, r, c->network[0] != '\0' ? c->network : NULL, l, &rs);
		l->inside = false;
		if (rs.later && !l->answered) {
			/* the idle deadline still runs; meanwhile only a dead socket matters */
			c->later = l;
			loop_io_mod(c->w->loop, &c->io, 0);
			return;
		}
		if (rs.later)
			rs = l->rs;
		free(l);
	}
	respond(c, &rs, head_only);
}

bool
web_later_wanted(const struct web_later *l)
{
	return l->c != NULL;
}

void
web_later_answer(struct web_later *l, struct web_resp *rs)
{
	struct web_client *c = l->c;
	bool head_only = l->head_only;

	if (l->inside) {
		l->rs = *rs;
		l->answered = true;
		return;
	}
	free(l);
	if (c == NULL) {
		body_drop(rs);
		return;
	}
	c->later = NULL;
	respond(c, rs, head_only);
	if (c->used)
		client_event(c, EPOLLOUT);
}

/* After the handshake: who the certificate is (the CA already verified it). */
static void
check_admin(struct web_client *c)
{
	X509 *x = SSL_get1_peer_certificate(c->ssl);
	struct cert_identity id;
	char err[160];

	if (x == NULL || !cert_identity_from_x509(x, &id, err, sizeof(err)) || !id.admin) {
		c->refused = true;
		log_info("web: %s certificate refused: not an admin's", x != NULL ?
		    (cert_identity_from_x509(x, &id, err, sizeof(err)) ? id.name : "a bad") :
		    "no");
	} else {
		snprintf(c->network, sizeof(c->network), "%s", id.network);
	}
	X509_free(x);
}

/* Reads what is there. 1 read some, 0 nothing yet (*want), -1 closed or failed. */
static int
read_in(struct web_client *c, uint32_t *want)
{
	size_t room = sizeof(c->in) - 1 - c->in_len;

	if (room == 0)
		return 1;
	if (c->ssl != NULL) {
		int n = SSL_read(c->ssl, c->in + c->in_len, (int)room), e;
		if (n > 0) {
			c->in_len += (size_t)n;
			return 1;
		}
		e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
			*want = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT;
			return 0;
		}
		ERR_clear_error();
		return -1;
	} else {
		ssize_t n = recv(c->io.fd, c->in + c->in_len, room, 0);
		if (n > 0) {
			c->in_len += (size_t)n;
			return 1;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			*want = EPOLLIN;
			return 0;
		}
		return -1;
	}
}

static void
client_event(void *arg, uint32_t events)
{
	struct web_client *c = arg;
	uint32_t want = EPOLLIN;
	int r;

	if (c->later != NULL) {
		if (events & (EPOLLERR | EPOLLHUP))
			client_close(c);
		return;
	}
	if (c->ssl != NULL && !c->handshaken) {
		r = SSL_accept(c->ssl);
		if (r != 1) {
			int e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				loop_io_mod(c->w->loop, &c->io, e == SSL_ERROR_WANT_READ ? EPOLLIN :
				    EPOLLOUT);
				return;
			}
			log_debug("web: TLS handshake failed");
			ERR_clear_error();
			client_close(c);
			return;
		}
		c->handshaken = true;
		check_admin(c);
	}
	if (c->out_len > 0) {
		if ((r = flush_out(c, &want)) < 0 || (r == 1 && c->close_after)) {
			if (r == 1 && c->ssl == NULL)
				shutdown(c->io.fd, SHUT_WR);
			client_close(c);
			return;
		}
		if (r == 0) {
			loop_io_mod(c->w->loop, &c->io, want);
			return;
		}
	}
	if (c->stream) {
		/* what a stream's client sends is dropped; EOF or an error closes it */
		char junk[256];
		c->in_len = 0;
		if (c->ssl != NULL) {
			int n = SSL_read(c->ssl, junk, sizeof(junk)), e = SSL_get_error(c->ssl, n);
			if (n <= 0 && e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				ERR_clear_error();
				client_close(c);
				return;
			}
		} else {
			ssize_t n = recv(c->io.fd, junk, sizeof(junk), 0);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				client_close(c);
				return;
			}
		}
		loop_io_mod(c->w->loop, &c->io, EPOLLIN);
		return;
	}
	while ((r = read_in(c, &want)) == 1) {
		struct web_req req;
		int st = web_http_parse(c->in, c->in_len, &req);
		if (st == 0 && c->in_len < sizeof(c->in) - 1)
			continue;
		handle(c, st == 0 ? 431 : st, &req);
		if (c->used)
			client_event(c, EPOLLOUT);
		return;
	}
	if (r < 0)
		client_close(c);
	else
		loop_io_mod(c->w->loop, &c->io, want);
}

static void
listener_event(void *arg, uint32_t events)
{
	struct web *w = arg;

	(void)events;
	for (int k = 0; k < 16; k++) {
		struct web_client *c = NULL;
		int fd = accept4(w->lis.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		for (size_t i = 0; i < WEB_MAX_CLIENTS && c == NULL; i++)
			if (!w->clients[i].used)
				c = &w->clients[i];
		if (c == NULL) {
			log_debug("web: refusing a connection: %d open", WEB_MAX_CLIENTS);
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->w = w;
		c->io.fd = fd;
		if (w->ctx != NULL && ((c->ssl = SSL_new(w->ctx)) == NULL ||
		    SSL_set_fd(c->ssl, fd) != 1)) {
			SSL_free(c->ssl);
			close(fd);
			continue;
		}
		if (loop_io_add(w->loop, &c->io, fd, EPOLLIN, client_event, c) < 0 ||
		    loop_timer_set(w->loop, &c->timer, WEB_IDLE_MS, client_timeout, c) < 0) {
			loop_io_del(w->loop, &c->io);
			SSL_free(c->ssl);
			close(fd);
			continue;
		}
		c->used = true;
	}
}

/* Tells every event stream msg; one that cannot take it is closed. */
static void
broadcast(struct web *w, const char *msg)
{
	for (size_t i = 0; i < WEB_MAX_CLIENTS; i++) {
		struct web_client *c = &w->clients[i];
		uint32_t want = EPOLLIN;
		int r;

		if (!c->used || !c->stream)
			continue;
		if (c->out_len > WEB_OUT_MAX || !out_append(c, msg, strlen(msg)) ||
		    (r = flush_out(c, &want)) < 0) {
			client_close(c);
			continue;
		}
		loop_io_mod(w->loop, &c->io, r == 0 ? want : EPOLLIN);
	}
}

static void
on_commit(void *arg, uint64_t revision)
{
	struct web *w = arg;
	char msg[64];

	w->revision = revision;
	snprintf(msg, sizeof(msg), "event: change\ndata: %llu\n\n", (unsigned long long)revision);
	broadcast(w, msg);
}

/* A link report changed a pair's up/down: /links redraws now, not at the heartbeat. */
static void
on_links(void *arg)
{
	struct web *w = arg;
	char msg[64];

	snprintf(msg, sizeof(msg), "event: change\ndata: %llu\n\n",
	    (unsigned long long)w->revision);
	broadcast(w, msg);
}

static void
on_beat(void *arg)
{
	struct web *w = arg;
	char msg[64];

	snprintf(msg, sizeof(msg), "event: beat\ndata: %llu\n\n",
	    (unsigned long long)w->revision);
	broadcast(w, msg);
	loop_timer_set(w->loop, &w->beat, WEB_BEAT_MS, on_beat, w);
}

void
web_counts(const struct web *w, size_t *clients, size_t *streams)
{
	*clients = *streams = 0;
	for (size_t i = 0; i < WEB_MAX_CLIENTS; i++)
		if (w->clients[i].used) {
			(*clients)++;
			*streams += w->clients[i].stream;
		}
}

/* --- setup ------------------------------------------------------------------------------ */

struct web *
web_new(struct loop *l, struct service *svc, struct enroll *e)
{
	struct web *w = calloc(1, sizeof(*w));
	unsigned char rnd[32];

	if (w == NULL || (w->clients = calloc(WEB_MAX_CLIENTS, sizeof(*w->clients))) == NULL ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1) {
		if (w != NULL)
			free(w->clients);
		free(w);
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(w->csrf + 2 * i, 3, "%02x", rnd[i]);
	w->loop = l;
	w->svc = svc;
	w->enroll = e;
	w->lis.fd = -1;
	w->start_s = (int64_t)time(NULL);
	w->revision = service_revision(svc);
	for (size_t i = 0; i < WEB_MAX_CLIENTS; i++)
		w->clients[i].io.fd = -1;
	return w;
}

int
web_listen(struct web *w, const char *addr, const struct tls_files *tls, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool lo;
	int fd = -1, one = 1;

	if (!web_addr_ok(addr, tls != NULL, err, errlen) ||
	    netaddr_hostport_parse(addr, &ss, &sl, &lo) != NETADDR_HOSTPORT_OK)
		return -1;
	if (tls != NULL && (w->ctx = web_tls_ctx_new(tls, err, errlen)) == NULL)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto syserr;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 16) < 0)
		goto syserr;
	if (loop_io_add(w->loop, &w->lis, fd, EPOLLIN, listener_event, w) < 0)
		goto syserr;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		w->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	if (service_on_commit(w->svc, on_commit, w) < 0)
		log_warnx("web: no commit hook left: pages update on the heartbeat only");
	links_set_observer(w->svc->links, on_links, w);
	loop_timer_set(w->loop, &w->beat, WEB_BEAT_MS, on_beat, w);
	return 0;
syserr:
	snprintf(err, errlen, "web_listen: listen on %s: %s", addr, strerror(errno));
	if (fd >= 0)
		close(fd);
	w->lis.fd = -1;
	return -1;
}

int
web_port(const struct web *w)
{
	return w->port;
}

int
web_set_crls(struct web *w, STACK_OF(X509_CRL) *crls, char *err, size_t errlen)
{
	size_t n = 0;

	if (w == NULL || w->ctx == NULL)
		return 0;
	if (tls_ctx_set_crls(w->ctx, crls, err, errlen) < 0)
		return -1;
	/* a live connection was verified against the old CRLs: browsers reconnect (an
	 * EventSource does by itself) and the new handshake checks the new ones */
	for (size_t i = 0; i < WEB_MAX_CLIENTS; i++) {
		if (w->clients[i].used) {
			client_close(&w->clients[i]);
			n++;
		}
	}
	if (n > 0)
		log_info("web console: new CRLs: closed %zu HTTPS connection%s to verify again", n,
		    n == 1 ? "" : "s");
	return 0;
}

void
web_del(struct web *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < WEB_MAX_CLIENTS; i++)
		if (w->clients[i].used)
			client_close(&w->clients[i]);
	loop_timer_cancel(w->loop, &w->beat);
	if (w->lis.fd >= 0) {
		loop_io_del(w->loop, &w->lis);
		close(w->lis.fd);
	}
	links_set_observer(w->svc->links, NULL, NULL);
	SSL_CTX_free(w->ctx);
	free(w->clients);
	free(w);
}
