/* wiresyncctl's join requests (pending, approve, deny), the parts without I/O: their
 * arguments, a request's age and JSON, the wiresync-ca command line that signs one, and the
 * CA fingerprint a joining host pins. */
#ifndef WS_CTL_ENROLL_ARGS_H
#define WS_CTL_ENROLL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/admin.pb-c.h"

#define ENROLL_MAX_IPS 8          /* tunnel addresses of one host */
#define ENROLL_MAX_GROUPS 16      /* --group of one approval */
#define ENROLL_REASON_MAX 200     /* bytes of a deny --reason */
#define ENROLL_IP_LEN 64          /* an address as text, without a prefix length */
/* ca_command -d DIR agent NAME --csr F --key K, --ip A per address, --group G per group,
 * --not-after T --force for a renewal */
#define ENROLL_CA_ARGV_MAX (9 + 2 * ENROLL_MAX_IPS + 2 * ENROLL_MAX_GROUPS + 3 + 1)
#define ENROLL_TIME_LEN 15        /* YYYYMMDDHHMMSSZ */

#define ENROLL_CODE_LEN 9         /* "ABCD-EFGH" */

/* approve ID|CODE [--ip ADDR]... [--group G]... or approve --renewals: pointers into
 * argv. */
struct enroll_approve_args {
	bool renewals;            /* --renewals: every waiting renewal that is unchanged */
	uint64_t id;              /* 0 when the request was named by its code */
	char code[ENROLL_CODE_LEN + 1];   /* "" when by id; upper case */
	const char *ips[ENROLL_MAX_IPS];
	size_t n_ips;
	const char *groups[ENROLL_MAX_GROUPS];
	size_t n_groups;
};

/* deny ID|CODE [--reason TEXT] */
struct enroll_deny_args {
	uint64_t id;
	char code[ENROLL_CODE_LEN + 1];
	const char *reason;       /* "" when not given; points into argv */
};

/* What wiresync-ca needs to sign one request; every string is borrowed. */
struct enroll_ca_job {
	const char *command;      /* ca_command, "wiresync-ca" */
	const char *dir;          /* ca_dir */
	const char *name;         /* the request's CN */
	const char *csr_path;     /* the CSR, DER */
	const char *key_b64;      /* the WireGuard key */
	char ips[ENROLL_MAX_IPS][ENROLL_IP_LEN];  /* reserved addresses, no prefix length */
	size_t n_ips;
	const char *const *groups;
	size_t n_groups;
	const char *not_after;    /* NULL, or a renewal's notAfter (YYYYMMDDHHMMSSZ) */
	bool force;               /* a renewal replaces NAME.crt */
};

/* What a renewal is signed with: its current certificate's groups, and a notAfter that
 * gives the new one the current one's lifetime from now. */
struct enroll_renewal {
	char groups[ENROLL_MAX_GROUPS][33];
	const char *group_ptrs[ENROLL_MAX_GROUPS];
	size_t n_groups;
	char not_after[ENROLL_TIME_LEN + 1];
	char serial[80];          /* of the current certificate, for what approve prints */
};

/* A request id: decimal, 1 to 2^64-1, nothing else. */
bool enroll_id_parse(const char *s, uint64_t *id);

/* A request named by the id wiresyncctl pending shows or the code the host printed
 * ("ABCD-EFGH", base32, either case: typing what the host shows is the check that it is
 * the host in front of you): *id (code "") or code in upper case (*id 0). */
bool enroll_ref_parse(const char *s, uint64_t *id, char code[ENROLL_CODE_LEN + 1]);

/* argv starts at "approve". 0, or -1 with err saying which argument is wrong (an address
 * with a prefix length or given twice, a group wiresync-ca would refuse, too many). */
int enroll_approve_args_parse(int argc, char **argv, struct enroll_approve_args *a, char *err,
    size_t errlen);

/* A renewal's signing from j->current_certificate (DER) at now. 0, or -1 with err when
 * j is no renewal or its certificate does not read. */
int enroll_renewal_from(const Wiresync__V1__PendingJoin *j, int64_t now,
    struct enroll_renewal *r, char *err, size_t errlen);

/* argv starts at "deny". 0, or -1 with err. */
int enroll_deny_args_parse(int argc, char **argv, struct enroll_deny_args *a, char *err,
    size_t errlen);

/* A group name as the certificate profile allows it: [a-z0-9-]{1,32}. */
bool enroll_group_valid(const char *g);

/* A host name wiresync-ca signs: 1-64 of [A-Za-z0-9._-], not "ca". */
bool enroll_name_valid(const char *name);

/* "10.9.0.7" or "10.9.0.7/32" into out without the prefix, checked as an IPv4 or IPv6
 * address; false when it is none. */
bool enroll_ip_strip(const char *in, char out[ENROLL_IP_LEN]);

/* Whether the address lists a and b (text, prefixes allowed) hold the same addresses, in
 * any order. */
bool enroll_ips_same(const char *const *a, size_t na, const char *const *b, size_t nb);

/* "5s", "3m", "2h", "1d"; a time in the future (clock skew) is "0s". */
void enroll_age_format(int64_t seconds, char *out, size_t len);

/* A request as a JSON object (caller owns it): id, name, public_key (base64), code, source,
 * age ("3m"), age_s, created, state, network, reserved_ips; now is the current time. */
json_t *enroll_join_json(const Wiresync__V1__PendingJoin *j, int64_t now);

/* One table row of a request: ID NAME KEY CODE SOURCE AGE STATE; a waiting renewal's
 * STATE is "renewal", or "renewal (changed)" when its CSR does not keep the current
 * certificate's name and key; a decided one's "approved (renewal)", "denied (renewal)". */
#define ENROLL_COLS 7
void enroll_join_row(const Wiresync__V1__PendingJoin *j, int64_t now,
    char cells[ENROLL_COLS][128]);

/* The reserved addresses of j into job (prefixes dropped). 0, or -1 when one is no address
 * or there are none or too many. */
int enroll_job_ips_set(struct enroll_ca_job *job, const Wiresync__V1__PendingJoin *j);

/* The argv (NULL-terminated, pointers into job) that signs job:
 * COMMAND -d DIR agent NAME --csr FILE --key KEY --ip A... --group G... [--not-after T]
 * [--force]
 * Returns the number of arguments, or -1 when max is too small. */
int enroll_ca_argv_build(const struct enroll_ca_job *job, const char **argv, size_t max);

/* Lowercase hex SHA-256 of a DER certificate: what `wiresync-agent join --ca-sha256` pins. */
void enroll_sha256_hex(const uint8_t *der, size_t len, char out[65]);

#endif
