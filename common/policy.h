/* The pairing policy: which hosts of a network peer with which. The CA signs it (wiresync-ca
 * policy), the server filters what each host sees by it, and every agent checks it itself.
 * Parsing and evaluation only; no I/O, no signatures (those are the caller's).
 *
 * The file, one rule a line, `#` starts a comment:
 *     version 7                  # optional, at most once, before the first rule
 *     servers <-> servers
 *     laptops <-> servers
 *     host:phone <-> host:nas
 *     * <-> *                    # everyone
 * A side is a group (`[a-z0-9-]{1,32}`, as in the certificates' urn:wiresync:group: SANs),
 * `host:NAME` (a certificate CN) or `*`. A rule pairs every host of its left side with every
 * host of its right side, both ways. No rule, no pairing. `version N` (1 .. 2^53) is what
 * makes a newer policy win; `wiresync-ca policy` writes it. */
#ifndef WS_POLICY_H
#define WS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_GROUP_MAX 32         /* characters of a group name */
#define POLICY_HOST_MAX 64          /* CERT_NAME_MAX */
#define POLICY_RULES_MAX 4096
#define POLICY_BYTES_MAX (1024 * 1024)
#define POLICY_VERSION_MAX 9007199254740992ULL  /* 2^53: exact in JSON and Python */
#define POLICY_URI_GROUP_PREFIX "urn:wiresync:group:"

enum policy_side_kind {
	POLICY_ANY,
	POLICY_GROUP,
	POLICY_HOST,
};

struct policy_side {
	enum policy_side_kind kind;
	char name[POLICY_HOST_MAX + 1];     /* group or host name; "" for POLICY_ANY */
};

struct policy_rule {
	struct policy_side left, right;
	unsigned line;                      /* 1-based, in the file */
};

struct policy {
	uint64_t version;                   /* 0: the file has no version line */
	size_t n;
	struct policy_rule *rules;          /* malloc'd; policy_free */
};

/* Who a side can name: a certificate's CN and its groups (borrowed). */
struct policy_subject {
	const char *name;
	size_t n_groups;
	const char *const *groups;
};

/* Parses len bytes of text (need not be NUL-terminated). file names the source in errors.
 * Returns 0 and fills out (policy_free it), or -1 with err "FILE:LINE:COL: what is wrong"
 * and out empty: an unknown side, a bad group or host name, no `<->`, something after the
 * right side, a repeated or late `version`, a NUL byte, more than POLICY_RULES_MAX rules or
 * POLICY_BYTES_MAX bytes, or -ENOMEM's message "out of memory". */
int policy_parse(const char *text, size_t len, const char *file, struct policy *out,
    char *err, size_t errlen);

/* Frees the rules; accepts an empty or zeroed policy. */
void policy_free(struct policy *p);

/* The index of the first rule that pairs a and b (in either direction), or -1 when none
 * does. */
int policy_match(const struct policy *p, const struct policy_subject *a,
    const struct policy_subject *b);

/* Whether s (len bytes) is a valid group name: [a-z0-9-]{1,32}. */
bool policy_group_name_ok(const char *s, size_t len);

/* Whether s (len bytes) is a name host: can take: 1..64 of [A-Za-z0-9._-]. */
bool policy_host_name_ok(const char *s, size_t len);

/* "servers", "host:nas", "*" into buf; returns buf. */
char *policy_side_format(const struct policy_side *s, char *buf, size_t len);

/* "laptops <-> servers (line 3)" into buf; returns buf. */
char *policy_rule_format(const struct policy_rule *r, char *buf, size_t len);

#endif
