/* The byte pump between a TLS socket and an nghttp2 session. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "rpc/h2conn.h"
#include "rpc/log.h"
#include "rpc/tls.h"

#define H2CONN_READ_CHUNK 16384

static void h2conn_event(void *arg, uint32_t events);

int
h2conn_init(struct h2conn *h, struct loop *l, int fd, SSL *ssl, bool server, size_t out_max,
    const struct h2conn_ops *ops, void *arg)
{
	int r;

	memset(h, 0, sizeof(*h));
	h->loop = l;
	h->ssl = ssl;
	h->server = server;
	h->out_max = out_max;
	h->ops = ops;
	h->arg = arg;
	h->io.fd = -1;
	if (SSL_set_fd(ssl, fd) != 1) {
		r = -EINVAL;
		goto fail;
	}
	if (server) {
		SSL_set_accept_state(ssl);
		h2scan_init(&h->scan);
	}
	else
		SSL_set_connect_state(ssl);
	/* A TLS client speaks first: a server starts its handshake (and OpenSSL allocates its
	 * ~40 KiB of handshake and record buffers) only once bytes arrive, so connections that
	 * never send any cost little until the handshake timeout. */
	r = loop_io_add(l, &h->io, fd, server ? EPOLLIN : EPOLLIN | EPOLLOUT, h2conn_event, h);
	if (r < 0)
		goto fail;
	return 0;
fail:
	SSL_free(ssl);
	close(fd);
	h->ssl = NULL;
	h->closed = true;
	return r;
}

void
h2conn_set_session(struct h2conn *h, nghttp2_session *s)
{
	h->session = s;
}

size_t
h2conn_pending(const struct h2conn *h)
{
	return h->out_len - h->out_off;
}

ssize_t
h2conn_send_cb(struct h2conn *h, const uint8_t *data, size_t len)
{
	size_t room;

	if (h->out == NULL) {
		h->out = malloc(h->out_max);
		if (h->out == NULL)
			return NGHTTP2_ERR_CALLBACK_FAILURE;
		h->out_len = h->out_off = 0;
	}
	if (h->out_off > 0 && h->out_len + len > h->out_max) {
		memmove(h->out, h->out + h->out_off, h->out_len - h->out_off);
		h->out_len -= h->out_off;
		h->out_off = 0;
	}
	room = h->out_max - h->out_len;
	if (room == 0)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (len > room)
		len = room;
	memcpy(h->out + h->out_len, data, len);
	h->out_len += len;
	return (ssize_t)len;
}

void
h2conn_close(struct h2conn *h, const char *why)
{
	if (h->closed)
		return;
	h->closed = true;
	if (why != NULL && h->why[0] == '\0')
		snprintf(h->why, sizeof(h->why), "%s", why);
	loop_defer_cancel(h->loop, &h->flush_defer);
	loop_io_del(h->loop, &h->io);
	if (h->ssl != NULL) {
		if (h->handshaken)
			SSL_shutdown(h->ssl);
		SSL_free(h->ssl);
		h->ssl = NULL;
	}
	if (h->io.fd >= 0) {
		/* a refused client's first request, read away: our close is then a FIN behind
		 * the alert, not a reset that makes its next write fail before it reads why */
		if (h->server && h->hs_failed) {
			char b[4096];
			for (int i = 0; i < 16 && recv(h->io.fd, b, sizeof(b), MSG_DONTWAIT) > 0; i++)
				;
		}
		close(h->io.fd);
	}
	h->io.fd = -1;
	nghttp2_session_del(h->session);
	h->session = NULL;
	free(h->out);
	h->out = NULL;
	h->out_len = h->out_off = 0;
	h->ops->closed(h, h->arg);
}

static void
set_events(struct h2conn *h, bool want_write)
{
	uint32_t ev = (h->paused ? 0 : EPOLLIN) | (want_write ? EPOLLOUT : 0);

	if (loop_io_mod(h->loop, &h->io, ev) < 0)
		h2conn_close(h, "epoll_ctl failed");
}

/* A server that refuses our certificate under TLS 1.3 does so after our handshake ended:
 * it sends an alert and closes, and with our first request unread its close is a reset,
 * which our next write meets before we read the alert. The alert is still queued: read
 * it, so that h->why says what the server said ("alert certificate revoked"). */
static void
peer_alert(struct h2conn *h)
{
	unsigned char buf[512];
	char ebuf[64];
	int n;

	ERR_clear_error();
	n = SSL_read(h->ssl, buf, sizeof(buf));
	if (n <= 0 && SSL_get_error(h->ssl, n) == SSL_ERROR_SSL) {
		ERR_error_string_n(ERR_peek_last_error(), ebuf, sizeof(ebuf));
		snprintf(h->why, sizeof(h->why), "TLS: %s", ebuf);
	}
	ERR_clear_error();
}

/* Returns 1 when the socket is blocked for writing, 0 when all was written, -1 on error. */
static int
write_out(struct h2conn *h)
{
	while (h->out_off < h->out_len) {
		int n, err;

		ERR_clear_error();
		n = SSL_write(h->ssl, h->out + h->out_off, (int)(h->out_len - h->out_off));
		if (n > 0) {
			h->out_off += (size_t)n;
			continue;
		}
		err = SSL_get_error(h->ssl, n);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ)
			return 1;
		snprintf(h->why, sizeof(h->why), "write failed: %s",
		    err == SSL_ERROR_SYSCALL ? strerror(errno) : "TLS error");
		if (err == SSL_ERROR_SYSCALL)
			peer_alert(h);
		return -1;
	}
	/* Idle connections keep no output buffer. */
	free(h->out);
	h->out = NULL;
	h->out_len = h->out_off = 0;
	return 0;
}

int
h2conn_flush(struct h2conn *h)
{
	int r, blocked;

	if (h->closed)
		return -1;
	if (!h->handshaken)
		return 0;
	for (;;) {
		r = nghttp2_session_send(h->session);
		if (r != 0) {
			h2conn_close(h, nghttp2_strerror(r));
			return -1;
		}
		blocked = write_out(h);
		if (blocked < 0) {
			h2conn_close(h, NULL);
			return -1;
		}
		/* A full buffer made nghttp2 stop early: go round once it drained. */
		if (blocked || !nghttp2_session_want_write(h->session))
			break;
	}
	if (!blocked && ((!nghttp2_session_want_read(h->session) &&
	    !nghttp2_session_want_write(h->session)) || h->close_when_flushed)) {
		h2conn_close(h, "session finished");
		return -1;
	}
	set_events(h, blocked == 1);
	return h->closed ? -1 : 0;
}

void
h2conn_pause_reading(struct h2conn *h, bool paused)
{
	h->paused = paused;
	if (!h->closed)
		set_events(h, h->io.events & EPOLLOUT);
}

void
h2conn_close_after_flush(struct h2conn *h, const char *why)
{
	if (h->why[0] == '\0')
		snprintf(h->why, sizeof(h->why), "%s", why);
	h->close_when_flushed = true;
	h2conn_flush_later(h);
}

static void
flush_deferred(void *arg)
{
	h2conn_flush(arg);
}

void
h2conn_flush_later(struct h2conn *h)
{
	if (!h->closed)
		loop_defer(h->loop, &h->flush_defer, flush_deferred, h);
}

static int
do_handshake(struct h2conn *h)
{
	int n, err;
	char ebuf[64];

	ERR_clear_error();
	n = SSL_do_handshake(h->ssl);
	if (n == 1) {
		h->handshaken = true;
		if (h->ops->handshake_done(h, h->arg) < 0) {
			h2conn_close(h, NULL);
			return -1;
		}
		return 0;
	}
	err = SSL_get_error(h->ssl, n);
	if (err == SSL_ERROR_WANT_READ) {
		set_events(h, false);
		return 1;
	}
	if (err == SSL_ERROR_WANT_WRITE) {
		set_events(h, true);
		return 1;
	}
	h->hs_failed = true;
	if (err == SSL_ERROR_SSL) {
		unsigned long e = ERR_peek_last_error();
		long vr = SSL_get_verify_result(h->ssl);
		h->hs_verify = vr;
		h->hs_error = e;
		if (vr != X509_V_OK)
			tls_verify_failure(vr, h->why, sizeof(h->why));
		else {
			ERR_error_string_n(e, ebuf, sizeof(ebuf));
			snprintf(h->why, sizeof(h->why), "TLS handshake failed: %s", ebuf);
		}
	} else if (err == SSL_ERROR_SYSCALL && errno != 0) {
		snprintf(h->why, sizeof(h->why), "connection failed: %s", strerror(errno));
	} else {
		snprintf(h->why, sizeof(h->why), "TLS handshake failed: connection closed");
	}
	ERR_clear_error();
	if (h->ops->handshake_failed != NULL)
		h->ops->handshake_failed(h, h->arg);
	h2conn_close(h, NULL);
	return -1;
}

/* nghttp2 gave up on the peer (a flood, endless CONTINUATION frames, broken framing) and
 * the session is unusable: a server still tells the client why with a last GOAWAY, written
 * directly and best effort, when no frame is half written. */
static void
goaway_last_words(struct h2conn *h, int lib_error)
{
	uint32_t code = lib_error == NGHTTP2_ERR_FLOODED ||
	    lib_error == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS ? NGHTTP2_ENHANCE_YOUR_CALM :
	    NGHTTP2_PROTOCOL_ERROR;
	int32_t last = nghttp2_session_get_last_proc_stream_id(h->session);
	uint8_t f[17] = { 0, 0, 8, NGHTTP2_GOAWAY, 0, 0, 0, 0, 0 };

	if (!h->server || h->out_off != h->out_len)
		return;
	for (int i = 0; i < 4; i++) {
		f[9 + i] = (uint8_t)((uint32_t)last >> (24 - 8 * i));
		f[13 + i] = (uint8_t)(code >> (24 - 8 * i));
	}
	ERR_clear_error();
	(void)SSL_write(h->ssl, f, sizeof(f));
	ERR_clear_error();
}

#define H2CONN_FEED_CLOSED (-1)   /* no nghttp2 error code: the connection closed meanwhile */

static long
feed_session(void *arg, const uint8_t *p, size_t n)
{
	struct h2conn *h = arg;
	ssize_t r = nghttp2_session_mem_recv(h->session, p, n);

	if (r < 0)
		return (long)r;
	return h->closed ? H2CONN_FEED_CLOSED : 0;
}

/* A client stream nghttp2 never saw open: a stock client's early cancel (rpc/h2scan.h). */
static bool
stream_idle(void *arg, int32_t id)
{
	struct h2conn *h = arg;

	if (id <= nghttp2_session_get_last_proc_stream_id(h->session) ||
	    nghttp2_session_find_stream(h->session, id) != NULL)
		return false;
	log_debug("RST_STREAM on idle stream %d left out (a client's early cancel)", (int)id);
	return true;
}

static int
read_in(struct h2conn *h)
{
	uint8_t buf[H2CONN_READ_CHUNK];

	for (;;) {
		int n, err;
		ssize_t r;

		ERR_clear_error();
		n = SSL_read(h->ssl, buf, sizeof(buf));
		if (n > 0) {
			if (h->server)
				r = h2scan_feed(&h->scan, buf, (size_t)n, feed_session, stream_idle, h);
			else
				r = nghttp2_session_mem_recv(h->session, buf, (size_t)n);
			if (r == H2CONN_FEED_CLOSED)
				return -1;
			if (r < 0) {
				/* NGHTTP2_ERR_FLOODED among others: the peer misbehaves. */
				h->peer_error = true;
				goaway_last_words(h, (int)r);
				snprintf(h->why, sizeof(h->why), "HTTP/2: %s",
				    nghttp2_strerror((int)r));
				h2conn_close(h, NULL);
				return -1;
			}
			if (h->closed)
				return -1;
			/* A connection being ended (GOAWAY queued) is read no further. */
			if (h->close_when_flushed)
				return 0;
			continue;
		}
		err = SSL_get_error(h->ssl, n);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE)
			return 0;
		if (err == SSL_ERROR_SSL) {
			/* e.g. the server's alert when it refused our certificate */
			char ebuf[64];
			ERR_error_string_n(ERR_peek_last_error(), ebuf, sizeof(ebuf));
			snprintf(h->why, sizeof(h->why), "TLS: %s", ebuf);
			ERR_clear_error();
		}
		h2conn_close(h, err == SSL_ERROR_ZERO_RETURN ? "closed by peer" :
		    err == SSL_ERROR_SYSCALL ? (errno ? strerror(errno) : "connection reset") :
		    "TLS error");
		return -1;
	}
}

static void
h2conn_event(void *arg, uint32_t events)
{
	struct h2conn *h = arg;

	if (h->closed)
		return;
	if (!h->server && !h->tcp_up && (events & EPOLLOUT) && !(events & EPOLLERR)) {
		h->tcp_up = true;
		if (h->ops->connected != NULL)
			h->ops->connected(h, h->arg);
	}
	if (!h->handshaken) {
		if (do_handshake(h) != 0)
			return;
	}
	if (!h->paused && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
		if (read_in(h) < 0)
			return;
	}
	h2conn_flush(h);
}
