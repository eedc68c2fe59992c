/* libFuzzer target: request decoding and validation, as the server does it for a gRPC
 * message that arrived whole (server/update.c, server/reads.c, server/fanout.c):
 * protobuf-c unpack of UpdateRequest, KeysRequest, GetPeerRequest, WatchRequest or
 * HealthCheckRequest, then server/validate.h.
 *
 * Input: one byte picks the message type (low 3 bits) and the caller (bit 3: a certificate
 * without a key), the rest is the message. Whatever validation accepts must be in range and
 * its addresses must survive canonical text and back, as the store keeps them. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/cert.h"
#include "proto/health.pb-c.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/grpc.h"
#include "server/validate.h"
#include "test/fuzz/fuzz_util.h"

/* The caller's certificate said this: the key is base64 "AAEC...": bytes 0, 1, 2, ... 31. */
static void
identity(struct cert_identity *id, bool has_key)
{
	memset(id, 0, sizeof(*id));
	strcpy(id->name, "alpha");
	strcpy(id->network, "fuzznet");
	id->has_key = has_key;
	for (int i = 0; i < WG_KEY_LEN; i++)
		id->key[i] = (uint8_t)i;
	id->n_tunnel = 1;
	netaddr_parse("10.9.0.1", false, &id->tunnel[0], NULL, 0);
}

static void
check_addr(const struct netaddr *a, bool with_prefix)
{
	char text[NETADDR_STRLEN];
	struct netaddr back;

	FUZZ_CHECK(a->family == AF_INET || a->family == AF_INET6);
	FUZZ_CHECK(a->prefix <= (a->family == AF_INET ? 32 : 128));
	netaddr_format(a, with_prefix, text);
	FUZZ_CHECK(strlen(text) < NETADDR_STRLEN);
	FUZZ_CHECK(netaddr_parse(text, with_prefix, &back, NULL, 0));
	FUZZ_CHECK(netaddr_equal(a, &back));
}

static void
update(const uint8_t *d, size_t len, bool has_key)
{
	Wiresync__V1__UpdateRequest *m;
	struct cert_identity id;
	struct update_fields f;
	char err[256];
	int st;

	m = wiresync__v1__update_request__unpack(NULL, len, d);
	if (m == NULL)
		return;
	identity(&id, has_key);
	err[0] = '\0';
	st = validate_update(m, &id, &f, err, sizeof(err));
	FUZZ_CHECK(st == GRPC_OK || st == GRPC_INVALID_ARGUMENT || st == GRPC_PERMISSION_DENIED);
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
	if (st == GRPC_OK) {
		FUZZ_CHECK(has_key);
		FUZZ_CHECK(f.listen_port >= 1 && f.listen_port <= 65535);
		FUZZ_CHECK(f.n_lan <= PEER_LAN_MAX && f.n_lan == m->n_lan_ips);
		FUZZ_CHECK(f.lan_id_len <= PEER_LAN_ID_MAX && f.lan_id_len == m->lan_id.len);
		for (size_t i = 0; i < f.n_lan; i++)
			check_addr(&f.lan[i], true);
		if (f.wan_reported.family != 0)
			check_addr(&f.wan_reported, false);
	} else {
		FUZZ_CHECK(err[0] != '\0');
	}
	wiresync__v1__update_request__free_unpacked(m, NULL);
}

static void
get_peer(const uint8_t *d, size_t len)
{
	Wiresync__V1__GetPeerRequest *m;
	char err[128];
	int st;

	m = wiresync__v1__get_peer_request__unpack(NULL, len, d);
	if (m == NULL)
		return;
	st = validate_key(&m->public_key, "public_key", err, sizeof(err));
	FUZZ_CHECK((st == GRPC_OK) == (m->public_key.len == WG_KEY_LEN));
	wiresync__v1__get_peer_request__free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *d = data + 1;
	size_t len = size - 1;

	if (size < 1)
		return 0;
	switch (data[0] & 7) {
	case 0:
		update(d, len, !(data[0] & 8));
		break;
	case 1: {
		Wiresync__V1__KeysRequest *m = wiresync__v1__keys_request__unpack(NULL, len, d);
		wiresync__v1__keys_request__free_unpacked(m, NULL);
		break;
	}
	case 2:
		get_peer(d, len);
		break;
	case 3: {
		Wiresync__V1__WatchRequest *m = wiresync__v1__watch_request__unpack(NULL, len, d);
		wiresync__v1__watch_request__free_unpacked(m, NULL);
		break;
	}
	case 4: {
		Grpc__Health__V1__HealthCheckRequest *m =
		    grpc__health__v1__health_check_request__unpack(NULL, len, d);
		grpc__health__v1__health_check_request__free_unpacked(m, NULL);
		break;
	}
	default:
		break;
	}
	return 0;
}
