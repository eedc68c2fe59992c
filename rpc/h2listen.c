/* The gRPC server's front door: listening sockets, admission of new connections (the
 * max_connections and per-address handshake limits), one-line-per-window logs for floods
 * of refusals and timeouts, shutdown. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rpc/addrcount.h"
#include "rpc/h2server_impl.h"
#include "rpc/log.h"

/* --- logs of floods ---------------------------------------------------------------------- */

static const char *const log_what[SRV_LOG_N] = {
	[SRV_LOG_HANDSHAKE_TIMEOUT] = "connections refused: TLS handshake timeout "
	    "(handshake_timeout_ms)",
	[SRV_LOG_IDLE] = "connections closed: no stream for idle_timeout_ms",
	[SRV_LOG_PER_ADDRESS] = "connections refused: too many TLS handshakes in progress from "
	    "one address (max_handshakes_per_address)",
};

static void
log_window_end(void *arg)
{
	struct srv_log *l = arg;
	uint64_t n = ratelog_take_held(&l->rl);

	if (n > 0)
		log_info("%s: %llu more in the last %u s (one line per %u s)", log_what[l->kind],
		    (unsigned long long)n, l->rl.window_ms / 1000, l->rl.window_ms / 1000);
}

bool
server_log_allowed(struct rpc_server *s, enum srv_log_kind kind)
{
	struct srv_log *l = &s->logs[kind];

	if (!ratelog_event(&l->rl, loop_now_ms(s->loop)))
		return false;
	l->kind = kind;
	loop_timer_set(s->loop, &l->timer, l->rl.window_ms, log_window_end, l);
	return true;
}

void
server_logs_init(struct rpc_server *s)
{
	uint32_t w = s->lim.log_window_ms > 0 ? s->lim.log_window_ms : 10000;

	for (int k = 0; k < SRV_LOG_N; k++) {
		ratelog_init(&s->logs[k].rl, w);
		s->logs[k].kind = (enum srv_log_kind)k;
	}
}

/* --- accepting -------------------------------------------------------------------------- */

/* Counts a new connection's handshake against its address (*counted says whether it
 * was); false to refuse it. */
static bool
admit_address(struct rpc_server *s, const struct sockaddr_storage *ss, bool *counted)
{
	uint32_t max = s->lim.max_handshakes_per_address;
	int r;
	char host[NI_MAXHOST] = "?";

	*counted = false;
	if (s->handshakes == NULL)
		return true;
	r = addrcount_take(s->handshakes, (const struct sockaddr *)ss, max);
	*counted = r > 0;
	if (r != 0)
		return true;    /* counted, or a family we do not count, or ENOMEM: let it in */
	if (server_log_allowed(s, SRV_LOG_PER_ADDRESS)) {
		getnameinfo((const struct sockaddr *)ss, sizeof(*ss), host, sizeof(host), NULL, 0,
		    NI_NUMERICHOST);
		log_warnx("refusing a connection from %s: %u TLS handshakes from that address "
		    "(its /64 for IPv6) in progress (max_handshakes_per_address)", host, max);
	}
	return false;
}

void
server_handshake_over(struct rpc_conn *c)
{
	if (!c->hs_counted)
		return;
	c->hs_counted = false;
	addrcount_release(c->srv->handshakes, (const struct sockaddr *)&c->peer);
}

static void
listener_event(void *arg, uint32_t events)
{
	struct rpc_server *s = arg;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd, one = 1;
		bool counted;

		fd = -1;
		for (size_t k = 0; k < s->n_listeners && fd < 0; k++)
			fd = accept4(s->listeners[k].fd, (struct sockaddr *)&ss, &sl,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE)
				log_warn("accept");
			return;
		}
		if (s->n_conns >= s->lim.max_connections || s->draining) {
			uint64_t now = loop_now_ms(s->loop);
			s->refused++;
			if (!s->draining && now - s->refused_log_ms >= 1000) {
				log_warnx("refusing connections: %zu open (max_connections); %zu "
				    "refused since the last such line", s->n_conns, s->refused);
				s->refused_log_ms = now;
				s->refused = 0;
			}
			close(fd);
			continue;
		}
		if (!admit_address(s, &ss, &counted)) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (conn_new(s, fd, &ss, counted) < 0 && counted)
			addrcount_release(s->handshakes, (const struct sockaddr *)&ss);
	}
}

/* --- server ----------------------------------------------------------------------------- */

const char *
rpc_handshake_failure_name(int why)
{
	static const char *const names[RPC_HS_N] = {
		"no_certificate", "bad_certificate", "revoked", "expired", "refused", "protocol",
		"timeout",
	};

	return why >= 0 && why < RPC_HS_N ? names[why] : "unknown";
}

void
rpc_server_observe(struct rpc_server *s, const struct rpc_observer *obs)
{
	if (obs != NULL)
		s->obs = *obs;
	else
		memset(&s->obs, 0, sizeof(s->obs));
}


int
rpc_listen_resolve(const char *addr, int socktype, bool numeric_host, struct addrinfo **res,
    char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = socktype,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV | (numeric_host ? AI_NUMERICHOST : 0) };
	char host[256], *port;
	const char *h;
	int r;

	snprintf(host, sizeof(host), "%s", addr);
	if ((port = strrchr(host, ':')) == NULL) {
		snprintf(err, errlen, "\"%s\" has no port (HOST:PORT)", addr);
		return -EINVAL;
	}
	*port++ = '\0';
	h = host;
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 2 || host[n - 1] != ']') {
			snprintf(err, errlen, "\"%s\": bad [IPv6] address", addr);
			return -EINVAL;
		}
		host[n - 1] = '\0';
		h = host + 1;
	}
	if (*h == '\0')
		h = NULL;
	if ((r = getaddrinfo(h, port, &hints, res)) != 0) {
		snprintf(err, errlen, "\"%s\": %s%s", addr, gai_strerror(r),
		    numeric_host ? " (a numeric IP and port)" : "");
		return -EINVAL;
	}
	return 0;
}

int
rpc_server_listen(struct rpc_server *s, const char *addr, char *err, size_t errlen)
{
	struct addrinfo *res = NULL;
	char why[320];
	int fd = -1, r, one = 1;

	if (s->n_listeners == MAX_LISTENERS) {
		snprintf(err, errlen, "too many listen addresses");
		return -ENOSPC;
	}
	if ((r = rpc_listen_resolve(addr, SOCK_STREAM, false, &res, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "listen address %s", why);
		return r;
	}
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto syserr;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 4096) < 0)
		goto syserr;
	r = loop_io_add(s->loop, &s->listeners[s->n_listeners], fd, EPOLLIN, listener_event, s);
	if (r < 0) {
		errno = -r;
		goto syserr;
	}
	s->n_listeners++;
	{
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
			s->port = ntohs(ss.ss_family == AF_INET6 ?
			    ((struct sockaddr_in6 *)&ss)->sin6_port :
			    ((struct sockaddr_in *)&ss)->sin_port);
	}
	freeaddrinfo(res);
	return 0;
syserr:
	r = -errno;
	snprintf(err, errlen, "listen on %s: %s", addr, strerror(errno));
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	return r;
}

int
rpc_server_port(const struct rpc_server *s)
{
	return s->port;
}

size_t
rpc_server_connections(const struct rpc_server *s)
{
	return s->n_conns;
}

static void
drained_deferred(void *arg)
{
	struct rpc_server *s = arg;

	if (s->drained_fn != NULL) {
		loop_fn fn = s->drained_fn;
		s->drained_fn = NULL;
		fn(s->drained_arg);
	}
}

void
server_check_drained(struct rpc_server *s)
{
	if (s->draining && s->n_conns == 0 && s->drained_fn != NULL)
		loop_defer(s->loop, &s->drained_defer, drained_deferred, s);
}

void
rpc_server_shutdown(struct rpc_server *s, loop_fn done, void *arg)
{
	struct rpc_conn *c, *next;

	s->draining = true;
	s->drained_fn = done;
	s->drained_arg = arg;
	for (size_t i = 0; i < s->n_listeners; i++) {
		loop_io_del(s->loop, &s->listeners[i]);
		close(s->listeners[i].fd);
		s->listeners[i].fd = -1;
	}
	s->n_listeners = 0;
	for (c = s->conns; c != NULL; c = next) {
		struct rpc_call *call, *cnext;

		next = c->next;
		if (!c->h.handshaken || c->h.session == NULL) {
			h2conn_close(&c->h, "server shutting down");
			continue;
		}
		nghttp2_submit_goaway(c->h.session, NGHTTP2_FLAG_NONE,
		    nghttp2_session_get_last_proc_stream_id(c->h.session), NGHTTP2_NO_ERROR,
		    NULL, 0);
		for (call = c->calls; call != NULL; call = cnext) {
			cnext = call->next;
			/* Streams end now; unary calls already dispatched finish on their own. */
			if (call->dispatched && !call->answered && call->method->streaming) {
				rpc_cancel_fn fn = call->cancel_fn;
				call->cancel_fn = NULL;
				if (fn != NULL)
					fn(call, call->cancel_arg);
				rpc_call_fail(call, GRPC_UNAVAILABLE, "server shutting down");
			}
		}
		h2conn_flush_later(&c->h);
	}
	server_check_drained(s);
}

void
rpc_server_del(struct rpc_server *s)
{
	if (s == NULL)
		return;
	while (s->conns != NULL)
		h2conn_close(&s->conns->h, "server stopped");
	for (size_t i = 0; i < s->n_listeners; i++) {
		loop_io_del(s->loop, &s->listeners[i]);
		close(s->listeners[i].fd);
	}
	loop_defer_cancel(s->loop, &s->drained_defer);
	for (int k = 0; k < SRV_LOG_N; k++) {
		loop_timer_cancel(s->loop, &s->logs[k].timer);
		log_window_end(&s->logs[k]);    /* counts of a window cut short */
	}
	addrcount_del(s->handshakes);
	nghttp2_session_callbacks_del(s->cbs);
	nghttp2_option_del(s->opt);
	SSL_CTX_free(s->ctx);
	free(s);
}

