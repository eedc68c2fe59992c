/* The live steps of the wg suite: a real wireguard-go read and configured through
 * wg/wg*.c, driven by test/wg.test (which exports WS_WG_IFNAME and runs each case,
 * checking `wg show` in between). Without WS_WG_IFNAME every step does nothing. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "wg/wg.h"
#include "test/check_suites.h"
#include "test/wgtest.h"

/* --- live wireguard-go, driven by test/wg.test ------------------------------------------- */

/* The interface named by WS_WG_IFNAME, or NULL: the live tests then do nothing. */
static const char *
live_ifname(void)
{
	const char *ifname = getenv("WS_WG_IFNAME");

	if (ifname == NULL || ifname[0] == '\0')
		return NULL;
	if (getenv("WS_WG_UAPI_DIR") != NULL)
		wg_set_uapi_dir(getenv("WS_WG_UAPI_DIR"));
	return ifname;
}

/* Key i (0..2) of WS_WG_PEERS, three base64 keys separated by spaces. */
static void
live_key(int i, uint8_t key[WG_KEY_LEN])
{
	const char *s = getenv("WS_WG_PEERS");
	char b64[45];

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_ge(strlen(s), (size_t)(45 * i + 44));
	memcpy(b64, s + 45 * i, 44);
	b64[44] = '\0';
	ck_assert_msg(wg_key_from_base64(b64, key), "bad key in WS_WG_PEERS: %s", b64);
}

static const struct wg_peer *
find_peer(const struct wg_device *d, int i)
{
	uint8_t key[WG_KEY_LEN];

	live_key(i, key);
	for (size_t j = 0; j < d->n_peers; j++)
		if (memcmp(d->peers[j].key, key, WG_KEY_LEN) == 0)
			return &d->peers[j];
	return NULL;
}

static struct wg_device *
live_get(const char *ifname)
{
	struct wg_device *d;

	ck_assert_int_eq(wg_device_get(WG_BACKEND_AUTO, ifname, &d), 0);
	return d;
}

START_TEST(test_live_get)
{
	const char *ifname = live_ifname();
	struct wg_device *d;
	uint8_t pub[WG_KEY_LEN];

	if (ifname == NULL)
		return;
	ck_assert_int_eq(wg_backend_detect(ifname), WG_BACKEND_UAPI);
	d = live_get(ifname);
	ck_assert_str_eq(d->ifname, ifname);
	ck_assert(d->has_public_key);
	ck_assert(wg_key_from_base64(getenv("WS_WG_PUBKEY"), pub));
	ck_assert_mem_eq(d->public_key, pub, WG_KEY_LEN);
	ck_assert_uint_eq(d->listen_port, (unsigned)atoi(getenv("WS_WG_PORT")));
	ck_assert_uint_eq(d->n_peers, 0);
	wg_device_free(d);
}
END_TEST

START_TEST(test_live_add)
{
	const char *ifname = live_ifname();
	struct wg_device *want, *d;
	const struct wg_peer *p;
	char ep[80];

	if (ifname == NULL)
		return;
	want = wgt_dev_new(ifname, 3);
	for (int i = 0; i < 3; i++) {
		live_key(i, want->peers[i].key);
		want->peers[i].flags = WG_PEER_REPLACE_ALLOWED;
	}
	wgt_set_endpoint(&want->peers[0], "192.0.2.1", 51820);
	want->peers[0].flags |= WG_PEER_HAS_KEEPALIVE;
	want->peers[0].keepalive_s = 25;
	wgt_add_ip(&want->peers[0], "10.9.0.2/32");
	wgt_add_ip(&want->peers[0], "fd00:9::2/128");
	wgt_set_endpoint(&want->peers[1], "2001:db8::2", 51821);
	wgt_add_ip(&want->peers[1], "10.9.0.3/32");
	wgt_add_ip(&want->peers[2], "10.9.0.4/32");
	wgt_add_ip(&want->peers[2], "10.9.1.0/24");
	ck_assert_int_eq(wg_device_set(WG_BACKEND_AUTO, want), 0);

	d = live_get(ifname);
	ck_assert_uint_eq(d->n_peers, 3);
	ck_assert_ptr_nonnull(p = find_peer(d, 0));
	ck_assert_str_eq(wgt_endpoint_str(p, ep, sizeof(ep)), "192.0.2.1:51820");
	ck_assert_uint_eq(p->keepalive_s, 25);
	ck_assert_uint_eq(p->n_allowed, 2);
	ck_assert(wgt_allowed_has(p, "10.9.0.2/32") && wgt_allowed_has(p, "fd00:9::2/128"));
	ck_assert_ptr_nonnull(p = find_peer(d, 1));
	ck_assert_str_eq(wgt_endpoint_str(p, ep, sizeof(ep)), "[2001:db8::2]:51821");
	ck_assert_uint_eq(p->keepalive_s, 0);
	ck_assert(p->n_allowed == 1 && wgt_allowed_has(p, "10.9.0.3/32"));
	ck_assert_ptr_nonnull(p = find_peer(d, 2));
	ck_assert(!(p->flags & WG_PEER_HAS_ENDPOINT));
	ck_assert(p->n_allowed == 2 && wgt_allowed_has(p, "10.9.1.0/24"));
	wg_device_free(d);
	wg_device_free(want);
}
END_TEST

START_TEST(test_live_update)
{
	const char *ifname = live_ifname();
	struct wg_device *upd, *d;
	const struct wg_peer *p;
	char ep[80];

	if (ifname == NULL)
		return;
	upd = wgt_dev_new(ifname, 1);
	live_key(0, upd->peers[0].key);
	wgt_set_endpoint(&upd->peers[0], "198.51.100.7", 4500); /* endpoint only */
	ck_assert_int_eq(wg_device_set(WG_BACKEND_AUTO, upd), 0);
	d = live_get(ifname);
	ck_assert_uint_eq(d->n_peers, 3);
	ck_assert_ptr_nonnull(p = find_peer(d, 0));
	ck_assert_str_eq(wgt_endpoint_str(p, ep, sizeof(ep)), "198.51.100.7:4500");
	ck_assert_uint_eq(p->keepalive_s, 25);
	ck_assert_uint_eq(p->n_allowed, 2); /* untouched */
	wg_device_free(d);
	wg_device_free(upd);
}
END_TEST

START_TEST(test_live_remove)
{
	const char *ifname = live_ifname();
	struct wg_device *rm, *d;

	if (ifname == NULL)
		return;
	rm = wgt_dev_new(ifname, 1);
	live_key(1, rm->peers[0].key);
	rm->peers[0].flags = WG_PEER_REMOVE;
	ck_assert_int_eq(wg_device_set(WG_BACKEND_AUTO, rm), 0);
	d = live_get(ifname);
	ck_assert_uint_eq(d->n_peers, 2);
	ck_assert_ptr_null(find_peer(d, 1));
	ck_assert_ptr_nonnull(find_peer(d, 0));
	ck_assert_ptr_nonnull(find_peer(d, 2));
	wg_device_free(d);
	wg_device_free(rm);
}
END_TEST

/* The suite keeps the name "wg" and the case names: test/wg.test selects them. */
Suite *
wg_suite(void)
{
	Suite *s = suite_create("wg");
	TCase *tc;

	/* Live steps, one case each so test/wg.test can check `wg show` in between; without
	 * WS_WG_IFNAME they do nothing. */
	tc = tcase_create("uapi-live-get");
	tcase_add_test(tc, test_live_get);
	suite_add_tcase(s, tc);
	tc = tcase_create("uapi-live-add");
	tcase_add_test(tc, test_live_add);
	suite_add_tcase(s, tc);
	tc = tcase_create("uapi-live-update");
	tcase_add_test(tc, test_live_update);
	suite_add_tcase(s, tc);
	tc = tcase_create("uapi-live-remove");
	tcase_add_test(tc, test_live_remove);
	suite_add_tcase(s, tc);
	return s;
}
