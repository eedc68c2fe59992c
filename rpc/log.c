/* Logging to stderr with levels; journald reads the "<N>" priority prefix. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/log.h"

static const char *log_progname = "wiresync";
static enum log_level log_level = LOG_LEVEL_INFO;
static int log_journal;

void
log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_level = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

int
log_level_parse(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

/* Copies line into out with control characters (C0, DEL, UTF-8 C1) written as escapes, so
 * a value a client chose can neither end a log line nor drive a terminal. */
static const char *
log_escape(const char *line, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)line;
	size_t o = 0;

	for (; *u != '\0' && o + 7 < outlen; u++) {
		unsigned c = *u;
		bool c1 = c == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f;

		if (c >= 0x20 && c != 0x7f && !c1) {
			out[o++] = (char)c;
			continue;
		}
		if (c1)
			c = *++u;       /* escape the C1 control's code point */
		out[o++] = '\\';
		if (c == '\t' || c == '\n' || c == '\r') {
			out[o++] = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
			continue;
		}
		out[o++] = c >= 0x80 ? 'u' : 'x';
		if (c >= 0x80) {
			out[o++] = '0';
			out[o++] = '0';
		}
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
	return out;
}

static void
log_vwrite(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	static const char *const words[] = { "error", "warning", "info", "debug" };
	static const int prio[] = { 3, 4, 6, 7 };
	char line[1024], esc[4096];
	int n;

	if (level > log_level)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	if (errnum != 0 && (size_t)n < sizeof(line))
		snprintf(line + n, sizeof(line) - (size_t)n, ": %s", strerror(errnum));
	log_escape(line, esc, sizeof(esc));
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", prio[level], esc);
	else
		fprintf(stderr, "%s: %s: %s\n", log_progname, words[level], esc);
}

#define LOG_FN(name, level, with_errno)                                   \
	void name(const char *fmt, ...)                                   \
	{                                                                 \
		int saved = errno;                                        \
		va_list ap;                                               \
		va_start(ap, fmt);                                        \
		log_vwrite(level, with_errno ? saved : 0, fmt, ap);       \
		va_end(ap);                                               \
		errno = saved;                                            \
	}

LOG_FN(log_error, LOG_LEVEL_ERROR, 1)
LOG_FN(log_errorx, LOG_LEVEL_ERROR, 0)
LOG_FN(log_warn, LOG_LEVEL_WARN, 1)
LOG_FN(log_warnx, LOG_LEVEL_WARN, 0)
LOG_FN(log_info, LOG_LEVEL_INFO, 0)
LOG_FN(log_debug, LOG_LEVEL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
err_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
