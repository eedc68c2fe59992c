/* The relay's routing decisions (the rules are in relay.h). Hosts sit in a plain array
 * (changed by the control path only, scanned for MAC1 on handshakes); index entries and
 * per-source token buckets sit in fixed relay_tables with LRU eviction. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "rpc/log.h"
#include "server/relay.h"
#include "server/relay_table.h"

#define MAC_LEN 16
#define HOST_NONE (-1)

struct host {
	bool used;
	uint8_t key[RELAY_KEY_LEN];
	uint8_t mac1_key[32];
	char network[CERT_NAME_MAX + 1];
	struct relay_addr ips[RELAY_HOST_IPS_MAX];
	size_t n_ips;
	bool stale;              /* not given again since relay_sync_begin */
	bool has_addr;           /* addr came from an accepted packet of this host */
	struct relay_addr addr;
	uint64_t addr_ms;
};

enum entry_kind { ENTRY_INITIATION, ENTRY_RESPONSE };

/* One sender index: where its owner sent from, and who is at the other end. */
struct entry {
	uint32_t index;          /* as on the wire (little-endian bytes, read by memcpy) */
	enum entry_kind kind;
	int owner;               /* host that chose the index; HOST_NONE until known */
	int peer;                /* host at the other end */
	uint32_t pair;           /* the other end's entry once the handshake completed */
	struct relay_addr addr;
	uint64_t born_ms;
};

struct source {
	struct relay_addr addr;
	uint64_t hs_milli, pkt_milli, last_ms; /* tokens x 1000 */
};

struct relay {
	struct relay_limits lim;
	struct host *hosts;
	uint32_t n_hosts;
	struct entry *entries;
	struct relay_table etab;
	struct source *sources;
	struct relay_table stab;
	uint64_t seed;
	EVP_MAC *mac;
	EVP_MAC_CTX *mctx;
	uint64_t verdicts[RELAY_VERDICT_COUNT];
};

void
relay_limits_default(struct relay_limits *lim)
{
	lim->max_hosts = 4096;
	lim->max_entries = 65536;
	lim->max_sources = 65536;
	lim->hs_rate = 20;
	lim->hs_burst = 40;
	lim->pkt_rate = 200000;
	lim->pkt_burst = 20000;
}

/* mac1_key = BLAKE2s-256("mac1----" || key) */
static int
mac1_key_derive(const uint8_t key[RELAY_KEY_LEN], uint8_t out[32])
{
	static const char label[8] = { 'm', 'a', 'c', '1', '-', '-', '-', '-' };
	uint8_t in[sizeof(label) + RELAY_KEY_LEN];
	unsigned int n = 32;
	EVP_MD *md = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	int ok;

	if (md == NULL)
		return -ENOSYS;
	memcpy(in, label, sizeof(label));
	memcpy(in + sizeof(label), key, RELAY_KEY_LEN);
	ok = EVP_Digest(in, sizeof(in), out, &n, md, NULL) == 1 && n == 32;
	EVP_MD_free(md);
	return ok ? 0 : -EIO;
}

/* Whether msg[0..off-1] keyed with h's MAC1 key gives the MAC1 at msg[off]. */
static bool
mac1_ok(struct relay *r, const struct host *h, const uint8_t *msg, size_t off)
{
	size_t size = MAC_LEN, n = 0;
	uint8_t mac[MAC_LEN];
	OSSL_PARAM params[2];

	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(r->mctx, h->mac1_key, sizeof(h->mac1_key), params) != 1 ||
	    EVP_MAC_update(r->mctx, msg, off) != 1 ||
	    EVP_MAC_final(r->mctx, mac, &n, sizeof(mac)) != 1 || n != MAC_LEN)
		return false;
	return CRYPTO_memcmp(mac, msg + off, MAC_LEN) == 0;
}

struct relay *
relay_new(const struct relay_limits *lim)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct relay_limits def;

	if (r == NULL)
		return NULL;
	relay_limits_default(&def);
	r->lim = def;
	if (lim != NULL) {
#define TAKE(f) r->lim.f = lim->f ? lim->f : def.f
		TAKE(max_hosts); TAKE(max_entries); TAKE(max_sources);
		TAKE(hs_rate); TAKE(hs_burst); TAKE(pkt_rate); TAKE(pkt_burst);
#undef TAKE
	}
	r->hosts = calloc(r->lim.max_hosts, sizeof(*r->hosts));
	r->entries = calloc(r->lim.max_entries, sizeof(*r->entries));
	r->sources = calloc(r->lim.max_sources, sizeof(*r->sources));
	if (r->hosts == NULL || r->entries == NULL || r->sources == NULL ||
	    relay_table_init(&r->etab, r->lim.max_entries) < 0 ||
	    relay_table_init(&r->stab, r->lim.max_sources) < 0 ||
	    RAND_bytes((unsigned char *)&r->seed, sizeof(r->seed)) != 1)
		goto fail;
	r->mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	if (r->mac == NULL || (r->mctx = EVP_MAC_CTX_new(r->mac)) == NULL) {
		log_error("relay: OpenSSL has no BLAKE2SMAC (OpenSSL 3 is required)");
		goto fail;
	}
	return r;
fail:
	relay_del(r);
	return NULL;
}

void
relay_del(struct relay *r)
{
	if (r == NULL)
		return;
	EVP_MAC_CTX_free(r->mctx);
	EVP_MAC_free(r->mac);
	relay_table_free(&r->stab);
	relay_table_free(&r->etab);
	free(r->sources);
	free(r->entries);
	free(r->hosts);
	free(r);
}

static bool
addr_eq(const struct relay_addr *a, const struct relay_addr *b)
{
	return a->family == b->family && a->port == b->port &&
	    memcmp(a->ip, b->ip, sizeof(a->ip)) == 0;
}

static bool
ip_eq(const struct relay_addr *a, const struct relay_addr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, sizeof(a->ip)) == 0;
}

static bool
host_has_ip(const struct host *h, const struct relay_addr *a)
{
	for (size_t i = 0; i < h->n_ips; i++)
		if (ip_eq(&h->ips[i], a))
			return true;
	return false;
}

static int
host_find(const struct relay *r, const uint8_t key[RELAY_KEY_LEN])
{
	for (uint32_t i = 0; i < r->lim.max_hosts; i++)
		if (r->hosts[i].used && memcmp(r->hosts[i].key, key, RELAY_KEY_LEN) == 0)
			return (int)i;
	return HOST_NONE;
}

static void
entry_drop(struct relay *r, uint32_t i)
{
	struct entry *e = &r->entries[i];

	if (e->pair != RELAY_NONE && r->etab.links[e->pair].used &&
	    r->entries[e->pair].pair == i)
		r->entries[e->pair].pair = RELAY_NONE;
	relay_table_release(&r->etab, i);
}

/* Drops every entry h owns, is at the other end of, or may own (an initiation from one of
 * its IPs whose sender is not known yet): its relayed sessions stop. */
static void
host_entries_drop(struct relay *r, int h)
{
	for (uint32_t i = 0; i < r->etab.cap; i++) {
		const struct entry *e = &r->entries[i];

		if (r->etab.links[i].used && (e->owner == h || e->peer == h ||
		    (e->owner == HOST_NONE && host_has_ip(&r->hosts[h], &e->addr))))
			entry_drop(r, i);
	}
}

int
relay_host_set(struct relay *r, const uint8_t key[RELAY_KEY_LEN], const char *network,
    const struct relay_addr *ips, size_t n_ips)
{
	size_t nlen = network != NULL ? strlen(network) : 0;
	struct host *h;
	int i, err;

	if (nlen == 0 || nlen > CERT_NAME_MAX || n_ips > RELAY_HOST_IPS_MAX)
		return -EINVAL;
	for (size_t k = 0; k < n_ips; k++)
		if (ips[k].family != AF_INET && ips[k].family != AF_INET6)
			return -EINVAL;
	if ((i = host_find(r, key)) == HOST_NONE) {
		for (uint32_t k = 0; k < r->lim.max_hosts && i == HOST_NONE; k++)
			if (!r->hosts[k].used)
				i = (int)k;
		if (i == HOST_NONE)
			return -ENOSPC;
		h = &r->hosts[i];
		memset(h, 0, sizeof(*h));
		if ((err = mac1_key_derive(key, h->mac1_key)) < 0)
			return err;
		memcpy(h->key, key, RELAY_KEY_LEN);
		h->used = true;
		r->n_hosts++;
	} else {
		h = &r->hosts[i];
		if (strcmp(h->network, network) != 0) {
			host_entries_drop(r, i);
			h->has_addr = false;
		}
	}
	h->stale = false;
	memcpy(h->network, network, nlen + 1);
	h->n_ips = n_ips;
	for (size_t k = 0; k < n_ips; k++) {
		h->ips[k] = ips[k];
		h->ips[k].port = 0;
	}
	if (h->has_addr && !host_has_ip(h, &h->addr))
		h->has_addr = false;
	return 0;
}

int
relay_host_remove(struct relay *r, const uint8_t key[RELAY_KEY_LEN])
{
	int i = host_find(r, key);

	if (i == HOST_NONE)
		return -ENOENT;
	host_entries_drop(r, i);
	memset(&r->hosts[i], 0, sizeof(r->hosts[i]));
	r->n_hosts--;
	return 0;
}

/* Takes a token from src's handshake (hs) or packet bucket; a new source starts full and
 * takes the oldest source's slot when the table is full. */
static bool
source_take(struct relay *r, const struct relay_addr *src, uint64_t now_ms, bool hs)
{
	uint64_t hash = relay_hash(r->seed, src, sizeof(*src));
	uint64_t hs_full = (uint64_t)r->lim.hs_burst * 1000;
	uint64_t pkt_full = (uint64_t)r->lim.pkt_burst * 1000;
	uint32_t i;
	struct source *s;
	uint64_t dt;

	for (i = relay_table_first(&r->stab, hash); i != RELAY_NONE; i = r->stab.links[i].hnext)
		if (addr_eq(&r->sources[i].addr, src))
			break;
	if (i == RELAY_NONE) {
		if ((i = relay_table_alloc(&r->stab, hash)) == RELAY_NONE) {
			relay_table_release(&r->stab, relay_table_oldest(&r->stab));
			i = relay_table_alloc(&r->stab, hash);
		}
		s = &r->sources[i];
		s->addr = *src;
		s->hs_milli = hs_full;
		s->pkt_milli = pkt_full;
		s->last_ms = now_ms;
	} else {
		relay_table_touch(&r->stab, i);
	}
	s = &r->sources[i];
	dt = now_ms > s->last_ms ? now_ms - s->last_ms : 0;
	s->last_ms = now_ms > s->last_ms ? now_ms : s->last_ms;
	/* rate per second = rate thousandths per millisecond */
	s->hs_milli = dt >= hs_full ? hs_full : s->hs_milli + dt * r->lim.hs_rate;
	s->pkt_milli = dt >= pkt_full ? pkt_full : s->pkt_milli + dt * r->lim.pkt_rate;
	if (s->hs_milli > hs_full)
		s->hs_milli = hs_full;
	if (s->pkt_milli > pkt_full)
		s->pkt_milli = pkt_full;
	if (s->pkt_milli < 1000 || (hs && s->hs_milli < 1000))
		return false;
	s->pkt_milli -= 1000;
	if (hs)
		s->hs_milli -= 1000;
	return true;
}

static bool
entry_alive(const struct relay *r, uint32_t i, uint64_t now_ms)
{
	(void)r;
	return now_ms - r->entries[i].born_ms < RELAY_ENTRY_TTL_MS;
}

/* The live entry of index, or RELAY_NONE; an expired one is dropped on the way. */
static uint32_t
entry_find(struct relay *r, uint32_t index, uint64_t now_ms)
{
	uint64_t hash = relay_hash(r->seed, &index, sizeof(index));

	for (uint32_t i = relay_table_first(&r->etab, hash); i != RELAY_NONE;
	    i = r->etab.links[i].hnext) {
		if (r->entries[i].index != index)
			continue;
		if (!entry_alive(r, i, now_ms)) {
			entry_drop(r, i);
			return RELAY_NONE;
		}
		return i;
	}
	return RELAY_NONE;
}

static uint32_t
entry_new(struct relay *r, uint32_t index, uint64_t now_ms)
{
	uint64_t hash = relay_hash(r->seed, &index, sizeof(index));
	uint32_t i = relay_table_alloc(&r->etab, hash);

	if (i == RELAY_NONE) {
		entry_drop(r, relay_table_oldest(&r->etab));
		i = relay_table_alloc(&r->etab, hash);
	}
	if (i != RELAY_NONE) {
		memset(&r->entries[i], 0, sizeof(r->entries[i]));
		r->entries[i].index = index;
		r->entries[i].pair = RELAY_NONE;
		r->entries[i].born_ms = now_ms;
	}
	return i;
}

static bool
host_route(const struct relay *r, int h, uint64_t now_ms)
{
	return r->hosts[h].has_addr && now_ms - r->hosts[h].addr_ms < RELAY_ENTRY_TTL_MS;
}

static void
host_bind(struct relay *r, int h, const struct relay_addr *a, uint64_t now_ms)
{
	r->hosts[h].addr = *a;
	r->hosts[h].has_addr = true;
	r->hosts[h].addr_ms = now_ms;
}

static uint32_t
wire_index(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

uint32_t
relay_host_capacity(const struct relay *r)
{
	return r->lim.max_hosts;
}

void
relay_sync_begin(struct relay *r)
{
	for (uint32_t i = 0; i < r->lim.max_hosts; i++)
		r->hosts[i].stale = r->hosts[i].used;
}

size_t
relay_sync_end(struct relay *r)
{
	size_t n = 0;

	for (uint32_t i = 0; i < r->lim.max_hosts; i++)
		if (r->hosts[i].used && r->hosts[i].stale) {
			host_entries_drop(r, (int)i);
			memset(&r->hosts[i], 0, sizeof(r->hosts[i]));
			r->n_hosts--;
			n++;
		}
	return n;
}

/* A host of h's network other than h itself that holds src's IP: the one (returned),
 * several (*shared true, HOST_NONE returned: the response will tell), or none. */
static int
sender_guess(const struct relay *r, int h, const struct relay_addr *src, bool *shared)
{
	int found = HOST_NONE;

	*shared = false;
	for (uint32_t i = 0; i < r->lim.max_hosts; i++) {
		const struct host *c = &r->hosts[i];

		if (!c->used || (int)i == h || strcmp(c->network, r->hosts[h].network) != 0 ||
		    !host_has_ip(c, src))
			continue;
		if (found != HOST_NONE) {
			*shared = true;
			return HOST_NONE;
		}
		found = (int)i;
	}
	return found;
}

/* Whether e's address is still held by its owner (or, owner unknown, by a host of its
 * peer's network): a host's IPs change and hosts go, entries are only swept lazily. */
static bool
entry_dest_ok(const struct relay *r, const struct entry *e)
{
	bool shared;

	if (e->owner != HOST_NONE)
		return host_has_ip(&r->hosts[e->owner], &e->addr);
	return sender_guess(r, e->peer, &e->addr, &shared) != HOST_NONE || shared;
}

#define SRC_NETS_MAX 4

/* The networks of the hosts that hold src's IP, into nets (at most SRC_NETS_MAX; *many
 * when there are more). Returns how many; 0 for an IP no host holds. */
static size_t
src_networks(const struct relay *r, const struct relay_addr *src,
    const char *nets[SRC_NETS_MAX], bool *many)
{
	size_t n = 0;

	*many = false;
	for (uint32_t i = 0; i < r->lim.max_hosts; i++) {
		bool dup = false;

		if (!r->hosts[i].used || !host_has_ip(&r->hosts[i], src))
			continue;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(nets[k], r->hosts[i].network) == 0;
		if (dup)
			continue;
		if (n == SRC_NETS_MAX) {
			*many = true;
			return n;
		}
		nets[n++] = r->hosts[i].network;
	}
	return n;
}

static bool
in_networks(const char *net, const char *const *nets, size_t n, bool many)
{
	if (many)
		return true;
	for (size_t k = 0; k < n; k++)
		if (strcmp(nets[k], net) == 0)
			return true;
	return false;
}

/* Handshakes cost a MAC1 per candidate key: limited per source address and, so that many
 * ports of one IP do not multiply the budget, per IP too. */
static bool
handshake_take(struct relay *r, const struct relay_addr *src, uint64_t now_ms)
{
	struct relay_addr ip = *src;

	ip.port = 0;
	return source_take(r, &ip, now_ms, true) && source_take(r, src, now_ms, true);
}

static enum relay_verdict
route_initiation(struct relay *r, const uint8_t *pkt, const struct relay_addr *src,
    uint64_t now_ms, struct relay_addr *dst)
{
	const size_t mac1_off = RELAY_INITIATION_LEN - 2 * MAC_LEN;
	uint32_t index = wire_index(pkt + 4), e;
	int resp = HOST_NONE, sender;
	const char *nets[SRC_NETS_MAX];
	size_t n_nets;
	bool shared, many;

	if ((n_nets = src_networks(r, src, nets, &many)) == 0)
		return RELAY_DROP_STRANGER;
	if (!handshake_take(r, src, now_ms))
		return RELAY_DROP_RATE;
	/* only keys of the sender's possible networks: no MAC1 work for any other */
	for (uint32_t i = 0; i < r->lim.max_hosts && resp == HOST_NONE; i++)
		if (r->hosts[i].used && in_networks(r->hosts[i].network, nets, n_nets, many) &&
		    mac1_ok(r, &r->hosts[i], pkt, mac1_off))
			resp = (int)i;
	if (resp == HOST_NONE)
		return RELAY_DROP_MAC1;
	sender = sender_guess(r, resp, src, &shared);
	if (sender == HOST_NONE && !shared)
		return RELAY_DROP_NETWORK;
	/* learnt even when it cannot go on yet: that is how the first of two hosts to
	 * reach the relay becomes reachable for the second */
	if (sender != HOST_NONE)
		host_bind(r, sender, src, now_ms);
	if (!host_route(r, resp, now_ms))
		return RELAY_DROP_NO_ROUTE;
	if (addr_eq(&r->hosts[resp].addr, src))
		return RELAY_DROP_LOOP;
	if ((e = entry_find(r, index, now_ms)) != RELAY_NONE) {
		/* a live session's index is not taken over from another address */
		if (!addr_eq(&r->entries[e].addr, src) && r->entries[e].pair != RELAY_NONE)
			return RELAY_DROP_INDEX_IN_USE;
		entry_drop(r, e);
	}
	if ((e = entry_new(r, index, now_ms)) == RELAY_NONE)
		return RELAY_DROP_FULL;
	r->entries[e].kind = ENTRY_INITIATION;
	r->entries[e].owner = sender;
	r->entries[e].peer = resp;
	r->entries[e].addr = *src;
	*dst = r->hosts[resp].addr;
	return RELAY_FORWARD;
}

static enum relay_verdict
route_response(struct relay *r, const uint8_t *pkt, const struct relay_addr *src,
    uint64_t now_ms, struct relay_addr *dst)
{
	const size_t mac1_off = RELAY_RESPONSE_LEN - 2 * MAC_LEN;
	uint32_t index = wire_index(pkt + 4), ie, re;
	int resp, init = HOST_NONE;
	struct entry *in;

	if ((ie = entry_find(r, wire_index(pkt + 8), now_ms)) == RELAY_NONE ||
	    r->entries[ie].kind != ENTRY_INITIATION)
		return RELAY_DROP_UNKNOWN_INDEX;
	in = &r->entries[ie];
	resp = in->peer;
	if (!host_has_ip(&r->hosts[resp], src))
		return RELAY_DROP_STRANGER;
	if (!handshake_take(r, src, now_ms))
		return RELAY_DROP_RATE;
	if (addr_eq(&in->addr, src))
		return RELAY_DROP_LOOP;
	/* the response's MAC1 is keyed with the initiator's key: it names the initiator */
	for (uint32_t i = 0; i < r->lim.max_hosts && init == HOST_NONE; i++)
		if (r->hosts[i].used && (int)i != resp &&
		    strcmp(r->hosts[i].network, r->hosts[resp].network) == 0 &&
		    host_has_ip(&r->hosts[i], &in->addr) && mac1_ok(r, &r->hosts[i], pkt, mac1_off))
			init = (int)i;
	if (init == HOST_NONE || (in->owner != HOST_NONE && in->owner != init))
		return RELAY_DROP_MAC1;
	if ((re = entry_find(r, index, now_ms)) != RELAY_NONE) {
		/* both ends chose one index (or a forgery): the table keys by index alone */
		if (re == ie ||
		    (!addr_eq(&r->entries[re].addr, src) && r->entries[re].pair != RELAY_NONE))
			return RELAY_DROP_INDEX_IN_USE;
		entry_drop(r, re);
	}
	if ((re = entry_new(r, index, now_ms)) == RELAY_NONE)
		return RELAY_DROP_FULL;
	/* entry_new may have evicted the initiation itself when the table was full */
	if (re == ie || !r->etab.links[ie].used) {
		entry_drop(r, re);
		return RELAY_DROP_FULL;
	}
	in = &r->entries[ie];
	in->owner = init;
	if (in->pair != RELAY_NONE)
		entry_drop(r, in->pair);
	in->pair = re;
	r->entries[re].kind = ENTRY_RESPONSE;
	r->entries[re].owner = resp;
	r->entries[re].peer = init;
	r->entries[re].pair = ie;
	r->entries[re].addr = *src;
	host_bind(r, init, &in->addr, now_ms);
	host_bind(r, resp, src, now_ms);
	*dst = in->addr;
	return RELAY_FORWARD;
}

/* Cookie replies and transport data: to the owner of the receiver index, from the host
 * at its other end. */
static enum relay_verdict
route_by_receiver(struct relay *r, enum relay_msg type, const uint8_t *pkt,
    const struct relay_addr *src, uint64_t now_ms, struct relay_addr *dst)
{
	uint32_t e = entry_find(r, wire_index(pkt + 4), now_ms), q;
	struct entry *en;

	if (e == RELAY_NONE || (type == RELAY_MSG_TRANSPORT && r->entries[e].pair == RELAY_NONE))
		return RELAY_DROP_UNKNOWN_INDEX;
	en = &r->entries[e];
	if (!host_has_ip(&r->hosts[en->peer], src))
		return RELAY_DROP_STRANGER;
	if (!source_take(r, src, now_ms, type == RELAY_MSG_COOKIE))
		return RELAY_DROP_RATE;
	if (addr_eq(&en->addr, src))
		return RELAY_DROP_LOOP;
	if (!entry_dest_ok(r, en))
		return RELAY_DROP_STRANGER;
	relay_table_touch(&r->etab, e);
	if (type == RELAY_MSG_TRANSPORT) {
		/* the sender roams within its own IPs: its entry and relay address follow */
		q = en->pair;
		r->entries[q].addr = *src;
		relay_table_touch(&r->etab, q);
		host_bind(r, en->peer, src, now_ms);
	}
	*dst = en->addr;
	return RELAY_FORWARD;
}

static enum relay_verdict
route(struct relay *r, const uint8_t *pkt, size_t len, const struct relay_addr *src,
    uint64_t now_ms, struct relay_addr *dst)
{
	enum relay_msg type = relay_classify(pkt, len);

	if (src->family != AF_INET && src->family != AF_INET6)
		return RELAY_DROP_MALFORMED;
	switch (type) {
	case RELAY_MSG_INITIATION:
		return route_initiation(r, pkt, src, now_ms, dst);
	case RELAY_MSG_RESPONSE:
		return route_response(r, pkt, src, now_ms, dst);
	case RELAY_MSG_COOKIE:
	case RELAY_MSG_TRANSPORT:
		return route_by_receiver(r, type, pkt, src, now_ms, dst);
	default:
		return RELAY_DROP_MALFORMED;
	}
}

enum relay_verdict
relay_route(struct relay *r, const uint8_t *pkt, size_t len, const struct relay_addr *src,
    uint64_t now_ms, struct relay_addr *dst)
{
	struct relay_addr s = *src;
	enum relay_verdict v;

	if (s.family == AF_INET) /* one form per address, whatever the caller left there */
		memset(s.ip + 4, 0, sizeof(s.ip) - 4);
	v = route(r, pkt, len, &s, now_ms, dst);
	r->verdicts[v]++;
	return v;
}


void
relay_stats_get(const struct relay *r, struct relay_stats *st)
{
	st->hosts = r->n_hosts;
	st->entries = r->etab.n;
	st->sources = r->stab.n;
	memcpy(st->verdicts, r->verdicts, sizeof(st->verdicts));
}
