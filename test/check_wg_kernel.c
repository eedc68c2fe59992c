/* Tests for wg/wg_kernel.c: the kernel's generic netlink messages built and parsed
 * back, split across messages included; nothing is sent to a kernel except the probe for
 * a missing device. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <linux/wireguard.h>
#include <netlink/attr.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include "wg/wg.h"
#include "wg/wg_kernel.h"
#include "test/check_suites.h"
#include "test/wgtest.h"

#define FAMILY 0x1d /* any generic netlink family id: messages are never sent */

/* A distinct key per index. */
static void
index_key(unsigned i, uint8_t key[WG_KEY_LEN])
{
	for (size_t j = 0; j < WG_KEY_LEN; j++)
		key[j] = (uint8_t)(0xa5 ^ j);
	memcpy(key, &i, sizeof(i));
}

/* Asserts that got is what set-message peer want says, allowed IPs in order. */
static void
peer_eq(const struct wg_peer *got, const struct wg_peer *want)
{
	char a[80], b[80];

	ck_assert_mem_eq(got->key, want->key, WG_KEY_LEN);
	ck_assert_uint_eq(got->flags, want->flags);
	ck_assert_str_eq(wgt_endpoint_str(got, a, sizeof(a)), wgt_endpoint_str(want, b, sizeof(b)));
	ck_assert_uint_eq(got->keepalive_s, want->keepalive_s);
	ck_assert_uint_eq(got->n_allowed, want->n_allowed);
	for (size_t i = 0; i < want->n_allowed; i++)
		ck_assert(netaddr_equal(&got->allowed[i], &want->allowed[i]));
}
/* --- kernel netlink: build, then parse back ------------------------------------------- */

/* Parses every message into one device (reassembly). */
static struct wg_device *
reassemble(struct nl_msg **msgs, size_t n)
{
	struct wg_device *d = calloc(1, sizeof(*d));

	ck_assert_ptr_nonnull(d);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(msgs[i]), d), 0);
	return d;
}

/* Checks the message frame: size, command, flags, NLA_F_NESTED on the peer list. */
static void
check_frame(struct nl_msg *m, size_t msg_max)
{
	struct nlmsghdr *nlh = nlmsg_hdr(m);
	struct genlmsghdr *g = nlmsg_data(nlh);
	struct nlattr *peers;

	ck_assert_uint_le(nlh->nlmsg_len, msg_max);
	ck_assert_int_eq(nlh->nlmsg_type, FAMILY);
	ck_assert(nlh->nlmsg_flags & NLM_F_REQUEST);
	ck_assert(nlh->nlmsg_flags & NLM_F_ACK);
	ck_assert_uint_eq(g->cmd, WG_CMD_SET_DEVICE);
	ck_assert_uint_eq(g->version, WG_GENL_VERSION);
	peers = nla_find(genlmsg_attrdata(g, 0), genlmsg_attrlen(g, 0), WGDEVICE_A_PEERS);
	ck_assert_ptr_nonnull(peers);
	ck_assert(peers->nla_type & NLA_F_NESTED); /* the kernel's strict parser wants it */
}

START_TEST(test_kernel_roundtrip)
{
	struct wg_device *d = wgt_dev_new("wg0", 3), *back;
	struct nl_msg **msgs;
	size_t n;

	index_key(1, d->peers[0].key);
	d->peers[0].flags = WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE;
	d->peers[0].keepalive_s = 25;
	wgt_set_endpoint(&d->peers[0], "2001:db8::7", 51821);
	wgt_add_ip(&d->peers[0], "10.9.0.2/32");
	wgt_add_ip(&d->peers[0], "fd00:9::2/128");
	index_key(2, d->peers[1].key);
	wgt_set_endpoint(&d->peers[1], "192.0.2.10", 51820);
	index_key(3, d->peers[2].key);
	d->peers[2].flags = WG_PEER_REMOVE;

	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), 0);
	ck_assert_uint_eq(n, 1);
	check_frame(msgs[0], WG_NL_MSG_MAX);
	back = reassemble(msgs, n);
	ck_assert_str_eq(back->ifname, "wg0");
	ck_assert_uint_eq(back->n_peers, 3);
	for (size_t i = 0; i < 3; i++)
		peer_eq(&back->peers[i], &d->peers[i]);
	wg_kernel_msgs_free(msgs, n);
	wg_device_free(back);
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_no_peers)
{
	struct wg_device *d = wgt_dev_new("wg0", 0);
	struct nl_msg **msgs;
	size_t n = 7;

	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), 0);
	ck_assert_uint_eq(n, 0);
	wg_kernel_msgs_free(msgs, n);
	wg_device_free(d);
}
END_TEST

/* A dump part as the kernel writes it: device attributes, then peers. */
static struct nl_msg *
dump_msg(bool first, const uint8_t *peer_key, const char *const *ips, size_t n_ips)
{
	struct nl_msg *m = nlmsg_alloc();
	struct nlattr *peers, *peer, *aips, *aip;
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], psk[WG_KEY_LEN];
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_port = htons(51821) };
	int64_t ts[2] = { 1700000000, 5 };
	struct netaddr a;
	char err[64];

	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(genlmsg_put(m, 1, 1, FAMILY, 0, NLM_F_MULTI, WG_CMD_GET_DEVICE, 1));
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr), 1);
	wgt_hex_key(PRIV, priv);
	wgt_hex_key(PUB, pub);
	memset(psk, 0x77, sizeof(psk));
	if (first) {
		ck_assert_int_eq(nla_put_u16(m, WGDEVICE_A_LISTEN_PORT, 51820), 0);
		ck_assert_int_eq(nla_put_u32(m, WGDEVICE_A_FWMARK, 0), 0);
		ck_assert_int_eq(nla_put_u32(m, WGDEVICE_A_IFINDEX, 7), 0);
		ck_assert_int_eq(nla_put_string(m, WGDEVICE_A_IFNAME, "wg7"), 0);
		ck_assert_int_eq(nla_put(m, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, priv), 0);
		ck_assert_int_eq(nla_put(m, WGDEVICE_A_PUBLIC_KEY, WG_KEY_LEN, pub), 0);
	} else {
		ck_assert_int_eq(nla_put_string(m, WGDEVICE_A_IFNAME, "wg7"), 0);
	}
	peers = nla_nest_start(m, NLA_F_NESTED | WGDEVICE_A_PEERS);
	peer = nla_nest_start(m, NLA_F_NESTED | 0);
	ck_assert_int_eq(nla_put(m, WGPEER_A_PUBLIC_KEY, WG_KEY_LEN, peer_key), 0);
	if (first) {
		ck_assert_int_eq(nla_put(m, WGPEER_A_PRESHARED_KEY, WG_KEY_LEN, psk), 0);
		ck_assert_int_eq(nla_put(m, WGPEER_A_ENDPOINT, sizeof(sin6), &sin6), 0);
		ck_assert_int_eq(nla_put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25), 0);
		ck_assert_int_eq(nla_put(m, WGPEER_A_LAST_HANDSHAKE_TIME, sizeof(ts), ts), 0);
		ck_assert_int_eq(nla_put_u64(m, WGPEER_A_RX_BYTES, 2048), 0);
		ck_assert_int_eq(nla_put_u64(m, WGPEER_A_TX_BYTES, 1024), 0);
		ck_assert_int_eq(nla_put_u32(m, WGPEER_A_PROTOCOL_VERSION, 1), 0);
	}
	aips = nla_nest_start(m, NLA_F_NESTED | WGPEER_A_ALLOWEDIPS);
	for (size_t i = 0; i < n_ips; i++) {
		ck_assert(netaddr_parse(ips[i], true, &a, err, sizeof(err)));
		aip = nla_nest_start(m, NLA_F_NESTED | 0);
		ck_assert_int_eq(nla_put_u16(m, WGALLOWEDIP_A_FAMILY, a.family), 0);
		ck_assert_int_eq(nla_put(m, WGALLOWEDIP_A_IPADDR, a.family == AF_INET ? 4 : 16,
		    a.addr), 0);
		ck_assert_int_eq(nla_put_u8(m, WGALLOWEDIP_A_CIDR_MASK, a.prefix), 0);
		nla_nest_end(m, aip);
	}
	nla_nest_end(m, aips);
	nla_nest_end(m, peer);
	nla_nest_end(m, peers);
	return m;
}

START_TEST(test_kernel_parse_dump)
{
	static const char *const ips1[] = { "10.9.0.2/32", "fd00:9::2/128" };
	static const char *const ips2[] = { "10.9.1.0/24" };
	static const uint8_t zero[WG_KEY_LEN];
	struct nl_msg *m1, *m2;
	struct wg_device *d = calloc(1, sizeof(*d));
	struct nlattr *priv;
	uint8_t k[WG_KEY_LEN], pub[WG_KEY_LEN];
	char ep[80];

	wgt_hex_key(K1, k);
	m1 = dump_msg(true, k, ips1, 2);
	m2 = dump_msg(false, k, ips2, 1); /* the same peer, continued */
	ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(m1), d), 0);
	ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(m2), d), 0);
	wgt_hex_key(PUB, pub);
	ck_assert_str_eq(d->ifname, "wg7");
	ck_assert(d->has_public_key);
	ck_assert_mem_eq(d->public_key, pub, WG_KEY_LEN);
	ck_assert_uint_eq(d->listen_port, 51820);
	ck_assert_uint_eq(d->n_peers, 1);
	ck_assert_mem_eq(d->peers[0].key, k, WG_KEY_LEN);
	ck_assert_uint_eq(d->peers[0].flags, WG_PEER_HAS_ENDPOINT | WG_PEER_HAS_KEEPALIVE);
	ck_assert_str_eq(wgt_endpoint_str(&d->peers[0], ep, sizeof(ep)), "[2001:db8::7]:51821");
	ck_assert_uint_eq(d->peers[0].keepalive_s, 25);
	ck_assert_int_eq(d->peers[0].last_handshake_s, 1700000000);
	ck_assert_uint_eq(d->peers[0].rx_bytes, 2048);
	ck_assert_uint_eq(d->peers[0].tx_bytes, 1024);
	ck_assert_uint_eq(d->peers[0].n_allowed, 3);
	ck_assert(wgt_allowed_has(&d->peers[0], "10.9.1.0/24"));
	/* the private key does not outlive the parse, even in the received message */
	priv = nlmsg_find_attr(nlmsg_hdr(m1), GENL_HDRLEN, WGDEVICE_A_PRIVATE_KEY);
	ck_assert_ptr_nonnull(priv);
	ck_assert_mem_eq(nla_data(priv), zero, WG_KEY_LEN);
	nlmsg_free(m1);
	nlmsg_free(m2);
	wg_device_free(d);
}
END_TEST

/* --- kernel netlink: limits (splitting) ----------------------------------------------- */

/* n peers with k allowed IPs each, endpoint, keepalive, REPLACE. */
static struct wg_device *
mesh(size_t n, size_t k)
{
	struct wg_device *d = wgt_dev_new("wg0", n);
	char ip[64];

	for (size_t i = 0; i < n; i++) {
		struct wg_peer *p = &d->peers[i];

		index_key((unsigned)i, p->key);
		p->flags = WG_PEER_REPLACE_ALLOWED | WG_PEER_HAS_KEEPALIVE;
		p->keepalive_s = 25;
		wgt_set_endpoint(p, i % 2 ? "2001:db8::7" : "192.0.2.10", (uint16_t)(10000 + i));
		for (size_t j = 0; j < k; j++) {
			if (j % 2)
				snprintf(ip, sizeof(ip), "fd00:%zx::%zx/128", j, i);
			else
				snprintf(ip, sizeof(ip), "10.%zu.%zu.%zu/32", j, i / 256, i % 256);
			wgt_add_ip(p, ip);
		}
	}
	return d;
}

struct split_stats {
	size_t msgs;
	size_t continuations;  /* peer fragments after the first */
	size_t heads_alone;    /* first fragments without any of the peer's allowed IPs */
};

/* Builds d under msg_max, checks every frame and the per-message fragments (each head
 * once, REPLACE and endpoint only there, each allowed IP once), and the reassembly. */
static void
split_check(const struct wg_device *d, size_t msg_max, struct split_stats *st)
{
	struct nl_msg **msgs;
	struct wg_device *back, *part;
	size_t n, heads = 0, ips = 0, want_ips = 0;

	memset(st, 0, sizeof(*st));
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, msg_max, &msgs, &n), 0);
	for (size_t i = 0; i < n; i++) {
		check_frame(msgs[i], msg_max);
		part = calloc(1, sizeof(*part));
		ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(msgs[i]), part), 0);
		ck_assert_uint_ge(part->n_peers, 1);
		for (size_t j = 0; j < part->n_peers; j++) {
			const struct wg_peer *p = &part->peers[j];

			ips += p->n_allowed;
			if (p->flags & (WG_PEER_HAS_ENDPOINT | WG_PEER_REMOVE)) {
				heads++;
				if (p->n_allowed == 0 && !(p->flags & WG_PEER_REMOVE))
					st->heads_alone++;
			} else { /* a continuation: only the key and allowed IPs */
				ck_assert(p->flags == 0 && p->n_allowed > 0);
				st->continuations++;
			}
		}
		wg_device_free(part);
	}
	for (size_t i = 0; i < d->n_peers; i++)
		want_ips += d->peers[i].n_allowed;
	ck_assert_uint_eq(heads, d->n_peers);
	ck_assert_uint_eq(ips, want_ips);
	back = reassemble(msgs, n);
	ck_assert_uint_eq(back->n_peers, d->n_peers);
	for (size_t i = 0; i < d->n_peers; i++)
		peer_eq(&back->peers[i], &d->peers[i]);
	wg_device_free(back);
	wg_kernel_msgs_free(msgs, n);
	st->msgs = n;
}

START_TEST(test_kernel_split_1000_peers)
{
	struct wg_device *d = mesh(1000, 4);
	struct split_stats st;

	split_check(d, WG_NL_MSG_MAX, &st);
	ck_assert_uint_gt(st.msgs, 10); /* ~220 bytes a peer: 27 messages of 8 KiB */
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_split_inside_peer)
{
	struct wg_device *d = mesh(3, WG_ALLOWED_MAX);
	struct split_stats st;
	size_t continuations = 0, heads_alone = 0;

	d->peers[1].flags = WG_PEER_REMOVE;
	d->peers[1].n_allowed = 0;
	memset(&d->peers[1].endpoint, 0, sizeof(d->peers[1].endpoint));
	d->peers[1].keepalive_s = 0;

	/* every budget from the smallest up: each cut point, including right after a head */
	for (size_t max = WG_NL_MSG_MIN; max <= 1600; max += 4) {
		split_check(d, max, &st);
		continuations += st.continuations;
		heads_alone += st.heads_alone;
	}
	ck_assert_uint_gt(continuations, 0);
	ck_assert_uint_gt(heads_alone, 0);
	split_check(d, WG_NL_MSG_MIN, &st);
	ck_assert_uint_ge(st.msgs, 4);
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_build_limits)
{
	struct wg_device *d = mesh(1, 1);
	struct nl_msg **msgs = (struct nl_msg **)1;
	size_t n = 7;

	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MIN - 1, &msgs, &n), -EINVAL);
	ck_assert_ptr_null(msgs);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_LIMIT + 1, &msgs, &n), -EINVAL);
	d->peers[0].n_allowed = WG_ALLOWED_MAX + 1;
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), -EINVAL);
	d->peers[0].n_allowed = 1;
	d->peers[0].allowed[0].family = 0;
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), -EINVAL);
	d->n_peers = WG_PEERS_MAX + 1;
	ck_assert_int_eq(wg_kernel_build_set(FAMILY, d, WG_NL_MSG_MAX, &msgs, &n), -E2BIG);
	d->n_peers = 1;
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_parse_allowed_max)
{
	const char *ips[WG_ALLOWED_MAX + 1];
	char buf[WG_ALLOWED_MAX + 1][32];
	struct wg_device *d = calloc(1, sizeof(*d));
	struct nl_msg *m;
	uint8_t k[WG_KEY_LEN];

	index_key(1, k);
	for (size_t i = 0; i <= WG_ALLOWED_MAX; i++) {
		snprintf(buf[i], sizeof(buf[i]), "10.0.0.%zu/32", i);
		ips[i] = buf[i];
	}
	m = dump_msg(true, k, ips, WG_ALLOWED_MAX);
	ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(m), d), 0);
	nlmsg_free(m);
	/* one more in a continuation */
	m = dump_msg(false, k, ips + WG_ALLOWED_MAX, 1);
	ck_assert_int_eq(wg_kernel_parse(nlmsg_hdr(m), d), -E2BIG);
	nlmsg_free(m);
	wg_device_free(d);
}
END_TEST

/* --- kernel netlink: errors ----------------------------------------------------------- */

/* Malformed peer number i: see the switch. */
static struct nl_msg *
bad_peer_msg(int i)
{
	struct nl_msg *m = nlmsg_alloc();
	struct nlattr *peers, *peer, *aips, *aip;
	uint8_t key[WG_KEY_LEN] = { 1 }, addr[16] = { 10 };
	struct sockaddr_in sin = { .sin_family = AF_INET };

	genlmsg_put(m, 1, 1, FAMILY, 0, 0, WG_CMD_GET_DEVICE, 1);
	peers = nla_nest_start(m, NLA_F_NESTED | WGDEVICE_A_PEERS);
	peer = nla_nest_start(m, NLA_F_NESTED | 0);
	if (i == 0) /* something, or libnl drops the empty nest */
		nla_put_u16(m, WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL, 25);
	else
		nla_put(m, WGPEER_A_PUBLIC_KEY, i == 1 ? WG_KEY_LEN - 1 : WG_KEY_LEN, key);
	if (i == 2)
		nla_put(m, WGPEER_A_ENDPOINT, sizeof(sin) - 2, &sin);
	if (i == 3) {
		sin.sin_family = AF_UNIX;
		nla_put(m, WGPEER_A_ENDPOINT, sizeof(sin), &sin);
	}
	if (i == 4)
		nla_put(m, WGPEER_A_LAST_HANDSHAKE_TIME, 8, key);
	if (i >= 5) {
		aips = nla_nest_start(m, NLA_F_NESTED | WGPEER_A_ALLOWEDIPS);
		aip = nla_nest_start(m, NLA_F_NESTED | 0);
		nla_put_u16(m, WGALLOWEDIP_A_FAMILY, i == 5 ? AF_UNIX : AF_INET);
		nla_put(m, WGALLOWEDIP_A_IPADDR, i == 6 ? 16 : 4, addr);
		if (i != 8)
			nla_put_u8(m, WGALLOWEDIP_A_CIDR_MASK, i == 7 ? 33 : 32);
		nla_nest_end(m, aip);
		nla_nest_end(m, aips);
	}
	nla_nest_end(m, peer);
	nla_nest_end(m, peers);
	return m;
}

START_TEST(test_kernel_parse_refused)
{
	/* 0 no key, 1 short key, 2 short endpoint, 3 AF_UNIX endpoint, 4 short handshake time,
	 * 5 AF_UNIX allowed IP, 6 v4 with 16 bytes, 7 /33, 8 no prefix */
	struct wg_device *d = calloc(1, sizeof(*d));
	struct nl_msg *m = bad_peer_msg(_i);

	ck_assert_msg(wg_kernel_parse(nlmsg_hdr(m), d) == -EPROTO, "accepted case %d", _i);
	nlmsg_free(m);
	wg_device_free(d);
}
END_TEST

START_TEST(test_kernel_no_such_device)
{
	struct wg_device *d = (struct wg_device *)1, *set = wgt_dev_new("wgnone0", 1);

	/* no module, or no such link: either way no such WireGuard interface */
	ck_assert_int_eq(wg_device_get(WG_BACKEND_KERNEL, "wgnone0", &d), -ENODEV);
	ck_assert_ptr_null(d);
	index_key(1, set->peers[0].key);
	ck_assert_int_eq(wg_device_set(WG_BACKEND_KERNEL, set), -ENODEV);
	wg_device_free(set);
}
END_TEST

Suite *
wg_kernel_suite(void)
{
	Suite *s = suite_create("wg_kernel");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_test(tc, test_kernel_roundtrip);
	tcase_add_test(tc, test_kernel_no_peers);
	tcase_add_test(tc, test_kernel_parse_dump);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_kernel_split_1000_peers);
	tcase_add_test(tc, test_kernel_split_inside_peer);
	tcase_add_test(tc, test_kernel_build_limits);
	tcase_add_test(tc, test_kernel_parse_allowed_max);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_kernel_parse_refused, 0, 9);
	tcase_add_test(tc, test_kernel_no_such_device);
	suite_add_tcase(s, tc);
	return s;
}
