/* Encoding peers: one protobuf-c Peer filled on the stack, then the outer WatchEvent and
 * Snapshot layers written by hand so a snapshot never needs every peer decoded at once. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "server/peerpb.h"

void
peerpb_view_init(struct peerpb_view *v, const struct peer *p)
{
	Wiresync__V1__Peer *m = &v->m;
	const uint8_t *der[PEER_CHAIN_MAX];
	size_t len[PEER_CHAIN_MAX];
	int n;

	wiresync__v1__peer__init(m);
	m->public_key.data = (uint8_t *)p->key;
	m->public_key.len = WG_KEY_LEN;
	m->name = (char *)p->name;
	for (size_t i = 0; i < p->n_tunnel; i++)
		v->tunnel_ptr[i] = netaddr_format(&p->tunnel[i], true, v->tunnel[i]);
	m->n_tunnel_ips = p->n_tunnel;
	m->tunnel_ips = v->tunnel_ptr;
	m->listen_port = p->listen_port;
	for (size_t i = 0; i < p->n_lan; i++)
		v->lan_ptr[i] = netaddr_format(&p->lan[i], p->lan[i].prefix !=
		    (p->lan[i].family == AF_INET ? 32 : 128), v->lan[i]);
	m->n_lan_ips = p->n_lan;
	m->lan_ips = v->lan_ptr;
	m->wan_ip = netaddr_format(&p->wan, false, v->wan);
	m->lan_id.data = (uint8_t *)p->lan_id;
	m->lan_id.len = p->lan_id_len;
	m->observed_endpoint = (char *)p->observed_endpoint;
	m->online = p->online;
	m->last_seen_ms = p->last_seen_ms;
	m->revision = p->revision;
	m->certificate.data = p->cert;
	m->certificate.len = p->cert_len;
	/* the chain was whole when stored (update.c): a record that no longer splits goes
	 * without, and its agents refuse it rather than trust half of it */
	n = peer_chain_split(p, der, len, PEER_CHAIN_MAX);
	for (int i = 0; i < n; i++) {
		v->chain[i].data = (uint8_t *)der[i];
		v->chain[i].len = len[i];
	}
	m->n_chain = n > 0 ? (size_t)n : 0;
	m->chain = v->chain;
}

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
varint_put(uint8_t *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o++ = (uint8_t)v;
	return o;
}

/* Protobuf tags: (field << 3) | wire type. */
#define TAG_VARINT(f) ((uint8_t)((f) << 3))
#define TAG_LEN(f) ((uint8_t)((f) << 3 | 2))

static struct rpc_buf *
buf_alloc(size_t msg_len)
{
	struct rpc_buf *b = malloc(sizeof(*b) + GRPC_PREFIX_LEN + msg_len);

	if (b == NULL)
		return NULL;
	b->refs = 1;
	b->len = GRPC_PREFIX_LEN + msg_len;
	grpc_prefix_write(b->data, msg_len);
	return b;
}

struct rpc_buf *
peerpb_peer(const struct peer *p)
{
	struct peerpb_view v;
	struct rpc_buf *b;
	size_t n;

	peerpb_view_init(&v, p);
	n = wiresync__v1__peer__get_packed_size(&v.m);
	b = buf_alloc(n);
	if (b != NULL)
		wiresync__v1__peer__pack(&v.m, b->data + GRPC_PREFIX_LEN);
	return b;
}

struct rpc_buf *
peerpb_event_upsert(const struct peer *p)
{
	struct peerpb_view v;
	struct rpc_buf *b;
	size_t n, total;
	uint8_t *o;

	peerpb_view_init(&v, p);
	n = wiresync__v1__peer__get_packed_size(&v.m);
	total = 1 + varint_len(p->revision) + 1 + varint_len(n) + n;
	b = buf_alloc(total);
	if (b == NULL)
		return NULL;
	o = b->data + GRPC_PREFIX_LEN;
	*o++ = TAG_VARINT(1);
	o = varint_put(o, p->revision);
	*o++ = TAG_LEN(3);
	o = varint_put(o, n);
	wiresync__v1__peer__pack(&v.m, o);
	return b;
}

/* A framed WatchEvent{revision, <field> = bytes}: the removal and CRL events. */
static struct rpc_buf *
event_bytes(uint64_t revision, unsigned field, const uint8_t *data, size_t len)
{
	size_t total = 1 + varint_len(revision) + 1 + varint_len(len) + len;
	struct rpc_buf *b = buf_alloc(total);
	uint8_t *o;

	if (b == NULL)
		return NULL;
	o = b->data + GRPC_PREFIX_LEN;
	*o++ = TAG_VARINT(1);
	o = varint_put(o, revision);
	*o++ = TAG_LEN(field);
	o = varint_put(o, len);
	memcpy(o, data, len);
	return b;
}

struct rpc_buf *
peerpb_event_removed(const uint8_t key[WG_KEY_LEN], uint64_t revision)
{
	return event_bytes(revision, 4, key, WG_KEY_LEN);
}

struct rpc_buf *
peerpb_event_crl(const uint8_t *der, size_t len, uint64_t revision)
{
	return event_bytes(revision, 5, der, len);
}

struct rpc_buf *
peerpb_event_policy(const uint8_t *der, size_t len, uint64_t revision)
{
	return event_bytes(revision, 6, der, len);
}

struct snap_ctx {
	const uint8_t *exclude;
	bool (*keep)(const struct peer *p, void *arg);
	void *keep_arg;
	size_t size;       /* bytes of the Snapshot body */
	uint8_t *out;      /* second pass: where to write */
};

static bool
excluded(const struct snap_ctx *s, const struct peer *p)
{
	return (s->exclude != NULL && memcmp(s->exclude, p->key, WG_KEY_LEN) == 0) ||
	    (s->keep != NULL && !s->keep(p, s->keep_arg));
}

static int
snap_measure(const struct peer *p, void *arg)
{
	struct snap_ctx *s = arg;
	struct peerpb_view v;
	size_t n;

	if (excluded(s, p))
		return 0;
	peerpb_view_init(&v, p);
	n = wiresync__v1__peer__get_packed_size(&v.m);
	s->size += 1 + varint_len(n) + n;
	return 0;
}

static int
snap_write(const struct peer *p, void *arg)
{
	struct snap_ctx *s = arg;
	struct peerpb_view v;
	size_t n;

	if (excluded(s, p))
		return 0;
	peerpb_view_init(&v, p);
	n = wiresync__v1__peer__get_packed_size(&v.m);
	*s->out++ = TAG_LEN(1);
	s->out = varint_put(s->out, n);
	s->out += wiresync__v1__peer__pack(&v.m, s->out);
	return 0;
}

struct rpc_buf *
peerpb_event_snapshot(const struct peer_table *t, const char *network, const uint8_t *exclude,
    bool (*keep)(const struct peer *p, void *arg), void *keep_arg, uint64_t revision)
{
	struct snap_ctx s = { .exclude = exclude, .keep = keep, .keep_arg = keep_arg };
	struct rpc_buf *b;
	size_t total;
	uint8_t *o;

	peer_table_foreach(t, network, snap_measure, &s);
	total = 1 + varint_len(revision) + 1 + varint_len(s.size) + s.size;
	b = buf_alloc(total);
	if (b == NULL)
		return NULL;
	o = b->data + GRPC_PREFIX_LEN;
	*o++ = TAG_VARINT(1);
	o = varint_put(o, revision);
	*o++ = TAG_LEN(2);
	o = varint_put(o, s.size);
	s.out = o;
	peer_table_foreach(t, network, snap_write, &s);
	return b;
}
