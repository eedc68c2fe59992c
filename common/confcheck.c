/* Configuration values checked the same way by a daemon's start and by its -n. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/conf.h"
#include "common/confcheck.h"

static bool
port_ok(const char *p)
{
	unsigned long v = 0;

	if (*p == '\0' || strlen(p) > 5)
		return false;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	return v <= 65535;
}

bool
confcheck_hostport(const char *value, bool need_host, char *why, size_t whylen)
{
	const char *colon, *host_end;

	if (value == NULL || value[0] == '\0') {
		snprintf(why, whylen, "empty; give HOST:PORT");
		return false;
	}
	colon = strrchr(value, ':');
	if (colon == NULL) {
		if (port_ok(value) && need_host)
			snprintf(why, whylen, "not HOST:PORT (give the server's name too, e.g. "
			    "sync.example.org:%s)", value);
		else if (port_ok(value))
			snprintf(why, whylen, "not HOST:PORT (for port %s on every address, give "
			    "0.0.0.0:%s or [::]:%s)", value, value, value);
		else if (need_host)
			snprintf(why, whylen, "not HOST:PORT (e.g. sync.example.org:7443)");
		else
			snprintf(why, whylen, "not HOST:PORT (e.g. 0.0.0.0:7443)");
		return false;
	}
	host_end = colon;
	if (value[0] == '[') {
		if (colon == value || colon[-1] != ']') {
			snprintf(why, whylen, "an IPv6 host goes in brackets: [ADDRESS]:PORT");
			return false;
		}
		host_end = colon - 1;
		if (host_end - value < 2) {
			snprintf(why, whylen, "empty IPv6 address in brackets");
			return false;
		}
	} else if (memchr(value, ':', (size_t)(colon - value)) != NULL) {
		snprintf(why, whylen, "an IPv6 host goes in brackets: [ADDRESS]:PORT");
		return false;
	}
	if (need_host && host_end == value) {
		snprintf(why, whylen, "no host (HOST:PORT)");
		return false;
	}
	if (!port_ok(colon + 1)) {
		snprintf(why, whylen, "port \"%s\" is not a number from 0 to 65535", colon + 1);
		return false;
	}
	return true;
}

int
confcheck_listen(const char *where, const char *key, const char *value, bool resolve,
    char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	char why[160], host[256];
	const char *colon, *h;
	size_t n;
	int r;

	if (!confcheck_hostport(value, false, why, sizeof(why))) {
		snprintf(err, errlen, "%s: %s = %s: %s", where, key, value != NULL ? value : "",
		    why);
		return -1;
	}
	if (!resolve)
		return 0;
	colon = strrchr(value, ':');
	h = value[0] == '[' ? value + 1 : value;
	n = (size_t)(colon - h) - (value[0] == '[' ? 1 : 0);
	if (n >= sizeof(host)) {
		snprintf(err, errlen, "%s: %s = %s: host name too long", where, key, value);
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	r = getaddrinfo(n > 0 ? host : NULL, colon + 1, &hints, &res);
	if (r != 0) {
		snprintf(err, errlen, "%s: %s = %s: %s", where, key, value, gai_strerror(r));
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

int
confcheck_file(const char *where, const char *key, const char *path, char *err,
    size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s = %s: %s%s", where, key, path, strerror(e),
		    e == ENOENT ? "; fix the path, or copy the file there (wiresync-ca writes "
		    "NAME.crt, NAME.key, ca.crt and ca.crl in its directory)" : "");
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s = %s: not a regular file", where, key, path);
		return -1;
	}
	return 0;
}

/* The directory part of path, as dirname(3) would give it, into buf. */
static void
parent_of(const char *path, char *buf, size_t len)
{
	char *slash;

	snprintf(buf, len, "%s", path);
	/* a trailing slash names the same directory */
	for (size_t n = strlen(buf); n > 1 && buf[n - 1] == '/'; n--)
		buf[n - 1] = '\0';
	slash = strrchr(buf, '/');
	if (slash == NULL)
		snprintf(buf, len, ".");
	else if (slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
}

static int
check_parent(const char *where, const char *key, const char *path, const char *made,
    char *err, size_t errlen)
{
	char dir[4096];
	struct stat st;

	parent_of(path, dir, sizeof(dir));
	if (stat(dir, &st) < 0) {
		snprintf(err, errlen, "%s: %s = %s: directory %s: %s; create it first", where, key,
		    path, dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s = %s: %s is not a directory", where, key, path, dir);
		return -1;
	}
	if (access(dir, W_OK | X_OK) < 0) {
		snprintf(err, errlen, "%s: %s = %s: cannot create %s in directory %s: %s", where,
		    key, path, made, dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
confcheck_writable_file(const char *where, const char *key, const char *path, char *err,
    size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "%s: %s = %s: %s", where, key, path, strerror(errno));
			return -1;
		}
		return check_parent(where, key, path, "the file", err, errlen);
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: %s = %s: not a regular file", where, key, path);
		return -1;
	}
	if (access(path, R_OK | W_OK) < 0) {
		snprintf(err, errlen, "%s: %s = %s: %s", where, key, path, strerror(errno));
		return -1;
	}
	return 0;
}

int
confcheck_dir(const char *where, const char *key, const char *path, bool may_create,
    char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		if (errno != ENOENT || !may_create) {
			snprintf(err, errlen, "%s: %s = %s: %s", where, key, path, strerror(errno));
			return -1;
		}
		return check_parent(where, key, path, "the directory", err, errlen);
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: %s = %s: not a directory", where, key, path);
		return -1;
	}
	if (access(path, W_OK | X_OK) < 0) {
		snprintf(err, errlen, "%s: %s = %s: directory not writable: %s", where, key, path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
confcheck_files(const struct config_schema *schema, const struct confcheck_path *files,
    size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++)
		if (files[i].path != NULL && files[i].path[0] != '\0' &&
		    confcheck_file(config_where(schema, files[i].key), files[i].key,
		    files[i].path, err, errlen) < 0)
			return -1;
	return 0;
}

int
confcheck_client(const struct config_schema *schema, const char *server,
    const struct confcheck_path *files, size_t n, char *err, size_t errlen)
{
	char why[160];

	if (!confcheck_hostport(server, true, why, sizeof(why))) {
		snprintf(err, errlen, "%s: server = %s: %s", config_where(schema, "server"),
		    server, why);
		return -1;
	}
	return confcheck_files(schema, files, n, err, errlen);
}
