/* libFuzzer target: CRL handling. The bytes are read as the server reads its crl file on
 * start and SIGHUP (rpc/tls.h tls_crls_read: every PEM CRL of the file), else as DER; CRLs
 * that parse are installed as the server installs them (tls_ctx_set_crls) and as the
 * agent's verifier uses
 * it (agent/verify.h peer_verifier_set_crl), and two real peer records of the fixed test
 * PKI (fuzz_pki.h) are verified against it, so OpenSSL's CRL checks run over it too. The
 * same bytes are offered as a CRL the server relayed (peer_verifier_offer_crl, DER).
 *
 * Input: a CRL, PEM or DER. The seeds are real CRLs of the test CA. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "agent/verify.h"
#include "rpc/log.h"
#include "rpc/tls.h"
#include "test/fuzz/fuzz_pki.h"
#include "test/fuzz/fuzz_util.h"

static struct fuzz_file ca_file, crl_file;
static struct peer_verifier *verifier;
static SSL_CTX *ctx;
static Wiresync__V1__Peer alpha = WIRESYNC__V1__PEER__INIT, beta = WIRESYNC__V1__PEER__INIT;
static uint8_t alpha_key[WG_KEY_LEN], beta_key[WG_KEY_LEN];
static char *alpha_ips[] = { "10.9.0.1/32", "fd00::1/128" }, *beta_ips[] = { "10.9.0.2/32" };

static void
peer_init(Wiresync__V1__Peer *p, const char *name, const char *key_b64, uint8_t *key,
    char **ips, size_t n_ips, const unsigned char *der, size_t der_len)
{
	FUZZ_CHECK(wg_key_from_base64(key_b64, key));
	p->name = (char *)name;
	p->public_key.data = key;
	p->public_key.len = WG_KEY_LEN;
	p->tunnel_ips = ips;
	p->n_tunnel_ips = n_ips;
	p->certificate.data = (uint8_t *)der;
	p->certificate.len = der_len;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
static void offer(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct cert_identity id;
	char err[256];
	BIO *bio;
	X509 *ca;

	(void)argc;
	(void)argv;
	log_init("fuzz_crl", LOG_LEVEL_ERROR);
	fuzz_file_open(&ca_file, "fuzz_ca");
	fuzz_file_open(&crl_file, "fuzz_crl");
	fuzz_file_write(&ca_file, fuzz_pki_ca_pem, strlen(fuzz_pki_ca_pem));
	verifier = peer_verifier_new(ca_file.path, NULL, FUZZ_PKI_NETWORK, err, sizeof(err));
	FUZZ_CHECK(verifier != NULL);
	peer_init(&alpha, "alpha", FUZZ_PKI_ALPHA_KEY, alpha_key, alpha_ips, 2, fuzz_pki_alpha_der,
	    sizeof(fuzz_pki_alpha_der));
	peer_init(&beta, "beta", FUZZ_PKI_BETA_KEY, beta_key, beta_ips, 1, fuzz_pki_beta_der,
	    sizeof(fuzz_pki_beta_der));
	/* The PKI itself must verify, or every run would test nothing. */
	FUZZ_CHECK(peer_verify(verifier, &alpha, &id, err, sizeof(err)));
	FUZZ_CHECK(peer_verify(verifier, &beta, &id, err, sizeof(err)));

	/* The server's context as far as CRLs go: a store holding the CA. */
	ctx = SSL_CTX_new(TLS_server_method());
	bio = BIO_new_mem_buf(fuzz_pki_ca_pem, -1);
	ca = bio != NULL ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	FUZZ_CHECK(ctx != NULL && ca != NULL);
	FUZZ_CHECK(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca) == 1);
	X509_free(ca);
	BIO_free(bio);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_identity id;
	char err[256];
	STACK_OF(X509_CRL) *crls;
	X509_CRL *crl;
	const unsigned char *p = data;

	offer(data, size);
	fuzz_file_write(&crl_file, data, size);
	crls = tls_crls_read(crl_file.path, err, sizeof(err));
	if (crls == NULL) {
		crl = d2i_X509_CRL(NULL, &p, (long)size);
		if (crl == NULL) {
			ERR_clear_error();
			return 0;
		}
		crls = sk_X509_CRL_new_null();
		if (crls == NULL || sk_X509_CRL_push(crls, crl) <= 0) {
			X509_CRL_free(crl);
			sk_X509_CRL_free(crls);
			return 0;
		}
	}
	(void)tls_ctx_set_crls(ctx, crls, err, sizeof(err));
	for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
		if (peer_verifier_set_crl(verifier, sk_X509_CRL_value(crls, i)) == 0) {
			(void)peer_verify(verifier, &alpha, &id, err, sizeof(err));
			(void)peer_verify(verifier, &beta, &id, err, sizeof(err));
		}
	}
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	ERR_clear_error();
	return 0;
}

/* The CRL as the server relays it in a WatchEvent (DER, unverified): the agent takes it
 * only when the CA signed it and it is newer, so offering it twice takes it at most once. */
static void
offer(const uint8_t *data, size_t size)
{
	struct peer_verifier *v;
	struct cert_identity id;
	uint8_t sum[32];
	char err[256];
	int r;

	v = peer_verifier_new(ca_file.path, NULL, FUZZ_PKI_NETWORK, err, sizeof(err));
	FUZZ_CHECK(v != NULL);
	FUZZ_CHECK(!peer_verifier_crl_sha256(v, sum) && peer_verifier_crl_count(v) == 0);
	r = peer_verifier_offer_crl(v, data, size, err, sizeof(err));
	FUZZ_CHECK(r == 1 || r == -1);
	if (r == 1) {
		FUZZ_CHECK(peer_verifier_crl_sha256(v, sum));
		FUZZ_CHECK(peer_verifier_crl_count(v) >= 0);
		(void)peer_verify(v, &alpha, &id, err, sizeof(err));
		(void)peer_verify(v, &beta, &id, err, sizeof(err));
		FUZZ_CHECK(peer_verifier_offer_crl(v, data, size, err, sizeof(err)) == 0);
	}
	peer_verifier_del(v);
	ERR_clear_error();
}
