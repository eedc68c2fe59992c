/* Join tokens (issue 13): `wiresyncctl token create` makes one, a host presents it in
 * JoinRequest.token and, with an online issuer, is approved and signed at once. A token is
 * "wst_" and 52 base32 characters of 256 random bits; the server keeps only its SHA-256
 * (server/store_token.c). What is here decides, and does no I/O beyond RAND_bytes. */
#ifndef WS_TOKEN_H
#define WS_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cert.h"

#define TOKEN_PREFIX "wst_"
#define TOKEN_RAW_LEN 32
#define TOKEN_TEXT_LEN 56                /* the prefix and 52 base32 characters */
#define TOKEN_USES_DEFAULT 1
#define TOKEN_USES_MAX 10000
#define TOKEN_LIFETIME_DEFAULT_S 3600
#define TOKEN_LIFETIME_MAX_S (366 * 86400)

/* raw as a token: the prefix and RFC 4648 base32 in lower case, unpadded. */
void token_format(const uint8_t raw[TOKEN_RAW_LEN], char out[TOKEN_TEXT_LEN + 1]);
/* A new token from 256 bits of RAND_bytes. 0, or -EIO when the generator fails. */
int token_generate(char out[TOKEN_TEXT_LEN + 1]);
/* Whether s looks like a token (the prefix and 52 of [a-z2-7]); any other text is
 * refused before it is hashed or looked up. */
bool token_syntax_ok(const char *s);
/* The SHA-256 of the token's text: what the store keeps and looks up. */
void token_hash(const char *s, uint8_t sha[32]);

/* What CreateToken asks for, with the defaults applied. */
struct token_params {
	uint32_t uses;
	int64_t lifetime_s;
	size_t n_groups;
	char groups[CERT_GROUPS_MAX][CERT_GROUP_MAX + 1];
};
/* uses 0 -> 1, lifetime_s 0 -> 3600; each of groups [a-z0-9-]{1,32}, at most
 * CERT_GROUPS_MAX, none twice. true with out set, or false with err naming the field
 * (uses, expires_s, groups) and the bad value. */
bool token_params_resolve(uint32_t uses, int64_t lifetime_s, const char *const *groups,
    size_t n_groups, struct token_params *out, char *err, size_t errlen);

/* A stored token as a Join sees it. */
struct token_facts {
	const char *network;
	uint32_t uses_left;
	int64_t expires_s;                   /* seconds since the epoch */
};

enum token_verdict {
	TOKEN_VALID,
	TOKEN_UNKNOWN,                       /* no token has this hash */
	TOKEN_EXPIRED,
	TOKEN_USED_UP,
	TOKEN_OTHER_NETWORK,                 /* the request names another network */
};

/* Whether token t (NULL: none has the hash) admits a join into network ("": whichever the
 * token's is) at now. Expiry is checked first: an old token says so even when used up. */
enum token_verdict token_check(const struct token_facts *t, const char *network, int64_t now);
/* The reason for the host (JoinReply status message), into buf; returns buf. */
const char *token_verdict_text(enum token_verdict v, const struct token_facts *t,
    const char *network, int64_t now, char *buf, size_t len);

#endif
