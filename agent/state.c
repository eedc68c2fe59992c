/* The agent's files in state_dir. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/state.h"
#include "common/cert.h"
#include "rpc/log.h"

#define WATCH_STATE_MAGIC "WSW1"
#define WATCH_STATE_RECORD_MAX (64 * 1024)

/* Opens path.tmp for writing; on success *tmp holds its name. */
static FILE *
tmp_open(const char *path, char *tmp, size_t len)
{
	FILE *fp;
	int fd;

	snprintf(tmp, len, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || (fp = fdopen(fd, "w")) == NULL) {
		log_warn("%s", tmp);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	return fp;
}

/* Flushes, syncs, closes and renames into place. 0 or -errno. */
static int
tmp_commit(FILE *fp, const char *tmp, const char *path)
{
	int e;

	if (ferror(fp) || fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
		e = errno ? errno : EIO;
		log_warn("%s", tmp);
		fclose(fp);
		unlink(tmp);
		return -e;
	}
	fclose(fp);
	if (rename(tmp, path) < 0) {
		e = errno;
		log_warn("rename %s", path);
		return -e;
	}
	return 0;
}

int
state_owned_load(const char *path, struct owned_keys *owned)
{
	FILE *fp = fopen(path, "r");
	char line[128];
	int n = 0;

	if (fp == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), fp) != NULL) {
		uint8_t key[WG_KEY_LEN];
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '\0')
			continue;
		if (!wg_key_from_base64(line, key)) {
			log_warnx("%s: ignoring a line that is not a key: \"%.50s\"", path, line);
			continue;
		}
		if (owned_add(owned, key) < 0) {
			fclose(fp);
			return -ENOMEM;
		}
		n++;
	}
	fclose(fp);
	return n;
}

int
state_owned_save(const char *path, const struct owned_keys *owned)
{
	char tmp[4200], b64[45];
	FILE *fp = tmp_open(path, tmp, sizeof(tmp));

	if (fp == NULL)
		return -EIO;
	for (size_t i = 0; i < owned->n; i++) {
		wg_key_to_base64(owned->keys[i], b64);
		fprintf(fp, "%s\n", b64);
	}
	return tmp_commit(fp, tmp, path);
}

static void
put_u32(FILE *fp, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	fwrite(b, 1, 4, fp);
}

static bool
get_u32(FILE *fp, uint32_t *v)
{
	uint8_t b[4];

	if (fread(b, 1, 4, fp) != 4)
		return false;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	return true;
}

/* Magic, revision (two little-endian halves), count, then each record as length + bytes. */
int
state_watch_save(const char *path, uint64_t revision, Wiresync__V1__Peer *const *recs, size_t n)
{
	char tmp[4200];
	FILE *fp = tmp_open(path, tmp, sizeof(tmp));

	if (fp == NULL)
		return -EIO;
	fwrite(WATCH_STATE_MAGIC, 1, 4, fp);
	put_u32(fp, (uint32_t)revision);
	put_u32(fp, (uint32_t)(revision >> 32));
	put_u32(fp, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		size_t len = wiresync__v1__peer__get_packed_size(recs[i]);
		uint8_t *buf = malloc(len + 1);
		if (buf == NULL) {
			fclose(fp);
			unlink(tmp);
			return -ENOMEM;
		}
		wiresync__v1__peer__pack(recs[i], buf);
		put_u32(fp, (uint32_t)len);
		fwrite(buf, 1, len, fp);
		free(buf);
	}
	return tmp_commit(fp, tmp, path);
}

int64_t
state_watch_load(const char *path, void (*fn)(void *arg, const Wiresync__V1__Peer *p), void *arg)
{
	FILE *fp = fopen(path, "r");
	char magic[4];
	uint32_t lo, hi, n;
	int64_t ret = -EPROTO;

	if (fp == NULL)
		return 0;
	if (fread(magic, 1, 4, fp) != 4 || memcmp(magic, WATCH_STATE_MAGIC, 4) != 0 ||
	    !get_u32(fp, &lo) || !get_u32(fp, &hi) || !get_u32(fp, &n))
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t len;
		uint8_t *buf;
		Wiresync__V1__Peer *p;

		if (!get_u32(fp, &len) || len > WATCH_STATE_RECORD_MAX ||
		    (buf = malloc(len + 1)) == NULL)
			goto out;
		if (fread(buf, 1, len, fp) != len) {
			free(buf);
			goto out;
		}
		p = wiresync__v1__peer__unpack(NULL, len, buf);
		free(buf);
		if (p == NULL)
			goto out;
		fn(arg, p);
		wiresync__v1__peer__free_unpacked(p, NULL);
	}
	ret = (int64_t)((uint64_t)hi << 32 | lo);
	if (ret < 0)
		ret = -EPROTO;
out:
	fclose(fp);
	return ret;
}

int
state_blob_save(const char *path, const uint8_t *der, size_t len)
{
	char tmp[4200];
	FILE *fp = tmp_open(path, tmp, sizeof(tmp));

	if (fp == NULL)
		return -EIO;
	fwrite(der, 1, len, fp);
	return tmp_commit(fp, tmp, path);
}

/* A CRL of a small CA is a few KB; one of a million revocations would still fit, and so
 * does any policy.cms. */
#define STATE_BLOB_MAX (64u << 20)

int
state_blob_load(const char *path, uint8_t **der, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	int e;

	if (fp == NULL)
		return -errno;
	for (;;) {
		if (n == cap) {
			uint8_t *nb;
			cap = cap != 0 ? cap * 2 : 4096;
			if (cap > STATE_BLOB_MAX || (nb = realloc(buf, cap)) == NULL) {
				e = cap > STATE_BLOB_MAX ? -EFBIG : -ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n, fp);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		e = -EIO;
		goto fail;
	}
	fclose(fp);
	*der = buf;
	*len = n;
	return 0;
fail:
	fclose(fp);
	free(buf);
	return e;
}
