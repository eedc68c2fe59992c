/* Session ticket keys in a file, rotated; see tickets.h. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "rpc/log.h"
#include "rpc/tickets.h"

struct ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
};

struct tls_tickets {
	char *path;
	uint32_t rotate_s;
	time_t created;              /* wall time the current key was made */
	size_t n;
	struct ticket_key keys[TLS_TICKET_KEYS_MAX];
};

static int ex_index = -1;

static int
key_init(struct ticket_key *k, EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx,
    const unsigned char *iv, int enc)
{
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k->hmac,
	    sizeof(k->hmac));
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_CipherInit_ex(cctx, EVP_aes_256_cbc(), NULL, k->aes, iv, enc) != 1 ||
	    EVP_MAC_CTX_set_params(hctx, params) != 1)
		return -1;
	return 0;
}

/* OpenSSL's contract: 1 ok, 2 ok but issue a fresh ticket, 0 unknown key, -1 error. */
static int
ticket_cb(SSL *ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct tls_tickets *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ex_index);

	if (t == NULL || t->n == 0)
		return enc ? -1 : 0;
	if (enc) {
		struct ticket_key *k = &t->keys[0];
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1)
			return -1;
		memcpy(name, k->name, sizeof(k->name));
		return key_init(k, cctx, hctx, iv, 1) < 0 ? -1 : 1;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (memcmp(name, t->keys[i].name, sizeof(t->keys[i].name)) != 0)
			continue;
		if (key_init(&t->keys[i], cctx, hctx, iv, 0) < 0)
			return -1;
		return i == 0 ? 1 : 2;
	}
	return 0;
}

static int
write_keys(struct tls_tickets *t, const struct ticket_key *keys, size_t n, char *err,
    size_t errlen)
{
	size_t plen = strlen(t->path) + 5, len = n * sizeof(*keys);
	char *tmp = malloc(plen);
	int fd, e = 0;

	if (tmp == NULL) {
		snprintf(err, errlen, "%s: out of memory", t->path);
		return -ENOMEM;
	}
	/* a reader never sees a half-written file: write beside it, then rename */
	snprintf(tmp, plen, "%s.new", t->path);
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(e));
		free(tmp);
		return -e;
	}
	errno = 0;
	if (write(fd, keys, len) != (ssize_t)len || fsync(fd) < 0)
		e = errno != 0 ? errno : EIO;
	if (close(fd) < 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, t->path) < 0)
		e = errno;
	if (e != 0) {
		snprintf(err, errlen, "%s: %s", t->path, strerror(e));
		(void)unlink(tmp);
	}
	free(tmp);
	return -e;
}

int
tls_tickets_rotate(struct tls_tickets *t, bool forget_old, char *err, size_t errlen)
{
	struct ticket_key keys[TLS_TICKET_KEYS_MAX];
	size_t n = 1;
	int r;

	if (RAND_bytes((unsigned char *)&keys[0], sizeof(keys[0])) != 1) {
		snprintf(err, errlen, "%s: no random bytes for a ticket key",
		    t->path != NULL ? t->path : "ticket keys");
		return -EIO;
	}
	if (!forget_old && t->n > 0)
		keys[n++] = t->keys[0];
	r = t->path != NULL ? write_keys(t, keys, n, err, errlen) : 0;
	if (r == 0) {
		OPENSSL_cleanse(t->keys, sizeof(t->keys));
		memcpy(t->keys, keys, n * sizeof(keys[0]));
		t->n = n;
		t->created = time(NULL);
	}
	OPENSSL_cleanse(keys, sizeof(keys));
	return r;
}

static int
read_keys(struct tls_tickets *t, char *err, size_t errlen)
{
	struct stat st;
	ssize_t got;
	int fd, e;

	fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		e = errno;
		if (e != ENOENT)
			snprintf(err, errlen, "%s: %s", t->path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", t->path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: ticket keys are readable by group or others (mode %04o); "
		    "chmod 600 it", t->path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	if (st.st_size == 0 || st.st_size % TLS_TICKET_KEY_LEN != 0 ||
	    st.st_size > (off_t)sizeof(t->keys)) {
		snprintf(err, errlen, "%s: %lld bytes: expected 1 to %d keys of %d bytes", t->path,
		    (long long)st.st_size, TLS_TICKET_KEYS_MAX, TLS_TICKET_KEY_LEN);
		close(fd);
		return -EINVAL;
	}
	got = read(fd, t->keys, (size_t)st.st_size);
	e = errno;
	close(fd);
	if (got != st.st_size) {
		snprintf(err, errlen, "%s: short read: %s", t->path, got < 0 ? strerror(e) : "truncated");
		return -EIO;
	}
	t->n = (size_t)st.st_size / TLS_TICKET_KEY_LEN;
	t->created = st.st_mtime;
	return 0;
}

static bool
install(SSL_CTX *ctx, struct tls_tickets *t)
{
	if (SSL_CTX_set_ex_data(ctx, ex_index, t) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1)
		return false;
	/* A ticket outlives its key's turn as the current key by one period. */
	SSL_CTX_set_timeout(ctx, (long)t->rotate_s * 2);
	return true;
}

struct tls_tickets *
tls_tickets_open_shared(SSL_CTX *ctx, uint32_t rotate_s, char *err, size_t errlen)
{
	struct tls_tickets *t;

	if (ex_index < 0)
		ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if ((t = calloc(1, sizeof(*t))) == NULL || ex_index < 0) {
		snprintf(err, errlen, "ticket keys: out of memory");
		free(t);
		return NULL;
	}
	t->rotate_s = rotate_s > 0 ? rotate_s : 1;
	if (errlen > 0)
		err[0] = '\0';
	/* a key of our own until the cluster's arrive: a ticket is never refused for want */
	if (tls_tickets_rotate(t, true, err, errlen) < 0 || !install(ctx, t)) {
		if (err[0] == '\0')
			snprintf(err, errlen, "ticket keys: cannot install them");
		tls_tickets_free(t);
		return NULL;
	}
	return t;
}

int
tls_tickets_set(struct tls_tickets *t, const uint8_t *records, size_t n, int64_t created_s)
{
	if (n == 0)
		return -EINVAL;
	if (n > TLS_TICKET_KEYS_MAX)
		n = TLS_TICKET_KEYS_MAX;
	OPENSSL_cleanse(t->keys, sizeof(t->keys));
	memcpy(t->keys, records, n * TLS_TICKET_KEY_LEN);
	t->n = n;
	t->created = (time_t)created_s;
	return 0;
}

int
tls_tickets_make(uint8_t out[TLS_TICKET_KEY_LEN])
{
	return RAND_bytes(out, TLS_TICKET_KEY_LEN) == 1 ? 0 : -EIO;
}

struct tls_tickets *
tls_tickets_open(SSL_CTX *ctx, const char *path, uint32_t rotate_s, char *err, size_t errlen)
{
	struct tls_tickets *t;
	int r;

	if (ex_index < 0)
		ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	t = calloc(1, sizeof(*t));
	if (t == NULL || ex_index < 0 || (t->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(t);
		return NULL;
	}
	t->rotate_s = rotate_s > 0 ? rotate_s : 1;
	r = read_keys(t, err, errlen);
	if (r == -ENOENT) {
		r = tls_tickets_rotate(t, true, err, errlen);
		if (r == 0)
			log_info("%s: made new session ticket keys", path);
	} else if (r == 0 && tls_tickets_due_ms(t) == 0) {
		r = tls_tickets_rotate(t, false, err, errlen);
	}
	if (r < 0 || !install(ctx, t)) {
		if (r == 0)
			snprintf(err, errlen, "%s: cannot install the ticket keys", path);
		tls_tickets_free(t);
		return NULL;
	}
	return t;
}

uint64_t
tls_tickets_due_ms(const struct tls_tickets *t)
{
	time_t now = time(NULL);
	time_t due = t->created + (time_t)t->rotate_s;

	/* a clock that went backwards must not postpone rotation for ever */
	if (now >= due || t->created > now + (time_t)t->rotate_s)
		return 0;
	return (uint64_t)(due - now) * 1000;
}

void
tls_tickets_free(struct tls_tickets *t)
{
	if (t == NULL)
		return;
	OPENSSL_cleanse(t->keys, sizeof(t->keys));
	free(t->path);
	free(t);
}
