/* netmon's choice of default route, LAN addresses and gateway MAC, from rtnetlink dump
 * messages built here (netmon_parse: no socket, no root). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <check.h>
#include <netlink/msg.h>

#include "agent/netmon.h"
#include "test/check_suites.h"

/* A dump being built: messages back to back, as a receive buffer holds them. */
struct dump {
	uint8_t *buf;
	size_t len;
};

static void
dump_add(struct dump *d, struct nl_msg *m)
{
	struct nlmsghdr *h = nlmsg_hdr(m);
	size_t n = NLMSG_ALIGN(h->nlmsg_len);

	d->buf = realloc(d->buf, d->len + n);
	ck_assert_ptr_nonnull(d->buf);
	memset(d->buf + d->len, 0, n);
	memcpy(d->buf + d->len, h, h->nlmsg_len);
	d->len += n;
	nlmsg_free(m);
}

static void
add_link(struct dump *d, int idx, const char *name, unsigned flags)
{
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWLINK, NLM_F_MULTI);
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC, .ifi_index = idx, .ifi_flags = flags };

	ck_assert_int_eq(nlmsg_append(m, &ifi, sizeof(ifi), NLMSG_ALIGNTO), 0);
	ck_assert_int_eq(nla_put_string(m, IFLA_IFNAME, name), 0);
	dump_add(d, m);
}

static int
family_of(const char *a)
{
	return strchr(a, ':') != NULL ? AF_INET6 : AF_INET;
}

static void
add_addr(struct dump *d, int idx, const char *a, int prefix, unsigned flags)
{
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWADDR, NLM_F_MULTI);
	int fam = family_of(a);
	struct ifaddrmsg ifa = { .ifa_family = (uint8_t)fam, .ifa_prefixlen = (uint8_t)prefix,
		.ifa_scope = RT_SCOPE_UNIVERSE, .ifa_index = (uint32_t)idx };
	uint8_t bin[16];

	ck_assert_int_eq(inet_pton(fam, a, bin), 1);
	ck_assert_int_eq(nlmsg_append(m, &ifa, sizeof(ifa), NLMSG_ALIGNTO), 0);
	ck_assert_int_eq(nla_put(m, IFA_LOCAL, fam == AF_INET ? 4 : 16, bin), 0);
	ck_assert_int_eq(nla_put(m, IFA_ADDRESS, fam == AF_INET ? 4 : 16, bin), 0);
	ck_assert_int_eq(nla_put_u32(m, IFA_FLAGS, flags), 0);
	dump_add(d, m);
}

static void
add_default(struct dump *d, int idx, const char *gw, uint32_t metric)
{
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_MULTI);
	int fam = family_of(gw);
	struct rtmsg rt = { .rtm_family = (uint8_t)fam, .rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST };
	uint8_t bin[16];

	ck_assert_int_eq(inet_pton(fam, gw, bin), 1);
	ck_assert_int_eq(nlmsg_append(m, &rt, sizeof(rt), NLMSG_ALIGNTO), 0);
	ck_assert_int_eq(nla_put_u32(m, RTA_TABLE, RT_TABLE_MAIN), 0);
	ck_assert_int_eq(nla_put(m, RTA_GATEWAY, fam == AF_INET ? 4 : 16, bin), 0);
	ck_assert_int_eq(nla_put_u32(m, RTA_OIF, (uint32_t)idx), 0);
	ck_assert_int_eq(nla_put_u32(m, RTA_PRIORITY, metric), 0);
	dump_add(d, m);
}

static void
add_neigh(struct dump *d, int idx, const char *a, const uint8_t mac[6])
{
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWNEIGH, NLM_F_MULTI);
	int fam = family_of(a);
	struct ndmsg nd = { .ndm_family = (uint8_t)fam, .ndm_ifindex = idx,
		.ndm_state = NUD_REACHABLE };
	uint8_t bin[16];

	ck_assert_int_eq(inet_pton(fam, a, bin), 1);
	ck_assert_int_eq(nlmsg_append(m, &nd, sizeof(nd), NLMSG_ALIGNTO), 0);
	ck_assert_int_eq(nla_put(m, NDA_DST, fam == AF_INET ? 4 : 16, bin), 0);
	ck_assert_int_eq(nla_put(m, NDA_LLADDR, 6, mac), 0);
	dump_add(d, m);
}

static const uint8_t gw_mac[6] = { 0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f };

/* A LAN host: eth0 with v4 and v6 addresses (plus ones that are not LAN addresses), a
 * default route via 192.168.1.1 whose MAC is known, and wg0. */
static void
lan_host(struct dump *d)
{
	add_link(d, 1, "lo", IFF_UP | IFF_LOOPBACK);
	add_link(d, 2, "eth0", IFF_UP | IFF_LOWER_UP);
	add_link(d, 3, "wg0", IFF_UP | IFF_NOARP | IFF_POINTOPOINT);
	add_addr(d, 2, "2001:db8:1::10", 64, 0);
	add_addr(d, 2, "192.168.1.10", 24, 0);
	add_addr(d, 2, "169.254.7.7", 16, 0);
	add_addr(d, 2, "fe80::10", 64, 0);
	add_addr(d, 2, "2001:db8:1::99", 64, IFA_F_TEMPORARY);
	add_addr(d, 3, "10.9.0.1", 32, 0);
	add_default(d, 2, "192.168.1.1", 100);
	add_neigh(d, 2, "192.168.1.1", gw_mac);
}

static char *
fmt(const struct netaddr *a, char buf[NETADDR_STRLEN])
{
	return netaddr_format(a, true, buf);
}

START_TEST(test_lan_host)
{
	struct dump d = { 0 };
	struct net_state st;
	char b[NETADDR_STRLEN];

	lan_host(&d);
	ck_assert_int_eq(netmon_parse(d.buf, d.len, "wg0", &st), 0);
	ck_assert(st.has_default);
	ck_assert_str_eq(st.ifname, "eth0");
	ck_assert_str_eq(netaddr_format(&st.gateway, false, b), "192.168.1.1");
	ck_assert(st.has_gateway_mac);
	ck_assert_mem_eq(st.gateway_mac, gw_mac, 6);
	/* sorted, v4 first; link-local, 169.254/16 and temporary addresses left out */
	ck_assert_uint_eq(st.n_lan, 2);
	ck_assert_str_eq(fmt(&st.lan[0], b), "192.168.1.10/24");
	ck_assert_str_eq(fmt(&st.lan[1], b), "2001:db8:1::10/64");
	free(d.buf);
}
END_TEST

START_TEST(test_lowest_metric_and_exclude)
{
	struct dump d = { 0 };
	struct net_state st;

	lan_host(&d);
	add_default(&d, 3, "10.9.0.254", 50); /* better metric, but through wg0 */
	ck_assert_int_eq(netmon_parse(d.buf, d.len, "wg0", &st), 0);
	ck_assert_str_eq(st.ifname, "eth0");
	ck_assert_int_eq(netmon_parse(d.buf, d.len, NULL, &st), 0);
	ck_assert_str_eq(st.ifname, "wg0");
	ck_assert(!st.has_gateway_mac); /* NOARP: no neighbour entry to look for */
	free(d.buf);
}
END_TEST

/* Found by fuzz_netmon: a link whose IFLA_IFNAME is empty was chosen and reported as
 * default=yes with ifname "". */
START_TEST(test_nameless_link)
{
	struct dump d = { 0 };
	struct net_state st;

	lan_host(&d);
	add_link(&d, 4, "", IFF_UP);
	add_default(&d, 4, "10.1.1.1", 10);
	ck_assert_int_eq(netmon_parse(d.buf, d.len, "wg0", &st), 0);
	ck_assert_str_eq(st.ifname, "eth0");
	free(d.buf);
	d.buf = NULL;
	d.len = 0;
	add_link(&d, 4, "", IFF_UP);
	add_default(&d, 4, "10.1.1.1", 10);
	ck_assert_int_eq(netmon_parse(d.buf, d.len, NULL, &st), 0);
	ck_assert(!st.has_default);
	free(d.buf);
}
END_TEST

START_TEST(test_no_default)
{
	struct dump d = { 0 };
	struct net_state st;

	add_link(&d, 2, "eth0", IFF_UP);
	add_addr(&d, 2, "192.168.1.10", 24, 0);
	ck_assert_int_eq(netmon_parse(d.buf, d.len, NULL, &st), 0);
	ck_assert(!st.has_default);
	ck_assert_uint_eq(st.n_lan, 0);
	ck_assert_int_eq(netmon_parse(NULL, 0, NULL, &st), 0);
	ck_assert(!st.has_default);
	free(d.buf);
}
END_TEST

START_TEST(test_lan_max)
{
	struct dump d = { 0 };
	struct net_state st;
	char a[32], b[NETADDR_STRLEN];

	add_link(&d, 2, "eth0", IFF_UP);
	for (int i = 20; i > 0; i--) { /* in reverse: the result must not depend on order */
		snprintf(a, sizeof(a), "10.0.0.%d", i);
		add_addr(&d, 2, a, 24, 0);
	}
	add_default(&d, 2, "10.0.0.1", 0);
	ck_assert_int_eq(netmon_parse(d.buf, d.len, NULL, &st), 0);
	ck_assert_uint_eq(st.n_lan, NETMON_LAN_MAX);
	ck_assert_str_eq(fmt(&st.lan[0], b), "10.0.0.1/24");
	ck_assert_str_eq(fmt(&st.lan[NETMON_LAN_MAX - 1], b), "10.0.0.8/24");
	free(d.buf);
}
END_TEST

START_TEST(test_refused)
{
	struct dump d = { 0 };
	struct net_state st;
	struct nlmsghdr *h;

	lan_host(&d);
	/* cut the last message (the neighbour) short of its ndmsg header */
	h = (struct nlmsghdr *)(d.buf + d.len - NLMSG_ALIGN(NLMSG_LENGTH(sizeof(struct ndmsg)) +
	    NLA_ALIGN(NLA_HDRLEN + 4) + NLA_ALIGN(NLA_HDRLEN + 6)));
	ck_assert_int_eq(h->nlmsg_type, RTM_NEWNEIGH);
	h->nlmsg_len = NLMSG_HDRLEN + 2;
	ck_assert_int_eq(netmon_parse(d.buf, d.len, NULL, &st), -EPROTO);
	ck_assert(!st.has_default);
	ck_assert_int_eq(netmon_parse(d.buf, d.len, "an-interface-name-too-long", &st), -EINVAL);
	free(d.buf);
}
END_TEST

/* Found by fuzz_netmon: libnl-route 3.7 allocates without end on a multipath nexthop of
 * length 0; netmon_parse refuses the route instead of handing it on. */
START_TEST(test_multipath_zero_length)
{
	struct dump d = { 0 };
	struct net_state st;
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_MULTI);
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST };
	struct rtnexthop nh = { .rtnh_len = 0, .rtnh_ifindex = 2 };

	lan_host(&d);
	ck_assert_int_eq(nlmsg_append(m, &rt, sizeof(rt), NLMSG_ALIGNTO), 0);
	ck_assert_int_eq(nla_put(m, RTA_MULTIPATH, sizeof(nh), &nh), 0);
	dump_add(&d, m);
	ck_assert_int_eq(netmon_parse(d.buf, d.len, NULL, &st), -EPROTO);
	free(d.buf);
}
END_TEST

/* A route whose RTA_VIA is shorter than its family field: libnl-route 3.7 would build an
 * address of length -1 from it (found by fuzz_netmon). */
START_TEST(test_short_via)
{
	struct dump d = { 0 };
	struct net_state st;
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_MULTI);
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST };
	uint8_t one = AF_INET;

	lan_host(&d);
	ck_assert_int_eq(nlmsg_append(m, &rt, sizeof(rt), NLMSG_ALIGNTO), 0);
	ck_assert_int_eq(nla_put(m, RTA_VIA, 1, &one), 0);
	dump_add(&d, m);
	ck_assert_int_eq(netmon_parse(d.buf, d.len, NULL, &st), -EPROTO);
	free(d.buf);
}
END_TEST

START_TEST(test_multipath_short_via)
{
	struct dump d = { 0 };
	struct net_state st;
	struct nl_msg *m = nlmsg_alloc_simple(RTM_NEWROUTE, NLM_F_MULTI);
	struct rtmsg rt = { .rtm_family = AF_INET, .rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT, .rtm_scope = RT_SCOPE_UNIVERSE, .rtm_type = RTN_UNICAST };
	/* one nexthop carrying an RTA_VIA of one byte (attribute header + 1, padded to 8) */
	struct {
		struct rtnexthop nh;
		struct nlattr via;
		uint8_t data[4];
	} mp;

	memset(&mp, 0, sizeof(mp));
	mp.nh.rtnh_len = sizeof(mp);
	mp.nh.rtnh_ifindex = 2;
	mp.via.nla_len = NLA_HDRLEN + 1;
	mp.via.nla_type = RTA_VIA;
	mp.data[0] = AF_INET;
	lan_host(&d);
	ck_assert_int_eq(nlmsg_append(m, &rt, sizeof(rt), NLMSG_ALIGNTO), 0);
	ck_assert_int_eq(nla_put(m, RTA_MULTIPATH, sizeof(mp), &mp), 0);
	dump_add(&d, m);
	ck_assert_int_eq(netmon_parse(d.buf, d.len, NULL, &st), -EPROTO);
	free(d.buf);
}
END_TEST

Suite *
netmon_suite(void)
{
	Suite *s = suite_create("netmon");
	TCase *core = tcase_create("core"), *limits = tcase_create("limits"),
	    *errors = tcase_create("errors");

	tcase_add_test(core, test_lan_host);
	tcase_add_test(core, test_lowest_metric_and_exclude);
	tcase_add_test(core, test_no_default);
	tcase_add_test(limits, test_lan_max);
	tcase_add_test(errors, test_refused);
	tcase_add_test(errors, test_nameless_link);
	tcase_add_test(errors, test_multipath_zero_length);
	tcase_add_test(errors, test_short_via);
	tcase_add_test(errors, test_multipath_short_via);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, errors);
	return s;
}
