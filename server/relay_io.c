/* Batches of datagrams in (recvmmsg) and out (sendmmsg) per wake-up: the relay's cost per
 * packet is then the routing, not the system calls. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/cert.h"
#include "common/netaddr.h"
#include "rpc/h2server.h"
#include "rpc/log.h"
#include "server/relay_io.h"
#include "server/service.h"

#define BATCH 32
#define DGRAM_MAX 9216      /* a jumbo frame; WireGuard never sends more than its MTU */
#define EXPIRY_SYNC_MS 60000
#define SOCKBUF (4 << 20)

struct relay_io {
	struct loop *loop;
	struct store *st;
	struct relay *relay;
	int fd, family, port;
	struct loop_io io;
	bool registered;
	struct loop_timer sync_timer;     /* each minute: certificates expire */
	struct loop_timer commit_timer;   /* a commit changed the peers */
	uint64_t synced_revision;
	uint64_t synced_ms;           /* loop time of the last resync */
	uint64_t gap_ms;              /* 20 times the last resync's cost */
	size_t left_out, left_out_logged; /* hosts over max_hosts this resync, and last logged */
	uint64_t sent, sent_bytes, send_errors;
	uint8_t (*bufs)[DGRAM_MAX];
};

static int
addr_to_relay(const struct netaddr *n, struct relay_addr *a)
{
	if (n->family != AF_INET && n->family != AF_INET6)
		return -EAFNOSUPPORT;
	memset(a, 0, sizeof(*a));
	a->family = n->family;
	memcpy(a->ip, n->addr, n->family == AF_INET ? 4 : 16);
	return 0;
}

/* The IP of "ip:port" or "[ip]:port"; false when s is none of those. */
static bool
endpoint_ip(const char *s, struct netaddr *out)
{
	char host[PEER_ENDPOINT_MAX], err[120];
	char *colon;

	snprintf(host, sizeof(host), "%s", s);
	if ((colon = strrchr(host, ':')) == NULL)
		return false;
	*colon = '\0';
	if (host[0] == '[') {
		size_t n = strlen(host);

		if (n < 2 || host[n - 1] != ']')
			return false;
		host[n - 1] = '\0';
		return netaddr_parse(host + 1, false, out, err, sizeof(err));
	}
	return netaddr_parse(host, false, out, err, sizeof(err));
}

static int
sync_peer(const struct peer *p, void *arg)
{
	struct relay_io *io = arg;
	struct cert_identity id;
	struct relay_addr ips[2];
	struct netaddr ep;
	size_t n = 0;
	char err[200];
	int r;

	/* the store holds no revoked peer (the CRL removes them); expired ones stay */
	if (!cert_identity_from_der(p->cert, p->cert_len, &id, err, sizeof(err)) ||
	    id.not_after <= (int64_t)time(NULL))
		return 0;
	if (addr_to_relay(&p->wan, &ips[n]) == 0)
		n++;
	if (p->observed_endpoint[0] != '\0' && endpoint_ip(p->observed_endpoint, &ep) &&
	    addr_to_relay(&ep, &ips[n]) == 0 &&
	    (n == 0 || memcmp(ips[0].ip, ips[n].ip, 16) != 0 || ips[0].family != ips[n].family))
		n++;
	if ((r = relay_host_set(io->relay, p->key, p->network, ips, n)) < 0) {
		if (io->left_out++ == 0)
			log_debug("relay: peer %s of %s left out: %s", p->name, p->network,
			    strerror(-r));
	}
	return 0;
}

int
relay_io_sync(struct relay_io *io)
{
	struct relay_stats st;
	size_t gone;
	int r;

	relay_sync_begin(io->relay);
	io->synced_revision = store_revision(io->st);
	io->synced_ms = loop_now_ms(io->loop);
	io->left_out = 0;
	r = store_peers_foreach(io->st, sync_peer, io);
	if (r < 0) {
		/* keep what was there rather than cut every relayed tunnel on a read error;
		 * the next tick tries again */
		log_warnx("relay: reading the peers failed (%s); hosts kept as they were",
		    strerror(-r));
		io->synced_revision = 0;
		return r;
	}
	/* once per change in the count, not once per resync */
	if (io->left_out != io->left_out_logged)
		log_warnx("relay: %zu peer(s) left out: more hosts than the relay's table holds "
		    "(%zu)", io->left_out, (size_t)relay_host_capacity(io->relay));
	io->left_out_logged = io->left_out;
	gone = relay_sync_end(io->relay);
	if (gone > 0)
		log_info("relay: %zu host(s) no longer hold a current certificate", gone);
	relay_stats_get(io->relay, &st);
	return (int)st.hosts;
}

static void on_commit_timer(void *arg);

/* A resync reads every peer: in a large mesh that changes all the time it waits 20 times
 * as long as the last one took, so it never takes over 5 % of the loop. */
static void
timed_sync(struct relay_io *io)
{
	struct timespec t0, t1;
	uint64_t took_ms;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	r = relay_io_sync(io);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	took_ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	io->gap_ms = took_ms * 20;
	/* a read error: try again in a second rather than at the next change */
	if (r < 0 && loop_timer_set(io->loop, &io->commit_timer, io->gap_ms > 1000 ?
	    io->gap_ms : 1000, on_commit_timer, io) < 0)
		log_error("relay: resync timer");
}

static void
on_commit_timer(void *arg)
{
	struct relay_io *io = arg;

	if (store_revision(io->st) != io->synced_revision)
		timed_sync(io);
}

static void
on_commit(void *arg, uint64_t revision)
{
	struct relay_io *io = arg;
	uint64_t now = loop_now_ms(io->loop), due = io->synced_ms + io->gap_ms;

	(void)revision;
	if (loop_timer_armed(&io->commit_timer))
		return;
	if (loop_timer_set(io->loop, &io->commit_timer, due > now ? due - now : 0,
	    on_commit_timer, io) < 0)
		log_error("relay: resync timer");
}

/* a certificate expires without any change to the store: a resync each minute */
static void
on_sync_timer(void *arg)
{
	struct relay_io *io = arg;
	uint64_t next = EXPIRY_SYNC_MS;

	if (loop_now_ms(io->loop) - io->synced_ms >= EXPIRY_SYNC_MS ||
	    store_revision(io->st) != io->synced_revision)
		timed_sync(io);
	if (io->gap_ms > next)
		next = io->gap_ms;
	if (loop_timer_set(io->loop, &io->sync_timer, next, on_sync_timer, io) < 0)
		log_error("relay: resync timer");
}

int
relay_io_follow(struct relay_io *io, struct service *svc)
{
	return service_on_commit(svc, on_commit, io);
}

/* dst in the socket's family (an IPv4 destination on a dual-stack socket is v4-mapped). */
static socklen_t
dest_sockaddr(const struct relay_io *io, const struct relay_addr *dst,
    struct sockaddr_storage *ss)
{
	if (io->family == AF_INET6 && dst->family == AF_INET) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		memset(ss, 0, sizeof(*ss));
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(dst->port);
		in6->sin6_addr.s6_addr[10] = 0xff;
		in6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(in6->sin6_addr.s6_addr + 12, dst->ip, 4);
		return sizeof(*in6);
	}
	if (io->family == AF_INET && dst->family != AF_INET)
		return 0;
	return relay_addr_to_sockaddr(dst, ss);
}

static void
on_readable(void *arg, uint32_t events)
{
	struct relay_io *io = arg;
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec iov_in[BATCH], iov_out[BATCH];
	struct sockaddr_storage from[BATCH], to[BATCH];
	uint64_t now = loop_now_ms(io->loop);

	(void)events;
	/* a bounded number of batches per turn, so the loop's other work keeps its turn */
	for (int round = 0; round < 8; round++) {
		int n, n_out = 0, done = 0;

		memset(in, 0, sizeof(in));
		for (int i = 0; i < BATCH; i++) {
			iov_in[i].iov_base = io->bufs[i];
			iov_in[i].iov_len = DGRAM_MAX;
			in[i].msg_hdr.msg_iov = &iov_in[i];
			in[i].msg_hdr.msg_iovlen = 1;
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(io->fd, in, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("relay: recvmmsg");
			return;
		}
		for (int i = 0; i < n; i++) {
			struct relay_addr src, dst;
			socklen_t tl;

			if ((in[i].msg_hdr.msg_flags & MSG_TRUNC) ||
			    relay_addr_from_sockaddr(&src, (struct sockaddr *)&from[i],
			    in[i].msg_hdr.msg_namelen) < 0)
				continue;
			if (relay_route(io->relay, io->bufs[i], in[i].msg_len, &src, now, &dst) !=
			    RELAY_FORWARD || (tl = dest_sockaddr(io, &dst, &to[n_out])) == 0)
				continue;
			memset(&out[n_out], 0, sizeof(out[n_out]));
			iov_out[n_out].iov_base = io->bufs[i];
			iov_out[n_out].iov_len = in[i].msg_len;
			out[n_out].msg_hdr.msg_iov = &iov_out[n_out];
			out[n_out].msg_hdr.msg_iovlen = 1;
			out[n_out].msg_hdr.msg_name = &to[n_out];
			out[n_out].msg_hdr.msg_namelen = tl;
			n_out++;
		}
		while (done < n_out) {
			int s = sendmmsg(io->fd, out + done, (unsigned)(n_out - done), MSG_DONTWAIT);

			if (s <= 0) {
				/* UDP: a full buffer or an unreachable peer loses the datagram,
				 * as the network would; the sender retries */
				io->send_errors++;
				done++;
				continue;
			}
			for (int k = done; k < done + s; k++)
				io->sent_bytes += out[k].msg_len;
			io->sent += (uint64_t)s;
			done += s;
		}
		if (n < BATCH)
			return;
	}
}

bool
relay_io_addr_ok(const char *listen, char *why, size_t len)
{
	struct addrinfo *res = NULL;

	if (rpc_listen_resolve(listen, SOCK_DGRAM, true, &res, why, len) < 0)
		return false;
	freeaddrinfo(res);
	return true;
}

static int
bind_udp(struct relay_io *io, const char *listen, char *err, size_t errlen)
{
	struct addrinfo *res = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int r, size = SOCKBUF, zero = 0;
	char why[300];

	if ((r = rpc_listen_resolve(listen, SOCK_DGRAM, true, &res, why, sizeof(why))) < 0) {
		snprintf(err, errlen, "relay_listen %s", why);
		return r;
	}
	io->family = res->ai_family;
	io->fd = socket(res->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (io->fd < 0) {
		r = -errno;
		snprintf(err, errlen, "relay_listen \"%s\": socket: %s", listen, strerror(errno));
		goto out;
	}
	if (io->family == AF_INET6)
		(void)setsockopt(io->fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	/* larger buffers absorb bursts; the kernel caps them at rmem_max/wmem_max */
	(void)setsockopt(io->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	(void)setsockopt(io->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(io->fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    getsockname(io->fd, (struct sockaddr *)&ss, &sl) < 0) {
		r = -errno;
		snprintf(err, errlen, "relay_listen \"%s\": bind: %s", listen, strerror(errno));
		goto out;
	}
	io->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port);
	r = 0;
out:
	freeaddrinfo(res);
	return r;
}

int
relay_io_new(struct loop *l, struct store *st, const char *listen,
    const struct relay_limits *lim, struct relay_io **out, char *err, size_t errlen)
{
	struct relay_io *io = calloc(1, sizeof(*io));
	int r;

	*out = NULL;
	if (io == NULL || (io->bufs = malloc(BATCH * sizeof(*io->bufs))) == NULL ||
	    (io->relay = relay_new(lim)) == NULL) {
		snprintf(err, errlen, "relay: out of memory");
		r = -ENOMEM;
		goto fail;
	}
	io->loop = l;
	io->st = st;
	io->fd = -1;
	if ((r = bind_udp(io, listen, err, errlen)) < 0)
		goto fail;
	if ((r = relay_io_sync(io)) < 0) {
		snprintf(err, errlen, "relay: loading the peers: %s", strerror(-r));
		goto fail;
	}
	if ((r = loop_io_add(l, &io->io, io->fd, EPOLLIN, on_readable, io)) == 0)
		io->registered = true;
	if (r < 0 || (r = loop_timer_set(l, &io->sync_timer, EXPIRY_SYNC_MS, on_sync_timer, io)) < 0) {
		snprintf(err, errlen, "relay: event loop: %s", strerror(-r));
		goto fail;
	}
	*out = io;
	return 0;
fail:
	relay_io_del(io);
	return r;
}

void
relay_io_del(struct relay_io *io)
{
	if (io == NULL)
		return;
	if (io->loop != NULL) {
		loop_timer_cancel(io->loop, &io->sync_timer);
		loop_timer_cancel(io->loop, &io->commit_timer);
		if (io->registered)
			loop_io_del(io->loop, &io->io);
	}
	if (io->fd >= 0)
		close(io->fd);
	relay_del(io->relay);
	free(io->bufs);
	free(io);
}

int
relay_io_port(const struct relay_io *io)
{
	return io->port;
}

void
relay_io_stats_get(const struct relay_io *io, struct relay_io_stats *st)
{
	relay_stats_get(io->relay, &st->table);
	st->sent = io->sent;
	st->sent_bytes = io->sent_bytes;
	st->send_errors = io->send_errors;
}
