/* Checks of configuration values that the daemons' start and their -n share, so that -n
 * refuses what the start would refuse, with the same words, before anything is created. */
#ifndef WS_CONFCHECK_H
#define WS_CONFCHECK_H

#include <stdbool.h>
#include <stddef.h>

/* Pure: true when value is "HOST:PORT", "[IPV6]:PORT" or, unless need_host, ":PORT", with a
 * decimal PORT of 0 to 65535. On false, why says what is wrong with it and gives an
 * example ("0.0.0.0:7444" for a bare "7444"). */
bool confcheck_hostport(const char *value, bool need_host, char *why, size_t whylen);

/* The checks below write "WHERE: KEY = VALUE: what is wrong; what to do" into err, WHERE
 * being config_where()'s "FILE:LINE" or "command line". Each returns 0 or -1. */

/* value is HOST:PORT (confcheck_hostport) and, when resolve, HOST resolves as a local
 * address to listen on (getaddrinfo, AI_PASSIVE; nothing is bound). */
int confcheck_listen(const char *where, const char *key, const char *value, bool resolve,
    char *err, size_t errlen);

/* path names a regular file this process can read. */
int confcheck_file(const char *where, const char *key, const char *path, char *err,
    size_t errlen);

/* path names a file that can be opened for writing or created: it is a writable regular
 * file, or absent in an existing directory this process can write. */
int confcheck_writable_file(const char *where, const char *key, const char *path, char *err,
    size_t errlen);

/* path is a directory this process can write, or (may_create) absent with a writable
 * parent directory, as mkdir(2) of path would need. */
int confcheck_dir(const char *where, const char *key, const char *path, bool may_create,
    char *err, size_t errlen);

struct config_schema;
struct confcheck_path { const char *key, *path; };

/* Each of the n files given (a NULL or empty path is skipped) is readable (confcheck_file),
 * err naming the key and where it was set (config_where). */
int confcheck_files(const struct config_schema *schema, const struct confcheck_path *files,
    size_t n, char *err, size_t errlen);

/* What a client (the agent, wiresyncctl) needs before it connects: server is HOST:PORT and
 * each of the n files given (a NULL or empty path is skipped) is readable; err names the
 * key and where it was set (config_where). */
int confcheck_client(const struct config_schema *schema, const char *server,
    const struct confcheck_path *files, size_t n, char *err, size_t errlen);

#endif
