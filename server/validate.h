/* Validation of request messages against the caller's identity. No I/O. */
#ifndef WS_VALIDATE_H
#define WS_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "common/cert.h"
#include "proto/wiresync.pb-c.h"
#include "server/store.h"

/* What an UpdateRequest may change in its sender's record. */
struct update_fields {
	uint32_t listen_port;
	uint8_t n_lan;
	uint8_t lan_id_len;
	struct netaddr lan[PEER_LAN_MAX];
	struct netaddr wan_reported;  /* family 0 when not sent */
	uint8_t lan_id[PEER_LAN_ID_MAX];
};

/* Checks req from the holder of id. Returns GRPC_OK with *out filled, or
 * GRPC_INVALID_ARGUMENT (a field is malformed) or GRPC_PERMISSION_DENIED (the key is not
 * the caller's, or the caller's certificate binds no key), with err naming the field. */
int validate_update(const Wiresync__V1__UpdateRequest *req, const struct cert_identity *id,
    struct update_fields *out, char *err, size_t errlen);

/* Checks a 32-byte public key field; returns GRPC_OK or GRPC_INVALID_ARGUMENT. */
int validate_key(const ProtobufCBinaryData *key, const char *field, char *err, size_t errlen);

#endif
