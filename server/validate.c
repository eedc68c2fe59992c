/* Request validation: every field checked, nothing stored until all pass. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "rpc/grpc.h"
#include "server/validate.h"

int
validate_key(const ProtobufCBinaryData *key, const char *field, char *err, size_t errlen)
{
	if (key->len != WG_KEY_LEN) {
		snprintf(err, errlen, "%s: must be %d bytes, got %zu", field, WG_KEY_LEN, key->len);
		return GRPC_INVALID_ARGUMENT;
	}
	return GRPC_OK;
}

int
validate_update(const Wiresync__V1__UpdateRequest *req, const struct cert_identity *id,
    struct update_fields *out, char *err, size_t errlen)
{
	char why[160];

	memset(out, 0, sizeof(*out));
	if (!id->has_key) {
		snprintf(err, errlen, "certificate of \"%s\" binds no WireGuard key", id->name);
		return GRPC_PERMISSION_DENIED;
	}
	if (req->public_key.len != 0) {
		if (validate_key(&req->public_key, "public_key", err, errlen) != GRPC_OK)
			return GRPC_INVALID_ARGUMENT;
		if (memcmp(req->public_key.data, id->key, WG_KEY_LEN) != 0) {
			snprintf(err, errlen, "public_key: not the key bound to certificate \"%s\"",
			    id->name);
			return GRPC_PERMISSION_DENIED;
		}
	}
	if (req->listen_port == 0 || req->listen_port > 65535) {
		snprintf(err, errlen, "listen_port: must be 1-65535, got %u", req->listen_port);
		return GRPC_INVALID_ARGUMENT;
	}
	out->listen_port = req->listen_port;
	if (req->n_lan_ips > PEER_LAN_MAX) {
		snprintf(err, errlen, "lan_ips: at most %d addresses, got %zu", PEER_LAN_MAX,
		    req->n_lan_ips);
		return GRPC_INVALID_ARGUMENT;
	}
	for (size_t i = 0; i < req->n_lan_ips; i++) {
		struct netaddr *a = &out->lan[i];
		if (!netaddr_parse(req->lan_ips[i], true, a, why, sizeof(why))) {
			snprintf(err, errlen, "lan_ips[%zu]: %s", i, why);
			return GRPC_INVALID_ARGUMENT;
		}
		for (size_t j = 0; j < i; j++) {
			if (netaddr_equal(&out->lan[j], a)) {
				snprintf(err, errlen, "lan_ips[%zu]: duplicate of lan_ips[%zu]", i, j);
				return GRPC_INVALID_ARGUMENT;
			}
		}
	}
	out->n_lan = (uint8_t)req->n_lan_ips;
	if (req->wan_ip != NULL && req->wan_ip[0] != '\0' &&
	    !netaddr_parse(req->wan_ip, false, &out->wan_reported, why, sizeof(why))) {
		snprintf(err, errlen, "wan_ip: %s", why);
		return GRPC_INVALID_ARGUMENT;
	}
	if (req->lan_id.len > PEER_LAN_ID_MAX) {
		snprintf(err, errlen, "lan_id: at most %d bytes, got %zu", PEER_LAN_ID_MAX,
		    req->lan_id.len);
		return GRPC_INVALID_ARGUMENT;
	}
	out->lan_id_len = (uint8_t)req->lan_id.len;
	if (req->lan_id.len > 0)
		memcpy(out->lan_id, req->lan_id.data, req->lan_id.len);
	return GRPC_OK;
}
