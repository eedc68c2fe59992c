/* The operator's CA at wiresyncctl: certificate files as DER, the CA fingerprint a joining
 * host pins, and signing a join request with wiresync-ca (fork and exec, no shell), the CA
 * key never leaving ca_dir. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "ctl/ctl.h"
#include "ctl/enroll_args.h"

#define CA_OUTPUT_MAX 8192        /* what we keep of wiresync-ca's stderr */
#define DEFAULT_CA_COMMAND "wiresync-ca"

X509 *
ctl_cert_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	X509 *x;

	if (f == NULL) {
		ctl_err("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x == NULL) {
		rewind(f);
		x = d2i_X509_fp(f, NULL);
	}
	fclose(f);
	if (x == NULL)
		ctl_err("%s: not a PEM or DER certificate", path);
	return x;
}

static uint8_t *
cert_der(X509 *x, const char *path, size_t *len)
{
	unsigned char *der = NULL;
	uint8_t *copy = NULL;
	int n = i2d_X509(x, &der);

	if (n <= 0 || (copy = malloc((size_t)n)) == NULL) {
		OPENSSL_free(der);
		ctl_err("%s: cannot encode the certificate", path);
		return NULL;
	}
	memcpy(copy, der, (size_t)n);
	OPENSSL_free(der);
	*len = (size_t)n;
	return copy;
}

uint8_t *
ctl_cert_read_der(const char *path, size_t *len)
{
	X509 *x = ctl_cert_read(path);
	uint8_t *der;

	if (x == NULL)
		return NULL;
	der = cert_der(x, path, len);
	X509_free(x);
	return der;
}

int
ctl_ca_sha256(const char *path, char out[65])
{
	size_t len;
	uint8_t *der = ctl_cert_read_der(path, &len);

	if (der == NULL)
		return -1;
	enroll_sha256_hex(der, len, out);
	free(der);
	return 0;
}

/* Runs argv with stdin and stdout on /dev/null and stderr into out (at most outlen - 1
 * bytes kept). The exit status, or -1 when it cannot start (said). */
static int
run(const char *const *argv, char *out, size_t outlen)
{
	int fds[2], status, null;
	size_t used = 0;
	pid_t pid;
	ssize_t n;
	char buf[512];

	out[0] = '\0';
	if (pipe2(fds, O_CLOEXEC) < 0) {
		ctl_err("approve: pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		ctl_err("approve: fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		if ((null = open("/dev/null", O_RDWR)) >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
		}
		dup2(fds[1], STDERR_FILENO);
		execvp(argv[0], (char *const *)argv);
		dprintf(STDERR_FILENO, "cannot run \"%s\": %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		n = read(fds[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < outlen) {       /* keep the start, drain the rest */
			size_t k = (size_t)n < outlen - 1 - used ? (size_t)n : outlen - 1 - used;
			memcpy(out + used, buf, k);
			used += k;
			out[used] = '\0';
		}
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			ctl_err("approve: waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Prints text indented under a heading line, for wiresync-ca's messages. */
static void
print_indented(const char *text)
{
	const char *p = text;

	while (*p != '\0') {
		size_t n = strcspn(p, "\n");
		fprintf(stderr, "    %.*s\n", (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
}

/* The CSR's key is the certificate's: the file belongs to this request. */
static bool
cert_matches_csr(X509 *x, X509_REQ *req)
{
	EVP_PKEY *a = X509_get0_pubkey(x), *b = X509_REQ_get0_pubkey(req);

	return a != NULL && b != NULL && EVP_PKEY_eq(a, b) == 1;
}

/* x is request j's certificate already (an Approve that was lost): the CSR's key, the
 * WireGuard key, exactly the reserved addresses and the groups asked for. */
static bool
cert_is_request(X509 *x, X509_REQ *req, const Wiresync__V1__PendingJoin *j,
    const char *const *groups, size_t n_groups)
{
	struct cert_identity id;
	char err[256], text[CERT_TUNNEL_MAX][NETADDR_STRLEN];
	const char *ips[CERT_TUNNEL_MAX];

	if (!cert_matches_csr(x, req) || !cert_identity_from_x509(x, &id, err, sizeof(err)) ||
	    !id.has_key || memcmp(id.key, j->public_key.data, WG_KEY_LEN) != 0 ||
	    id.n_groups != n_groups)
		return false;
	for (size_t i = 0; i < n_groups; i++) {
		bool found = false;
		for (size_t k = 0; k < id.n_groups && !found; k++)
			found = strcmp(id.groups[k], groups[i]) == 0;
		if (!found)
			return false;
	}
	for (size_t i = 0; i < id.n_tunnel; i++)
		ips[i] = netaddr_format(&id.tunnel[i], false, text[i]);
	return enroll_ips_same(ips, id.n_tunnel, (const char *const *)j->reserved_ips,
	    j->n_reserved_ips);
}

/* The CSR (DER) into a 0600 file in a new 0700 directory; the paths into dir and file. */
static int
csr_write(const ProtobufCBinaryData *csr, char *dir, size_t dirlen, char *file, size_t filelen)
{
	const char *tmp = getenv("TMPDIR");
	ssize_t n;
	int fd;

	snprintf(dir, dirlen, "%s/wiresyncctl.XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp :
	    "/tmp");
	if (mkdtemp(dir) == NULL) {
		ctl_err("approve: %s: cannot create a private directory: %s", dir, strerror(errno));
		dir[0] = '\0';
		return -1;
	}
	snprintf(file, filelen, "%s/csr.XXXXXX", dir);
	if ((fd = mkstemp(file)) < 0) {
		ctl_err("approve: %s: cannot create: %s", file, strerror(errno));
		file[0] = '\0';
		return -1;
	}
	n = write(fd, csr->data, csr->len);
	if (n != (ssize_t)csr->len || close(fd) < 0) {
		ctl_err("approve: %s: cannot write the CSR: %s", file, n < 0 ? strerror(errno) :
		    "short write");
		return -1;
	}
	return 0;
}

/* path holds j's current certificate: a renewal signs over it (--force). */
static bool
file_is_current(X509 *x, const Wiresync__V1__PendingJoin *j)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	bool same = n > 0 && (size_t)n == j->current_certificate.len &&
	    memcmp(der, j->current_certificate.data, (size_t)n) == 0;

	OPENSSL_free(der);
	return same;
}

int
ctl_ca_sign(const struct ctl *c, const Wiresync__V1__PendingJoin *j, const char *const *groups,
    size_t n_groups, const char *not_after, uint8_t **der, size_t *len)
{
	struct enroll_ca_job job = { 0 };
	const char *argv[ENROLL_CA_ARGV_MAX];
	const unsigned char *p = j->csr.data;
	char key[45], dir[4096] = "", file[4200] = "", crt[4200], *out = NULL;
	X509_REQ *req = NULL;
	X509 *x = NULL;
	int st = CTL_EXIT_USAGE, rc;

	*der = NULL;
	if (!enroll_name_valid(j->name)) {
		ctl_err("approve: request %llu: the name \"%s\" is no host name wiresync-ca signs "
		    "(1-64 of A-Z a-z 0-9 . _ -): deny it", (unsigned long long)j->id, j->name);
		return CTL_EXIT_USAGE;
	}
	if (j->public_key.len != WG_KEY_LEN || j->csr.len == 0 ||
	    (req = d2i_X509_REQ(NULL, &p, (long)j->csr.len)) == NULL) {
		ctl_err("approve: request %llu: the server sent no WireGuard key or no CSR that "
		    "decodes", (unsigned long long)j->id);
		return CTL_EXIT_SERVER;
	}
	if (enroll_job_ips_set(&job, j) < 0) {
		ctl_err("approve: request %llu: the server reserved no usable tunnel address "
		    "(%zu given)", (unsigned long long)j->id, j->n_reserved_ips);
		st = CTL_EXIT_SERVER;
		goto out;
	}
	wg_key_to_base64(j->public_key.data, key);
	job.command = c->ca_command != NULL ? c->ca_command : DEFAULT_CA_COMMAND;
	job.dir = c->ca_dir;
	job.name = j->name;
	job.key_b64 = key;
	job.groups = groups;
	job.n_groups = n_groups;
	job.not_after = j->renewal ? not_after : NULL;
	job.force = j->renewal;
	snprintf(crt, sizeof(crt), "%s/%s.crt", c->ca_dir, j->name);
	if (j->renewal && access(crt, F_OK) == 0) {
		if ((x = ctl_cert_read(crt)) == NULL)
			goto out;
		if (file_is_current(x, j)) {
			X509_free(x);
			x = NULL;
		}
	}

	/* signed before, the Approve lost: send that certificate, do not sign again */
	if (x != NULL || (!j->renewal && access(crt, F_OK) == 0)) {
		if (x == NULL && (x = ctl_cert_read(crt)) == NULL)
			goto out;
		if (!cert_is_request(x, req, j, groups, n_groups)) {
			ctl_err("approve: %s exists and is not request %llu's certificate (CSR key, "
			    "WireGuard key, the reserved addresses or the groups differ): nothing "
			    "signed; revoke it (wiresync-ca -d %s revoke %s) or move it away, then "
			    "approve again", crt, (unsigned long long)j->id, c->ca_dir, j->name);
			goto out;
		}
		fprintf(stderr, "wiresyncctl: %s is request %llu's certificate already: sending "
		    "it, not signing again\n", crt, (unsigned long long)j->id);
	} else {
		if (csr_write(&j->csr, dir, sizeof(dir), file, sizeof(file)) < 0)
			goto out;
		job.csr_path = file;
		if (enroll_ca_argv_build(&job, argv, ENROLL_CA_ARGV_MAX) < 0 ||
		    (out = malloc(CA_OUTPUT_MAX)) == NULL) {
			ctl_err("approve: out of memory");
			goto out;
		}
		if ((rc = run(argv, out, CA_OUTPUT_MAX)) < 0)
			goto out;
		if (rc != 0) {
			ctl_err("approve: %s -d %s agent %s failed (exit %d); nothing approved%s:",
			    job.command, c->ca_dir, j->name, rc, rc == 127 ?
			    " (set ca_command in [ctl] to the wiresync-ca program)" : "");
			print_indented(out);
			goto out;
		}
		if (out[0] != '\0')     /* warnings of a signing that worked */
			print_indented(out);
		if ((x = ctl_cert_read(crt)) == NULL)
			goto out;
		if (!cert_matches_csr(x, req)) {
			ctl_err("approve: %s does not hold the key of request %llu's CSR; nothing "
			    "approved", crt, (unsigned long long)j->id);
			goto out;
		}
	}
	if ((*der = cert_der(x, crt, len)) != NULL)
		st = CTL_EXIT_OK;
out:
	if (file[0] != '\0')
		unlink(file);
	if (dir[0] != '\0')
		rmdir(dir);
	free(out);
	X509_free(x);
	X509_REQ_free(req);
	return st;
}
