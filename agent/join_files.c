/* wiresync-agent join's files: the TLS key and CSR it makes once and reuses (resuming the
 * same request), the WireGuard key it may make, the certificates and agent.conf it writes. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "agent/join_impl.h"
#include "rpc/tls.h"

bool
join_paths_init(struct join_paths *p, const char *dir, const char *name, char *err,
    size_t errlen)
{
	int n[5];

	n[0] = snprintf(p->key, sizeof(p->key), "%s/%s.key", dir, name);
	n[1] = snprintf(p->csr, sizeof(p->csr), "%s/%s.csr", dir, name);
	n[2] = snprintf(p->crt, sizeof(p->crt), "%s/%s.crt", dir, name);
	n[3] = snprintf(p->ca, sizeof(p->ca), "%s/ca.crt", dir);
	n[4] = snprintf(p->wgkey, sizeof(p->wgkey), "%s/%s.wgkey", dir, name);
	for (int i = 0; i < 5; i++) {
		if (n[i] < 0 || n[i] >= PATH_MAX) {
			snprintf(err, errlen, "--dir %s: path too long", dir);
			return false;
		}
	}
	return true;
}

int
join_dir_make(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return 0;
		snprintf(err, errlen, "--dir %s: not a directory", dir);
		return -1;
	}
	if (errno != ENOENT || mkdir(dir, 0755) < 0) {
		snprintf(err, errlen, "--dir %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Reads at most max bytes of path into a malloc'd buffer: 1, 0 (absent) or -1. */
static int
file_read(const char *path, size_t max, uint8_t **data, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n;

	*data = NULL;
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(buf);
		snprintf(err, errlen, "%s: longer than %zu bytes", path, max);
		return -1;
	}
	*data = buf;
	*len = n;
	return 1;
}

int
join_key_load(const char *path, EVP_PKEY **key, bool *created, char *err, size_t errlen)
{
	EVP_PKEY *k = NULL;
	FILE *f;
	char ebuf[256];
	int fd;

	*key = NULL;
	*created = false;
	if ((f = fopen(path, "r")) != NULL) {
		struct stat st;

		if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
			snprintf(err, errlen, "%s: private key is readable by group or others "
			    "(mode %04o); chmod 600 it", path, (unsigned)(st.st_mode & 07777));
			fclose(f);
			return -1;
		}
		k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
		fclose(f);
		if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_EC ||
		    EVP_PKEY_get_bits(k) != 256) {
			snprintf(err, errlen, "%s: not an ECDSA P-256 private key in PEM (move it away "
			    "to make a new one)", path);
			EVP_PKEY_free(k);
			return -1;
		}
		*key = k;
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((k = csr_key_new()) == NULL) {
		snprintf(err, errlen, "cannot make a P-256 key: %s",
		    tls_error_string(ebuf, sizeof(ebuf)));
		return -1;
	}
	/* 0600 from the start: the key is never readable by others, not even briefly */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		EVP_PKEY_free(k);
		return -1;
	}
	if (PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1 || fflush(f) != 0 ||
	    fsync(fd) != 0) {
		snprintf(err, errlen, "%s: cannot write the key", path);
		fclose(f);
		unlink(path);
		EVP_PKEY_free(k);
		return -1;
	}
	fclose(f);
	*key = k;
	*created = true;
	return 0;
}

int
join_csr_load(const char *path, EVP_PKEY *key, const char *name, uint8_t **der, size_t *len,
    bool *created, char *err, size_t errlen)
{
	char why[160];
	int r;

	*created = false;
	r = file_read(path, CSR_DER_MAX, der, len, err, errlen);
	if (r < 0)
		return -1;
	if (r > 0) {
		if (csr_matches(*der, *len, key, name, why, sizeof(why)))
			return 0;
		/* not this host's request (another name, a new key): make the right one */
		free(*der);
		*der = NULL;
	}
	if (csr_build(key, name, der, len, err, errlen) < 0)
		return -1;
	if (join_file_write(path, *der, *len, 0644, err, errlen) < 0) {
		free(*der);
		*der = NULL;
		return -1;
	}
	*created = true;
	return 0;
}

int
join_wgkey_read(const char *path, uint8_t key[WG_KEY_LEN], char *err, size_t errlen)
{
	uint8_t *data = NULL;
	char text[46];
	size_t len = 0;
	int r;

	r = file_read(path, 64, &data, &len, err, errlen);
	if (r <= 0)
		return r;
	while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;
	r = len == 44 ? 1 : -1;
	if (r > 0) {
		memcpy(text, data, 44);
		text[44] = '\0';
		if (!wg_key_from_base64(text, key))
			r = -1;
	}
	OPENSSL_cleanse(data, len);
	OPENSSL_cleanse(text, sizeof(text));
	free(data);
	if (r < 0)
		snprintf(err, errlen, "%s: not a base64 WireGuard private key", path);
	return r;
}

int
join_wgkey_write(const char *path, const uint8_t key[WG_KEY_LEN], char *err, size_t errlen)
{
	char text[46];
	int fd, rc = 0;

	wg_key_to_base64(key, text);
	text[44] = '\n';
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, text, 45) != 45 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

int
join_file_write(const char *path, const void *data, size_t len, mode_t mode, char *err,
    size_t errlen)
{
	char tmp[PATH_MAX + 8];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.new", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		goto fail;
	if (fchmod(fd, mode) < 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) < 0) {
		close(fd);
		unlink(tmp);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		unlink(tmp);
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

/* PEM of the certificates into a memory buffer, then one atomic write. */
static int
pem_write(const char *path, X509 *first, STACK_OF(X509) *rest, char *err, size_t errlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long n;
	int rc = -1;

	if (b == NULL || PEM_write_bio_X509(b, first) != 1) {
		snprintf(err, errlen, "%s: cannot encode the certificate", path);
		goto out;
	}
	for (int i = 0; i < sk_X509_num(rest); i++) {
		if (PEM_write_bio_X509(b, sk_X509_value(rest, i)) != 1) {
			snprintf(err, errlen, "%s: cannot encode the chain", path);
			goto out;
		}
	}
	n = BIO_get_mem_data(b, &p);
	rc = join_file_write(path, p, (size_t)n, 0644, err, errlen);
out:
	BIO_free(b);
	return rc;
}

int
join_certs_write(const struct join_paths *p, X509 *leaf, STACK_OF(X509) *chain, X509 *ca,
    char *err, size_t errlen)
{
	if (pem_write(p->ca, ca, NULL, err, errlen) < 0)
		return -1;
	return pem_write(p->crt, leaf, chain, err, errlen);
}

/* host (brackets allowed) is an address of no host in particular: "", 0.0.0.0, ::, [::] */
static bool
host_unspecified(const char *host, size_t len)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t a[16] = { 0 }, zero[16] = { 0 };

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0)
		return true;
	if (len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		return memcmp(a, zero, 4) == 0;
	return inet_pton(AF_INET6, buf, a) == 1 && memcmp(a, zero, 16) == 0;
}

bool
join_server_pick(const char *named, const char *reached, char *out, size_t outlen)
{
	const char *np = strrchr(named, ':'), *rp = strrchr(reached, ':');
	int n;

	if (np == NULL || np[1] == '\0')
		return false;
	if (!host_unspecified(named, (size_t)(np - named)))
		n = snprintf(out, outlen, "%s", named);
	else if (rp == NULL || rp == reached)
		return false;
	else
		n = snprintf(out, outlen, "%.*s%s", (int)(rp - reached), reached, np);
	return n >= 0 && (size_t)n < outlen;
}

int
join_conf_write(const char *path, const struct join_paths *p, const struct join_conf *c,
    bool *moved, char *err, size_t errlen)
{
	char buf[6 * PATH_MAX], old[PATH_MAX + 8], head[sizeof(JOIN_MARKER)];
	FILE *f;
	time_t now = time(NULL);
	struct tm tm;
	char when[32];
	int n;

	*moved = false;
	/* someone's own agent.conf is kept, not overwritten */
	if ((f = fopen(path, "r")) != NULL) {
		size_t got = fread(head, 1, sizeof(head) - 1, f);

		fclose(f);
		head[got] = '\0';
		if (strcmp(head, JOIN_MARKER) != 0) {
			snprintf(old, sizeof(old), "%s.old", path);
			if (rename(path, old) < 0) {
				snprintf(err, errlen, "%s: cannot move it to %s: %s", path, old,
				    strerror(errno));
				return -1;
			}
			*moved = true;
		}
	}
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = snprintf(buf, sizeof(buf),
	    JOIN_MARKER " at %s (request %" PRIu64 ", code %s)\n"
	    "# see wiresync-agent --help for every key\n"
	    "[agent]\n"
	    "server = %s\n"
	    "certificate = %s\n"
	    "private_key = %s\n"
	    "ca = %s\n"
	    "interface = %s\n",
	    when, c->id, c->code, c->server, p->crt, p->key, p->ca, c->interface);
	for (size_t i = 0; i < c->n_extra && n >= 0 && (size_t)n < sizeof(buf); i++) {
		const char *eq = strchr(c->extra[i], '=');

		if (eq == NULL || strncmp(c->extra[i], "--", 2) != 0)
			continue;
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%.*s = %s\n",
		    (int)(eq - c->extra[i] - 2), c->extra[i] + 2, eq + 1);
	}
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		snprintf(err, errlen, "%s: too long", path);
		return -1;
	}
	return join_file_write(path, buf, (size_t)n, 0644, err, errlen);
}
