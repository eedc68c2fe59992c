/* backup: the server's consistent copy of its store, streamed in chunks, written to a
 * temporary file (0600) beside FILE, checked (length, SHA-256) and renamed into place. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "ctl/ctl.h"
#include "rpc/grpc.h"

struct pull {
	int fd;
	const char *tmp;
	EVP_MD_CTX *md;
	uint64_t got, total, revision;
	bool last, failed, done;
	uint8_t want_sha[SHA256_DIGEST_LENGTH];
	int status;
	char message[512];
};

static void
pull_message(void *arg, const uint8_t *data, size_t len)
{
	struct pull *p = arg;
	Wiresync__V1__BackupChunk *m;

	if (p->failed)
		return;
	if ((m = wiresync__v1__backup_chunk__unpack(NULL, len, data)) == NULL) {
		snprintf(p->message, sizeof(p->message), "a chunk does not decode");
		p->failed = true;
		return;
	}
	if (p->last || (p->total != 0 && m->total_bytes != p->total) ||
	    p->got + m->data.len > m->total_bytes) {
		snprintf(p->message, sizeof(p->message), "chunks disagree on the length");
		p->failed = true;
	} else if (write(p->fd, m->data.data, m->data.len) != (ssize_t)m->data.len) {
		snprintf(p->message, sizeof(p->message), "%s: write: %s", p->tmp, strerror(errno));
		p->failed = true;
	} else {
		EVP_DigestUpdate(p->md, m->data.data, m->data.len);
		p->got += m->data.len;
		p->total = m->total_bytes;
		p->revision = m->revision;
		if (m->last) {
			p->last = true;
			if (m->sha256.len == sizeof(p->want_sha))
				memcpy(p->want_sha, m->sha256.data, sizeof(p->want_sha));
		}
	}
	wiresync__v1__backup_chunk__free_unpacked(m, NULL);
}

static void
pull_done(void *arg, int status, const char *message)
{
	struct pull *p = arg;

	p->done = true;
	p->status = status;
	if (!p->failed)
		snprintf(p->message, sizeof(p->message), "%s", message);
}

int
cmd_backup(struct ctl *c, int argc, char **argv)
{
	static const struct rpc_client_cb cb = { .on_message = pull_message, .on_done = pull_done };
	Wiresync__V1__BackupRequest req = WIRESYNC__V1__BACKUP_REQUEST__INIT;
	struct pull p = { .fd = -1 };
	uint8_t sha[SHA256_DIGEST_LENGTH], buf[8];
	char *tmp = NULL;
	size_t n;
	int st = CTL_EXIT_USAGE;

	if (argc != 2 || argv[1][0] == '-') {
		ctl_err("backup: give one FILE");
		return CTL_EXIT_USAGE;
	}
	n = strlen(argv[1]) + sizeof(".tmp-XXXXXX");
	if ((tmp = malloc(n)) == NULL || (p.md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(p.md, EVP_sha256(), NULL) != 1) {
		ctl_err("out of memory");
		goto out;
	}
	snprintf(tmp, n, "%s.tmp-XXXXXX", argv[1]);
	/* mkstemp creates the file 0600: the store holds every peer's addresses */
	if ((p.fd = mkstemp(tmp)) < 0) {
		ctl_err("%s: cannot create: %s", tmp, strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	p.tmp = tmp;
	n = wiresync__v1__backup_request__pack(&req, buf);
	if (rpc_client_call(c->client, "/wiresync.v1.Admin/Backup", buf, n, c->timeout_ms * 10,
	    &cb, &p) == NULL) {
		ctl_err("out of memory");
		goto out;
	}
	while (!p.done && loop_run_once(c->loop, -1) == 0)
		;
	if (p.failed) {
		ctl_err("backup: %s", p.message);
		st = p.got > 0 && strstr(p.message, "write") != NULL ? CTL_EXIT_USAGE : CTL_EXIT_SERVER;
		goto out;
	}
	if (p.status != GRPC_OK) {
		if (p.status == GRPC_UNAVAILABLE && rpc_client_error(c->client)[0] != '\0')
			ctl_err("server %s: %s", c->server, rpc_client_error(c->client));
		else
			ctl_err("Backup: %s: %s", grpc_status_name(p.status), p.message);
		st = ctl_exit_for(p.status);
		goto out;
	}
	EVP_DigestFinal_ex(p.md, sha, NULL);
	if (!p.last || p.got != p.total || memcmp(sha, p.want_sha, sizeof(sha)) != 0) {
		ctl_err("backup: incomplete or damaged copy (%llu of %llu bytes, checksum %s)",
		    (unsigned long long)p.got, (unsigned long long)p.total,
		    memcmp(sha, p.want_sha, sizeof(sha)) == 0 ? "ok" : "wrong");
		st = CTL_EXIT_SERVER;
		goto out;
	}
	if (fsync(p.fd) < 0 || close(p.fd) < 0) {
		p.fd = -1;
		ctl_err("%s: %s", tmp, strerror(errno));
		goto out;
	}
	p.fd = -1;
	if (rename(tmp, argv[1]) < 0) {
		ctl_err("%s: cannot rename to %s: %s", tmp, argv[1], strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	printf("backup of %llu bytes at revision %llu written to %s\n",
	    (unsigned long long)p.total, (unsigned long long)p.revision, argv[1]);
	st = CTL_EXIT_OK;
out:
	if (p.fd >= 0)
		close(p.fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	EVP_MD_CTX_free(p.md);
	return st;
}
