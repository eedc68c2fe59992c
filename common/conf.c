/* INI config files through libinih, plus --name=value overrides.
 *
 * libinih tells the handler the section, name and value but not the line, and Debian's build
 * (libinih 55) has INI_HANDLER_LINENO off. So the file is read into memory and handed to
 * ini_parse_stream() one line per reader call: the reader counts the lines, and inih's own
 * line number (its return value) stays equal to ours. The reader also rejects lines that
 * inih would silently cut at its buffer size (and then parse the rest as a new line).
 *
 * What Debian's libinih does to a line (its defaults, checked at run time):
 * - whitespace around names and values is stripped; "name: value" works like "name = value";
 * - ';' or '#' at the start of a line is a comment; ';' after a blank ends the value
 *   ("a;b" stays "a;b", "a ;b" is "a");
 * - an indented line after a name = value line continues that value (Python's configparser);
 *   a second value for one key is an error here, so such lines are rejected with a hint;
 * - a UTF-8 BOM at the start of the file is skipped.
 * inih does not strip inline '#' comments; the handler does: '#' at the start of a value or
 * after a blank ends it, so "crl = /etc/x.crl   # optional" is "/etc/x.crl".
 *
 * An empty value ("crl =") sets a string key to NULL: it is given, but says "none", and a
 * required key given empty counts as missing. In names, '-' and '_' are the same character,
 * in the file and on the command line. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "common/conf.h"
#include "rpc/log.h"

#define CONFIG_FILE_MAX (64 * 1024)     /* bytes; a larger file is refused */
#define CONFIG_QUOTE_MAX 64             /* value characters quoted in a message */
#define CONFIG_WHERE_ARG "command line"

/* State of one config_load_file(), shared by the reader and the handler. */
struct config_parse {
	const struct config_schema *s;
	const char *path;
	const char *buf;
	size_t len, off;
	int lineno;             /* the line last handed to inih */
	bool indented;          /* that line starts with a blank */
	bool after_key;         /* a name = value line since the last [section] */
	const struct config_key *last_key;
	int *first_line;        /* per key: the line that set it in this file, or 0 */
	int err_line;           /* line of the first error, or 0 */
	int rc;                 /* its code */
	char *err;
	size_t errlen;
};

union config_value {
	char *s;
	unsigned u;
	bool b;
};

static void config_parse_error(struct config_parse *cp, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the first error only, as "FILE:LINE: ..." for the current line. */
static void
config_parse_error(struct config_parse *cp, int rc, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (cp->err_line != 0)
		return;
	cp->err_line = cp->lineno;
	cp->rc = rc;
	if (cp->err == NULL || cp->errlen == 0)
		return;
	n = snprintf(cp->err, cp->errlen, "%s:%d: ", cp->path, cp->lineno);
	if (n < 0 || (size_t)n >= cp->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(cp->err + n, cp->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Copies v[0..len) for a message: non-printable bytes become '?', long values are cut. */
static void
config_quote(const char *v, size_t len, char out[CONFIG_QUOTE_MAX + 4])
{
	size_t i;

	for (i = 0; i < len && i < CONFIG_QUOTE_MAX; i++)
		out[i] = (v[i] >= 0x20 && v[i] < 0x7f) ? v[i] : '?';
	if (i < len) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/* Finds a key by name; '-' and '_' match each other. */
static struct config_key *
config_find(const struct config_schema *s, const char *name, size_t len)
{
	size_t i, j;

	for (i = 0; i < s->n_keys; i++) {
		const char *kn = s->keys[i].name;

		if (strlen(kn) != len)
			continue;
		for (j = 0; j < len; j++) {
			char a = kn[j] == '-' ? '_' : kn[j];
			char b = name[j] == '-' ? '_' : name[j];

			if (a != b)
				break;
		}
		if (j == len)
			return &s->keys[i];
	}
	return NULL;
}

static bool
config_parse_uint(const char *v, size_t len, unsigned min, unsigned max, unsigned *out)
{
	unsigned long long n = 0;
	size_t i;

	if (len == 0 || len > 20)
		return false;
	for (i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (unsigned)(v[i] - '0');
		if (n > UINT32_MAX)
			return false;
	}
	if (n < min || n > max)
		return false;
	*out = (unsigned)n;
	return true;
}

static bool
config_parse_bool(const char *v, size_t len, bool *out)
{
	static const struct {
		const char *word;
		bool value;
	} words[] = {
		{ "yes", true }, { "no", false }, { "true", true }, { "false", false },
		{ "on", true }, { "off", false }, { "1", true }, { "0", false },
	};
	size_t i;

	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].word) == len && strncasecmp(words[i].word, v, len) == 0) {
			*out = words[i].value;
			return true;
		}
	}
	return false;
}

/* Parses v[0..len) for k into *out (a string is allocated, NULL when empty). Returns 0, or
 * -EINVAL/-ENOMEM with what is wrong in what. */
static int
config_value_parse(const struct config_key *k, const char *v, size_t len,
    union config_value *out, char *what, size_t whatlen)
{
	char quoted[CONFIG_QUOTE_MAX + 4];

	config_quote(v, len, quoted);
	switch (k->type) {
	case CONFIG_STRING:
		out->s = NULL;
		if (len == 0)
			return 0;
		if ((out->s = strndup(v, len)) == NULL) {
			err_set(what, whatlen, "out of memory");
			return -ENOMEM;
		}
		if (k->check != NULL && !k->check(out->s, what, whatlen)) {
			free(out->s);
			out->s = NULL;
			return -EINVAL;
		}
		return 0;
	case CONFIG_UINT:
		if (!config_parse_uint(v, len, k->min, k->max, &out->u)) {
			err_set(what, whatlen, "'%s' is not a number from %u to %u", quoted,
			    k->min, k->max);
			return -EINVAL;
		}
		return 0;
	case CONFIG_BOOL:
		if (!config_parse_bool(v, len, &out->b)) {
			err_set(what, whatlen,
			    "'%s' is not a boolean (yes/no, true/false, on/off, 1/0)", quoted);
			return -EINVAL;
		}
		return 0;
	}
	err_set(what, whatlen, "unknown key type %d", (int)k->type);
	return -EINVAL;
}

/* Stores a parsed value in k, taking ownership of a string. */
static void
config_value_set(struct config_key *k, union config_value *v, const char *where)
{
	switch (k->type) {
	case CONFIG_STRING: {
		char *old = k->set ? *(char **)k->dst : NULL;
		bool arg = strcmp(where, CONFIG_WHERE_ARG) == 0;
		/* a repeated key joins the values of one origin; the command line replaces */
		if (k->repeat && old != NULL && v->s != NULL &&
		    (strcmp(k->where, CONFIG_WHERE_ARG) == 0) == arg) {
			size_t n = strlen(old) + strlen(v->s) + 2;
			char *j = malloc(n);
			if (j != NULL) {
				snprintf(j, n, "%s\n%s", old, v->s);
				free(v->s);
				v->s = j;
			}
		}
		free(old);
		*(char **)k->dst = v->s;
		v->s = NULL;
		break;
	}
	case CONFIG_UINT:
		*(unsigned *)k->dst = v->u;
		break;
	case CONFIG_BOOL:
		*(bool *)k->dst = v->b;
		break;
	}
	k->set = true;
	snprintf(k->where, sizeof(k->where), "%s", where);
}

/* Mirrors inih's test for a "[section]" line and reports a section other than the
 * schema's at its own line (inih tells the handler nothing about empty sections). */
static void
config_section_line(struct config_parse *cp, const char *line)
{
	const char *p = line, *name;
	size_t len;
	bool blank = false;

	if (cp->lineno == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '[' || (cp->after_key && p > line))
		return;
	name = ++p;
	/* inih stops at ']' or at an inline ';' comment, which makes the line an error. */
	for (; *p != '\0' && *p != ']' && !(blank && *p == ';'); p++)
		blank = isspace((unsigned char)*p);
	if (*p != ']')
		return;
	len = (size_t)(p - name);
	cp->after_key = false;
	cp->last_key = NULL;
	if (strlen(cp->s->section) != len || strncmp(cp->s->section, name, len) != 0)
		config_parse_error(cp, -EINVAL, "unknown section [%.*s] (expected [%s])",
		    (int)len, name, cp->s->section);
}

/* ini_reader: hands inih exactly one line of the buffer per call, without its newline. */
static char *
config_reader(char *str, int num, void *stream)
{
	struct config_parse *cp = stream;
	const char *line, *nl;
	size_t n, left;

	if (cp->off >= cp->len || num < 1)
		return NULL;
	line = cp->buf + cp->off;
	left = cp->len - cp->off;
	nl = memchr(line, '\n', left);
	n = nl != NULL ? (size_t)(nl - line) : left;
	cp->off += nl != NULL ? n + 1 : n;
	cp->lineno++;
	if (n > 0 && line[n - 1] == '\r')
		n--;

	str[0] = '\0';
	cp->indented = false;
	if (memchr(line, '\0', n) != NULL) {
		config_parse_error(cp, -EINVAL, "line contains a NUL byte");
		return str;
	}
	if (n >= (size_t)num) {
		config_parse_error(cp, -EINVAL, "line longer than %d characters", num - 1);
		return str;
	}
	memcpy(str, line, n);
	str[n] = '\0';
	cp->indented = n > 0 && isspace((unsigned char)line[0]);
	config_section_line(cp, str);
	return str;
}

/* Length of an inih value once an inline '#' comment is cut off. */
static size_t
config_value_len(const char *v)
{
	size_t i;

	for (i = 0; v[i] != '\0'; i++)
		if (v[i] == '#' && (i == 0 || v[i - 1] == ' ' || v[i - 1] == '\t'))
			break;
	while (i > 0 && isspace((unsigned char)v[i - 1]))
		i--;
	return i;
}

/* ini_handler: one name = value line (or an indented continuation line). */
static int
config_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse *cp = user;
	const struct config_schema *s = cp->s;
	struct config_key *k;
	union config_value v = { .s = NULL };
	char what[192], where[sizeof(s->keys[0].where)];
	bool continued = cp->indented && cp->after_key;
	size_t idx;
	int rc;

	cp->after_key = true;
	if (cp->err_line != 0)
		return 0;
	if (strcmp(section, s->section) != 0) {
		if (section[0] == '\0')
			config_parse_error(cp, -EINVAL, "key '%s': outside of section [%s]",
			    name, s->section);
		else
			config_parse_error(cp, -EINVAL, "unknown section [%s] (expected [%s])",
			    section, s->section);
		return 0;
	}
	if ((k = config_find(s, name, strlen(name))) == NULL) {
		config_parse_error(cp, -EINVAL, "key '%s': unknown in section [%s]", name,
		    s->section);
		return 0;
	}
	if (continued && k == cp->last_key) {
		config_parse_error(cp, -EINVAL, "key '%s': indented line would continue its "
		    "value; multi-line values are not supported", k->name);
		return 0;
	}
	cp->last_key = k;
	idx = (size_t)(k - s->keys);
	if (cp->first_line[idx] != 0 && !k->repeat) {
		config_parse_error(cp, -EINVAL, "key '%s': given twice (first on line %d)",
		    k->name, cp->first_line[idx]);
		return 0;
	}
	cp->first_line[idx] = cp->lineno;

	if ((rc = config_value_parse(k, value, config_value_len(value), &v, what,
	    sizeof(what))) != 0) {
		config_parse_error(cp, rc, "key '%s': %s", k->name, what);
		return 0;
	}
	/* A value from the command line wins, whichever was applied first. */
	if (k->set && strcmp(k->where, CONFIG_WHERE_ARG) == 0) {
		free(v.s);
		return 1;
	}
	snprintf(where, sizeof(where), "%s:%d", cp->path, cp->lineno);
	config_value_set(k, &v, where);
	return 1;
}

/* Reads the whole file, at most CONFIG_FILE_MAX bytes, into *out (freed by the caller). */
static int
config_read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t n;
	int fd = -1, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		rc = -errno;
		err_set(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		goto out;
	}
	if ((buf = malloc(CONFIG_FILE_MAX + 1)) == NULL) {
		rc = -ENOMEM;
		err_set(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (;;) {
		n = read(fd, buf + len, CONFIG_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			rc = -errno;
			err_set(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX) {
			rc = -EINVAL;
			err_set(err, errlen, "%s: larger than %d bytes", path,
			    CONFIG_FILE_MAX);
			goto out;
		}
	}
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	if (fd != -1)
		close(fd);
	return rc;
}

/* Says what is wrong with the line inih reported. */
static void
config_syntax_error(const struct config_parse *cp, int line, char *err, size_t errlen)
{
	const char *p = cp->buf, *end = cp->buf + cp->len;
	int i;

	for (i = 1; i < line && p < end; i++) {
		if ((p = memchr(p, '\n', (size_t)(end - p))) == NULL)
			p = end;
		else
			p++;
	}
	if (line == 1 && end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end && *p != '\n' && isspace((unsigned char)*p))
		p++;
	if (p < end && *p == '[')
		err_set(err, errlen, "%s:%d: section header without a closing ']'",
		    cp->path, line);
	else
		err_set(err, errlen, "%s:%d: syntax error: expected 'name = value', "
		    "'[section]' or a comment", cp->path, line);
}

int
config_load_file(const struct config_schema *s, const char *path, char *err, size_t errlen)
{
	struct config_parse cp;
	char *buf = NULL;
	size_t len = 0;
	int r, rc;

	memset(&cp, 0, sizeof(cp));
	if ((rc = config_read_file(path, &buf, &len, err, errlen)) != 0)
		goto out;
	cp.s = s;
	cp.path = path;
	cp.buf = buf;
	cp.len = len;
	cp.err = err;
	cp.errlen = errlen;
	if ((cp.first_line = calloc(s->n_keys + 1, sizeof(*cp.first_line))) == NULL) {
		rc = -ENOMEM;
		err_set(err, errlen, "%s: out of memory", path);
		goto out;
	}

	r = ini_parse_stream(config_reader, &cp, config_handler, &cp);
	if (r == -2) {
		rc = -ENOMEM;
		err_set(err, errlen, "%s: out of memory", path);
	} else if (cp.err_line != 0 && (r <= 0 || cp.err_line <= r)) {
		rc = cp.rc;
	} else if (r != 0) {
		rc = -EINVAL;
		config_syntax_error(&cp, r, err, errlen);
	} else {
		rc = 0;
	}
out:
	free(cp.first_line);
	free(buf);
	return rc;
}

int
config_apply_arg(const struct config_schema *s, const char *arg, char *err, size_t errlen)
{
	union config_value v = { .s = NULL };
	struct config_key *k;
	const char *name, *eq;
	char what[192], quoted[CONFIG_QUOTE_MAX + 4];
	int rc;

	config_quote(arg, strlen(arg), quoted);
	if (strncmp(arg, "--", 2) != 0 || (eq = strchr(arg + 2, '=')) == NULL ||
	    eq == arg + 2) {
		err_set(err, errlen, "'%s': expected --name=value", quoted);
		return -EINVAL;
	}
	name = arg + 2;
	if ((k = config_find(s, name, (size_t)(eq - name))) == NULL) {
		config_quote(name, (size_t)(eq - name), quoted);
		err_set(err, errlen, "unknown option '--%s'", quoted);
		return -ENOENT;
	}
	if ((rc = config_value_parse(k, eq + 1, strlen(eq + 1), &v, what,
	    sizeof(what))) != 0) {
		err_set(err, errlen, "option '--%s': %s", k->name, what);
		return rc;
	}
	config_value_set(k, &v, CONFIG_WHERE_ARG);
	return 0;
}

int
config_check_required(const struct config_schema *s, const char *path, char *err,
    size_t errlen)
{
	const struct config_key *k;
	size_t i;

	for (i = 0; i < s->n_keys; i++) {
		k = &s->keys[i];
		if (!k->required)
			continue;
		if (k->set && (k->type != CONFIG_STRING || *(char **)k->dst != NULL))
			continue;
		if (k->set)
			err_set(err, errlen, "%s: key '%s': required, must not be empty",
			    k->where, k->name);
		else if (path != NULL)
			err_set(err, errlen, "%s: key '%s' in [%s] is required "
			    "(or give --%s=VALUE)", path, k->name, s->section, k->name);
		else
			err_set(err, errlen, "key '%s' is required (give --%s=VALUE)",
			    k->name, k->name);
		return -EINVAL;
	}
	return 0;
}

static const char *
config_metavar(enum config_type type)
{
	switch (type) {
	case CONFIG_UINT:
		return "N";
	case CONFIG_BOOL:
		return "yes|no";
	case CONFIG_STRING:
		break;
	}
	return "VALUE";
}

void
config_print_help(const struct config_schema *s, FILE *out)
{
	const struct config_key *k;
	size_t i, w, width = 0;

	for (i = 0; i < s->n_keys; i++) {
		k = &s->keys[i];
		w = strlen(k->name) + 1 + strlen(config_metavar(k->type));
		if (w > width)
			width = w;
	}
	for (i = 0; i < s->n_keys; i++) {
		k = &s->keys[i];
		w = strlen(k->name) + 1 + strlen(config_metavar(k->type));
		fprintf(out, "  --%s=%s%*s  %s", k->name, config_metavar(k->type),
		    (int)(width - w), "", k->help != NULL ? k->help : "");
		if (k->type == CONFIG_UINT)
			fprintf(out, " (%u to %u)", k->min, k->max);
		if (k->required)
			fprintf(out, " (required)");
		fputc('\n', out);
	}
}

void
config_free(const struct config_schema *s)
{
	struct config_key *k;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n_keys; i++) {
		k = &s->keys[i];
		if (k->type == CONFIG_STRING && k->set) {
			free(*(char **)k->dst);
			*(char **)k->dst = NULL;
		}
		k->set = false;
		k->where[0] = '\0';
	}
}

int
config_split_args(int *argc, char **argv, char **keyargs)
{
	int n = 0, j = 1;

	for (int i = 1; i < *argc; i++) {
		if (strncmp(argv[i], "--", 2) == 0 && strchr(argv[i], '=') != NULL &&
		    strncmp(argv[i], "--config=", 9) != 0)
			keyargs[n++] = argv[i];
		else
			argv[j++] = argv[i];
	}
	*argc = j;
	return n;
}

int
config_load_all(const struct config_schema *s, const char *path, bool path_given,
    int n_args, char **args, char *err, size_t errlen)
{
	const char *looked_for = NULL;
	char why[256];

	/* The default file is optional: every key may come from the command line. */
	if (path != NULL && (path_given || access(path, F_OK) == 0)) {
		if (config_load_file(s, path, err, errlen) < 0)
			return -1;
	} else {
		looked_for = path;
		path = NULL;
	}
	for (int i = 0; i < n_args; i++)
		if (config_apply_arg(s, args[i], err, errlen) < 0)
			return -1;
	if (config_check_required(s, path, why, sizeof(why)) == 0)
		return 0;
	/* a missing key is most often a missing file: say which one was looked for */
	if (looked_for != NULL)
		snprintf(err, errlen, "no configuration: looked for %s (or give --config FILE); %s",
		    looked_for, why);
	else
		snprintf(err, errlen, "%s", why);
	return -1;
}

int
config_default(const struct config_schema *s, char *const *field, const char *arg, char *err,
    size_t errlen)
{
	/* Through the parser, so config_free owns every string. */
	if (*field != NULL)
		return 0;
	return config_apply_arg(s, arg, err, errlen) < 0 ? -1 : 0;
}

const char *
config_where(const struct config_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n_keys; i++)
		if (strcmp(s->keys[i].name, name) == 0)
			return s->keys[i].where[0] != '\0' ? s->keys[i].where : "configuration";
	return "configuration";
}

void
config_schema_bind(struct config_schema *s, const char *section, struct config_key *keys,
    const struct config_field *fields, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		keys[i] = fields[i].key;
		keys[i].dst = (char *)base + fields[i].offset;
	}
	s->section = section;
	s->keys = keys;
	s->n_keys = n;
}
