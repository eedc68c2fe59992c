/* INI config files (libinih) plus --key=value overrides, shared by every program. */
#ifndef WS_CONF_H
#define WS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum config_type {
	CONFIG_STRING,  /* dst is char **, strdup'd; freed by config_free */
	CONFIG_UINT,    /* dst is unsigned *, within [min, max] */
	CONFIG_BOOL,    /* dst is bool *: yes/no/true/false/on/off/1/0 */
};

struct config_key {
	const char *name;     /* key in the section and the long option --name=value */
	enum config_type type;
	void *dst;
	unsigned min, max;    /* CONFIG_UINT only */
	bool required;
	bool repeat;          /* CONFIG_STRING: may be given on several lines (or options);
	                       * the values are joined with '\n' in that order */
	/* CONFIG_STRING, optional: checks each value (each line of a repeated key), so an
	 * error names its line; false with what is wrong in what. */
	bool (*check)(const char *v, char *what, size_t whatlen);
	const char *help;     /* one line for --help */
	/* set by the parser */
	bool set;
	char where[96];       /* "FILE:LINE" or "command line", for later messages */
};

struct config_schema {
	const char *section;  /* the one section the file must use, e.g. "server" */
	struct config_key *keys;
	size_t n_keys;
};

/* Parses path into the schema's keys. Unknown sections or keys, bad values, and keys given
 * twice are errors; err then says "FILE:LINE: key 'NAME': what is wrong". Returns 0, or
 * -ENOENT/-EACCES (err names the file) or -EINVAL. */
int config_load_file(const struct config_schema *s, const char *path, char *err, size_t errlen);

/* Applies one "--name=value" argument, which wins over the file. Returns 0, -ENOENT for an
 * unknown name, -EINVAL for a bad value; err says which. */
int config_apply_arg(const struct config_schema *s, const char *arg, char *err, size_t errlen);

/* Returns 0 when every required key is set, else -EINVAL naming the first missing key and
 * the file (path may be NULL). */
int config_check_required(const struct config_schema *s, const char *path, char *err,
    size_t errlen);

/* Prints "  --name=VALUE  help" lines for --help. */
void config_print_help(const struct config_schema *s, FILE *out);

/* Moves every "--name=value" argument of argv (but --config=) into keyargs (room for argc
 * pointers) and compacts argv for getopt. Returns how many were moved; *argc is updated. */
int config_split_args(int *argc, char **argv, char **keyargs);

/* The whole load of a program's configuration: path when path_given, or when it is the
 * default and exists; then the --name=value arguments, which win; then the required check.
 * Returns 0 or -1 with err naming the file, the line and the key. */
int config_load_all(const struct config_schema *s, const char *path, bool path_given,
    int n_args, char **args, char *err, size_t errlen);

/* Sets a string key from "--name=value" unless it is already set. 0 or -1 with err. */
int config_default(const struct config_schema *s, char *const *field, const char *arg,
    char *err, size_t errlen);

/* A key of a config struct, declared in one line: CONFIG_FIELD(struct agentconf, server,
 * .type = CONFIG_STRING, .help = "...") names the key after the field it fills. */
struct config_field {
	struct config_key key;
	size_t offset;
};
#define CONFIG_FIELD(type, field, ...) \
	{ { .name = #field, __VA_ARGS__ }, offsetof(type, field) }

/* Fills keys[0..n-1] from fields, bound to the struct at base, and makes s use them. */
void config_schema_bind(struct config_schema *s, const char *section, struct config_key *keys,
    const struct config_field *fields, size_t n, void *base);

/* Where key name was last set ("FILE:LINE" or "command line"), for later messages about
 * its value; "configuration" when it is not a key of s. */
const char *config_where(const struct config_schema *s, const char *name);

/* Frees the strings the parser stored and resets every key to unset. */
void config_free(const struct config_schema *s);

#endif
