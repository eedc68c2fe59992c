/* libFuzzer target: what an agent does with a WatchEvent from a server it must not trust
 * (common/watch.c decodes it, agent/agent.c hands each record to agent/verify.h): protobuf-c
 * unpack of the event, peer_verify of every record of a snapshot or an upsert against the
 * fixed test PKI (fuzz_pki.h), and peer_verifier_offer_crl for a relayed CRL.
 *
 * Input: one WatchEvent message. A record the verifier accepts must carry a key and tunnel
 * addresses that its certificate binds, which with the test PKI means alpha's or beta's. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <openssl/err.h>

#include "agent/verify.h"
#include "proto/wiresync.pb-c.h"
#include "rpc/log.h"
#include "test/fuzz/fuzz_pki.h"
#include "test/fuzz/fuzz_util.h"

static struct fuzz_file ca_file;
static struct peer_verifier *verifier;
static uint8_t alpha_key[WG_KEY_LEN], beta_key[WG_KEY_LEN];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	(void)argc;
	(void)argv;
	log_init("fuzz_watch", LOG_LEVEL_ERROR);
	fuzz_file_open(&ca_file, "fuzz_ca");
	fuzz_file_write(&ca_file, fuzz_pki_ca_pem, strlen(fuzz_pki_ca_pem));
	verifier = peer_verifier_new(ca_file.path, NULL, FUZZ_PKI_NETWORK, err, sizeof(err));
	FUZZ_CHECK(verifier != NULL);
	FUZZ_CHECK(wg_key_from_base64(FUZZ_PKI_ALPHA_KEY, alpha_key));
	FUZZ_CHECK(wg_key_from_base64(FUZZ_PKI_BETA_KEY, beta_key));
	return 0;
}

static void
record(const Wiresync__V1__Peer *p)
{
	struct cert_identity id;
	char err[512];

	if (p == NULL)
		return;
	memset(err, 'x', sizeof(err));
	if (!peer_verify(verifier, p, &id, err, sizeof(err))) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		return;
	}
	FUZZ_CHECK(id.has_key && p->public_key.len == WG_KEY_LEN);
	FUZZ_CHECK(memcmp(p->public_key.data, id.key, WG_KEY_LEN) == 0);
	FUZZ_CHECK(memcmp(id.key, alpha_key, WG_KEY_LEN) == 0 ||
	    memcmp(id.key, beta_key, WG_KEY_LEN) == 0);
	FUZZ_CHECK(p->n_tunnel_ips == id.n_tunnel);
	FUZZ_CHECK(strcmp(id.network, FUZZ_PKI_NETWORK) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Wiresync__V1__WatchEvent *ev;
	char err[256];

	ev = wiresync__v1__watch_event__unpack(NULL, size, data);
	if (ev == NULL)
		return 0;
	switch (ev->event_case) {
	case WIRESYNC__V1__WATCH_EVENT__EVENT_SNAPSHOT:
		for (size_t i = 0; ev->snapshot != NULL && i < ev->snapshot->n_peers; i++)
			record(ev->snapshot->peers[i]);
		break;
	case WIRESYNC__V1__WATCH_EVENT__EVENT_UPSERT:
		record(ev->upsert);
		break;
	case WIRESYNC__V1__WATCH_EVENT__EVENT_CRL: {
		/* a fresh verifier each time: the CRL it takes must not carry over to the next input */
		struct peer_verifier *v = peer_verifier_new(ca_file.path, NULL, FUZZ_PKI_NETWORK, err,
		    sizeof(err));
		FUZZ_CHECK(v != NULL);
		(void)peer_verifier_offer_crl(v, ev->crl.data, ev->crl.len, err, sizeof(err));
		peer_verifier_del(v);
		break;
	}
	default:
		break;
	}
	wiresync__v1__watch_event__free_unpacked(ev, NULL);
	ERR_clear_error();
	return 0;
}
