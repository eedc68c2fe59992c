/* One TLS connection carrying an nghttp2 session: the byte pump shared by the server and
 * client halves. Handshake, reads into the session, bounded output buffer, EPOLLOUT only
 * while bytes are pending. */
#ifndef WS_H2CONN_H
#define WS_H2CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "rpc/h2scan.h"
#include "rpc/loop.h"

struct h2conn;

struct h2conn_ops {
	/* The TLS handshake finished: create the nghttp2 session (h2conn_set_session) or
	 * return a negative value to close. */
	int (*handshake_done)(struct h2conn *h, void *arg);
	/* The connection is closed (fd and SSL are gone); the owner frees its object, but not
	 * before the end of this loop turn (use loop_defer): events may still name it. */
	void (*closed)(struct h2conn *h, void *arg);
	/* Optional: a client's TCP connection is up (the TLS handshake starts). */
	void (*connected)(struct h2conn *h, void *arg);
	/* Optional: SSL_do_handshake failed; h->ssl (and the peer's chain) is still there,
	 * h->why says what failed. Runs right before closed. */
	void (*handshake_failed)(struct h2conn *h, void *arg);
};

struct h2conn {
	struct loop *loop;
	struct loop_io io;
	SSL *ssl;
	nghttp2_session *session;
	const struct h2conn_ops *ops;
	void *arg;
	uint8_t *out;            /* pending TLS plaintext; freed when drained */
	size_t out_len, out_off, out_max;
	struct loop_defer flush_defer;
	bool server, handshaken, closed, close_when_flushed, paused;
	bool tcp_up;             /* a client's connect() completed */
	bool peer_error;         /* nghttp2 refused the peer's input (flood, bad frames) */
	struct h2scan scan;      /* a server's input, before nghttp2 (rpc/h2scan.h) */
	char why[160];           /* why the connection closed, for logs */
	/* set when SSL_do_handshake failed: its verify result and OpenSSL error */
	bool hs_failed;
	long hs_verify;
	unsigned long hs_error;
};

/* Takes ownership of fd (connected, non-blocking) and ssl. out_max bounds the output
 * buffer. Returns 0 or -errno (fd and ssl are then freed). */
int h2conn_init(struct h2conn *h, struct loop *l, int fd, SSL *ssl, bool server, size_t out_max,
    const struct h2conn_ops *ops, void *arg);

/* Installs the session after the handshake; h2conn owns it from then on. */
void h2conn_set_session(struct h2conn *h, nghttp2_session *s);

/* nghttp2 send_callback body: appends to the output buffer, NGHTTP2_ERR_WOULDBLOCK past
 * out_max. */
ssize_t h2conn_send_cb(struct h2conn *h, const uint8_t *data, size_t len);

/* Schedules a flush (nghttp2_session_send and SSL_write) at the end of this turn. */
void h2conn_flush_later(struct h2conn *h);
/* Flushes now. Returns 0, or -1 when the connection got closed. */
int h2conn_flush(struct h2conn *h);

/* Closes now with the reason (for the log) and calls ops->closed once. */
void h2conn_close(struct h2conn *h, const char *why);

/* Stops (or resumes) reading from the socket: the peer's writes then back up (tests of
 * slow readers use this). */
void h2conn_pause_reading(struct h2conn *h, bool paused);

/* Closes once everything queued (e.g. a GOAWAY) has been written. */
void h2conn_close_after_flush(struct h2conn *h, const char *why);

/* Bytes of output waiting for the socket. */
size_t h2conn_pending(const struct h2conn *h);

#endif
