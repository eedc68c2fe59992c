/* Join tokens (server/token.h): their text, their hash, what CreateToken may ask for and
 * whether a stored token admits a join. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "common/policy.h"
#include "server/token.h"

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

void
token_format(const uint8_t raw[TOKEN_RAW_LEN], char out[TOKEN_TEXT_LEN + 1])
{
	size_t bits = 0, o = sizeof(TOKEN_PREFIX) - 1;
	uint32_t acc = 0;

	memcpy(out, TOKEN_PREFIX, o);
	for (size_t i = 0; i < TOKEN_RAW_LEN; i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = b32[(acc >> bits) & 31];
		}
	}
	if (bits > 0)                        /* 256 bits: one left over, padded with zeros */
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

int
token_generate(char out[TOKEN_TEXT_LEN + 1])
{
	uint8_t raw[TOKEN_RAW_LEN];

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		out[0] = '\0';
		return -EIO;
	}
	token_format(raw, out);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

bool
token_syntax_ok(const char *s)
{
	size_t p = sizeof(TOKEN_PREFIX) - 1;

	if (strncmp(s, TOKEN_PREFIX, p) != 0 || strlen(s) != TOKEN_TEXT_LEN)
		return false;
	for (s += p; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '2' && *s <= '7')))
			return false;
	return true;
}

void
token_hash(const char *s, uint8_t sha[32])
{
	SHA256((const unsigned char *)s, strlen(s), sha);
}

bool
token_params_resolve(uint32_t uses, int64_t lifetime_s, const char *const *groups,
    size_t n_groups, struct token_params *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (uses > TOKEN_USES_MAX) {
		snprintf(err, errlen, "uses: %" PRIu32 " is more than %d", uses, TOKEN_USES_MAX);
		return false;
	}
	if (lifetime_s < 0 || lifetime_s > TOKEN_LIFETIME_MAX_S) {
		snprintf(err, errlen, "expires_s: %" PRId64 " is not 0 (one hour) to %d seconds",
		    lifetime_s, TOKEN_LIFETIME_MAX_S);
		return false;
	}
	if (n_groups > CERT_GROUPS_MAX) {
		snprintf(err, errlen, "groups: %zu groups, at most %d", n_groups, CERT_GROUPS_MAX);
		return false;
	}
	for (size_t i = 0; i < n_groups; i++) {
		if (!policy_group_name_ok(groups[i], strlen(groups[i]))) {
			snprintf(err, errlen, "groups: \"%.40s\" is not a group name (1 to %d of "
			    "a-z 0-9 -)", groups[i], CERT_GROUP_MAX);
			return false;
		}
		for (size_t k = 0; k < i; k++)
			if (strcmp(groups[k], groups[i]) == 0) {
				snprintf(err, errlen, "groups: \"%s\" is given twice", groups[i]);
				return false;
			}
		snprintf(out->groups[i], sizeof(out->groups[i]), "%s", groups[i]);
	}
	out->n_groups = n_groups;
	out->uses = uses != 0 ? uses : TOKEN_USES_DEFAULT;
	out->lifetime_s = lifetime_s != 0 ? lifetime_s : TOKEN_LIFETIME_DEFAULT_S;
	return true;
}

enum token_verdict
token_check(const struct token_facts *t, const char *network, int64_t now)
{
	if (t == NULL)
		return TOKEN_UNKNOWN;
	if (now >= t->expires_s)
		return TOKEN_EXPIRED;
	if (t->uses_left == 0)
		return TOKEN_USED_UP;
	if (network[0] != '\0' && strcmp(network, t->network) != 0)
		return TOKEN_OTHER_NETWORK;
	return TOKEN_VALID;
}

const char *
token_verdict_text(enum token_verdict v, const struct token_facts *t, const char *network,
    int64_t now, char *buf, size_t len)
{
	switch (v) {
	case TOKEN_VALID:
		snprintf(buf, len, "token: valid");
		break;
	case TOKEN_UNKNOWN:
		snprintf(buf, len, "token: not a token of this server (mistyped, or never "
		    "made here): ask the operator for one (wiresyncctl token create)");
		break;
	case TOKEN_EXPIRED:
		snprintf(buf, len, "token: expired %" PRId64 " s ago: ask the operator for a "
		    "new one (wiresyncctl token create)", now - t->expires_s);
		break;
	case TOKEN_USED_UP:
		snprintf(buf, len, "token: used up (every use it had is taken): ask the "
		    "operator for a new one (wiresyncctl token create)");
		break;
	case TOKEN_OTHER_NETWORK:
		snprintf(buf, len, "token: made for another network than %s: join with a token "
		    "of network %s, or without --network", network, network);
		break;
	}
	return buf;
}
