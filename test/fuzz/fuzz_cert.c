/* libFuzzer target: certificate identity parsing (common/cert.h cert_identity_from_der),
 * what the server reads from every client certificate and the agent from every peer record.
 *
 * Input: DER bytes. An accepted identity must keep the profile's promises. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "common/cert.h"
#include "test/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_identity id;
	char err[256], b64[45];
	uint8_t key[WG_KEY_LEN];

	memset(err, 'x', sizeof(err));
	if (!cert_identity_from_der(data, size, &id, err, sizeof(err))) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(id.name[0] != '\0' && strlen(id.name) <= CERT_NAME_MAX);
	FUZZ_CHECK(id.network[0] != '\0' && strlen(id.network) <= CERT_NAME_MAX);
	FUZZ_CHECK(id.has_key || id.admin);
	FUZZ_CHECK(!id.has_key || id.n_tunnel > 0);
	FUZZ_CHECK(id.n_tunnel <= CERT_TUNNEL_MAX);
	FUZZ_CHECK(memchr(id.serial, '\0', sizeof(id.serial)) != NULL);
	for (size_t i = 0; i < id.n_tunnel; i++)
		FUZZ_CHECK((id.tunnel[i].family == AF_INET && id.tunnel[i].prefix == 32) ||
		    (id.tunnel[i].family == AF_INET6 && id.tunnel[i].prefix == 128));
	for (const char *p = id.name; *p != '\0'; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
	if (id.has_key) {
		/* the key survives base64 both ways, as logs and records carry it */
		wg_key_to_base64(id.key, b64);
		FUZZ_CHECK(strlen(b64) == 44);
		FUZZ_CHECK(wg_key_from_base64(b64, key) && memcmp(key, id.key, WG_KEY_LEN) == 0);
	}
	return 0;
}
