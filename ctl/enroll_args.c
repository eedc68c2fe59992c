/* Join requests at the operator's, without I/O: arguments, ages, JSON and table rows, the
 * wiresync-ca command line, the CA fingerprint. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/cert.h"
#include "ctl/enroll_args.h"

bool
enroll_id_parse(const char *s, uint64_t *id)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9' || strlen(s) > 20)
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0)
		return false;
	*id = (uint64_t)v;
	return true;
}

bool
enroll_ref_parse(const char *s, uint64_t *id, char code[ENROLL_CODE_LEN + 1])
{
	code[0] = '\0';
	*id = 0;
	if (enroll_id_parse(s, id))
		return true;
	if (strlen(s) != ENROLL_CODE_LEN || s[4] != '-')
		return false;
	for (int i = 0; i < ENROLL_CODE_LEN; i++) {
		char ch = (char)toupper((unsigned char)s[i]);
		if (i != 4 && !((ch >= 'A' && ch <= 'Z') || (ch >= '2' && ch <= '7')))
			return false;
		code[i] = ch;
	}
	code[ENROLL_CODE_LEN] = '\0';
	return true;
}

bool
enroll_group_valid(const char *g)
{
	size_t n = strlen(g);

	if (n < 1 || n > 32)
		return false;
	return strspn(g, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

bool
enroll_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > 64 || strcmp(name, "ca") == 0)
		return false;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
	    == n;
}

bool
enroll_ip_strip(const char *in, char out[ENROLL_IP_LEN])
{
	size_t n = strcspn(in, "/");
	uint8_t buf[16];

	if (n == 0 || n >= ENROLL_IP_LEN)
		return false;
	memcpy(out, in, n);
	out[n] = '\0';
	return inet_pton(strchr(out, ':') != NULL ? AF_INET6 : AF_INET, out, buf) == 1;
}

/* The address as 17 bytes (family, then 16 bytes), so "fd00::5" and "fd00:0::5" compare
 * equal. false when it is none. */
static bool
ip_bin(const char *text, uint8_t out[17])
{
	char s[ENROLL_IP_LEN];

	memset(out, 0, 17);
	if (!enroll_ip_strip(text, s))
		return false;
	out[0] = strchr(s, ':') != NULL ? 6 : 4;
	return inet_pton(out[0] == 6 ? AF_INET6 : AF_INET, s, out + 1) == 1;
}

bool
enroll_ips_same(const char *const *a, size_t na, const char *const *b, size_t nb)
{
	uint8_t x[17], y[17];

	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		bool found = false;
		if (!ip_bin(a[i], x))
			return false;
		for (size_t k = 0; k < nb && !found; k++)
			found = ip_bin(b[k], y) && memcmp(x, y, sizeof(x)) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* "--name VALUE" or "--name=VALUE" at argv[*i]: the value (advancing *i), NULL otherwise;
 * *missing when the option is there without a value. */
static const char *
opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
	size_t n = strlen(name);

	*missing = false;
	if (strncmp(argv[*i], name, n) != 0)
		return NULL;
	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (argv[*i][n] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

int
enroll_approve_args_parse(int argc, char **argv, struct enroll_approve_args *a, char *err,
    size_t errlen)
{
	const char *id = NULL, *v;
	bool missing;

	memset(a, 0, sizeof(*a));
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--renewals") == 0) {
			a->renewals = true;
			continue;
		}
		if ((v = opt_value(argc, argv, &i, "--ip", &missing)) != NULL) {
			uint8_t x[17], y[17];
			if (strchr(v, '/') != NULL || !ip_bin(v, x)) {
				snprintf(err, errlen, "approve: --ip \"%s\": want an IPv4 or IPv6 "
				    "address without a prefix length", v);
				return -1;
			}
			for (size_t k = 0; k < a->n_ips; k++) {
				if (ip_bin(a->ips[k], y) && memcmp(x, y, sizeof(x)) == 0) {
					snprintf(err, errlen, "approve: --ip \"%s\" given twice", v);
					return -1;
				}
			}
			if (a->n_ips == ENROLL_MAX_IPS) {
				snprintf(err, errlen, "approve: at most %d --ip", ENROLL_MAX_IPS);
				return -1;
			}
			a->ips[a->n_ips++] = v;
		} else if (!missing && (v = opt_value(argc, argv, &i, "--group", &missing)) != NULL) {
			if (!enroll_group_valid(v)) {
				snprintf(err, errlen, "approve: --group \"%s\": want 1 to 32 of a-z, "
				    "0-9 and '-'", v);
				return -1;
			}
			for (size_t k = 0; k < a->n_groups; k++) {
				if (strcmp(a->groups[k], v) == 0) {
					snprintf(err, errlen, "approve: --group \"%s\" given twice", v);
					return -1;
				}
			}
			if (a->n_groups == ENROLL_MAX_GROUPS) {
				snprintf(err, errlen, "approve: at most %d --group", ENROLL_MAX_GROUPS);
				return -1;
			}
			a->groups[a->n_groups++] = v;
		} else if (missing) {
			snprintf(err, errlen, "approve: %s needs a value", argv[i]);
			return -1;
		} else if (argv[i][0] == '-') {
			snprintf(err, errlen, "approve: unknown option \"%s\" (--ip ADDR, --group G, "
			    "--renewals)", argv[i]);
			return -1;
		} else if (id != NULL) {
			snprintf(err, errlen, "approve: unexpected argument \"%s\" (one ID)", argv[i]);
			return -1;
		} else {
			id = argv[i];
		}
	}
	if (a->renewals) {
		if (id != NULL || a->n_ips > 0 || a->n_groups > 0) {
			snprintf(err, errlen, "approve: --renewals takes no ID, --ip or --group: each "
			    "renewal keeps its current certificate's addresses and groups");
			return -1;
		}
		return 0;
	}
	if (id == NULL) {
		snprintf(err, errlen, "approve: give the ID of a request (wiresyncctl pending) or "
		    "the code the host printed, or --renewals");
		return -1;
	}
	if (!enroll_ref_parse(id, &a->id, a->code)) {
		snprintf(err, errlen, "approve: \"%s\": want the ID wiresyncctl pending shows or "
		    "the code the host printed (ABCD-EFGH)", id);
		return -1;
	}
	return 0;
}

int
enroll_deny_args_parse(int argc, char **argv, struct enroll_deny_args *a, char *err,
    size_t errlen)
{
	const char *id = NULL, *v;
	bool missing;

	memset(a, 0, sizeof(*a));
	a->reason = "";
	for (int i = 1; i < argc; i++) {
		if ((v = opt_value(argc, argv, &i, "--reason", &missing)) != NULL) {
			if (strlen(v) > ENROLL_REASON_MAX) {
				snprintf(err, errlen, "deny: --reason: at most %d bytes",
				    ENROLL_REASON_MAX);
				return -1;
			}
			a->reason = v;
		} else if (missing) {
			snprintf(err, errlen, "deny: %s needs a value", argv[i]);
			return -1;
		} else if (argv[i][0] == '-') {
			snprintf(err, errlen, "deny: unknown option \"%s\" (--reason TEXT)", argv[i]);
			return -1;
		} else if (id != NULL) {
			snprintf(err, errlen, "deny: unexpected argument \"%s\" (one ID)", argv[i]);
			return -1;
		} else {
			id = argv[i];
		}
	}
	if (id == NULL) {
		snprintf(err, errlen, "deny: give the ID of a request (wiresyncctl pending) or the "
		    "code the host printed");
		return -1;
	}
	if (!enroll_ref_parse(id, &a->id, a->code)) {
		snprintf(err, errlen, "deny: \"%s\": want the ID wiresyncctl pending shows or the "
		    "code the host printed (ABCD-EFGH)", id);
		return -1;
	}
	return 0;
}

void
enroll_age_format(int64_t seconds, char *out, size_t len)
{
	long long s = seconds < 0 ? 0 : (long long)seconds;

	if (s < 60)
		snprintf(out, len, "%llds", s);
	else if (s < 3600)
		snprintf(out, len, "%lldm", s / 60);
	else if (s < 86400)
		snprintf(out, len, "%lldh", s / 3600);
	else
		snprintf(out, len, "%lldd", s / 86400);
}

static void
key_text(const ProtobufCBinaryData *k, char out[45])
{
	if (k->len == WG_KEY_LEN)
		wg_key_to_base64(k->data, out);
	else
		snprintf(out, 45, "(%zu bytes)", k->len);
}

json_t *
enroll_join_json(const Wiresync__V1__PendingJoin *j, int64_t now)
{
	json_t *o = json_object(), *ips = json_array();
	char key[45], age[32];

	key_text(&j->public_key, key);
	enroll_age_format(now - j->created, age, sizeof(age));
	for (size_t i = 0; i < j->n_reserved_ips; i++)
		json_array_append_new(ips, json_string(j->reserved_ips[i]));
	json_object_set_new(o, "id", json_integer((json_int_t)j->id));
	json_object_set_new(o, "name", json_string(j->name));
	json_object_set_new(o, "public_key", json_string(key));
	json_object_set_new(o, "code", json_string(j->code));
	json_object_set_new(o, "source", json_string(j->source));
	json_object_set_new(o, "age", json_string(age));
	json_object_set_new(o, "age_s", json_integer(now > j->created ? now - j->created : 0));
	json_object_set_new(o, "created", json_integer(j->created));
	json_object_set_new(o, "state", json_string(j->state));
	json_object_set_new(o, "network", json_string(j->network));
	json_object_set_new(o, "reserved_ips", ips);
	json_object_set_new(o, "renewal", json_boolean(j->renewal));
	if (j->renewal)
		json_object_set_new(o, "unchanged", json_boolean(j->unchanged));
	return o;
}

void
enroll_join_row(const Wiresync__V1__PendingJoin *j, int64_t now, char cells[ENROLL_COLS][128])
{
	char key[45];

	key_text(&j->public_key, key);
	snprintf(cells[0], 128, "%llu", (unsigned long long)j->id);
	snprintf(cells[1], 128, "%s", j->name);
	snprintf(cells[2], 128, "%s", key);
	snprintf(cells[3], 128, "%s", j->code[0] != '\0' ? j->code : "-");
	snprintf(cells[4], 128, "%s", j->source[0] != '\0' ? j->source : "-");
	enroll_age_format(now - j->created, cells[5], 128);
	if (!j->renewal)
		snprintf(cells[6], 128, "%s", j->state[0] != '\0' ? j->state : "-");
	else if (strcmp(j->state, "waiting") == 0)
		snprintf(cells[6], 128, "renewal%s", j->unchanged ? "" : " (changed)");
	else
		snprintf(cells[6], 128, "%s (renewal)", j->state);
}

int
enroll_job_ips_set(struct enroll_ca_job *job, const Wiresync__V1__PendingJoin *j)
{
	job->n_ips = 0;
	if (j->n_reserved_ips == 0 || j->n_reserved_ips > ENROLL_MAX_IPS)
		return -1;
	for (size_t i = 0; i < j->n_reserved_ips; i++)
		if (!enroll_ip_strip(j->reserved_ips[i], job->ips[i]))
			return -1;
	job->n_ips = j->n_reserved_ips;
	return 0;
}

int
enroll_ca_argv_build(const struct enroll_ca_job *job, const char **argv, size_t max)
{
	size_t n = 0;

	if (max < 10 + 2 * job->n_ips + 2 * job->n_groups + (job->not_after != NULL ? 2 : 0) +
	    (job->force ? 1 : 0))
		return -1;
	argv[n++] = job->command;
	argv[n++] = "-d";
	argv[n++] = job->dir;
	argv[n++] = "agent";
	argv[n++] = job->name;
	argv[n++] = "--csr";
	argv[n++] = job->csr_path;
	argv[n++] = "--key";
	argv[n++] = job->key_b64;
	for (size_t i = 0; i < job->n_ips; i++) {
		argv[n++] = "--ip";
		argv[n++] = job->ips[i];
	}
	for (size_t i = 0; i < job->n_groups; i++) {
		argv[n++] = "--group";
		argv[n++] = job->groups[i];
	}
	if (job->not_after != NULL) {
		argv[n++] = "--not-after";
		argv[n++] = job->not_after;
	}
	if (job->force)
		argv[n++] = "--force";
	argv[n] = NULL;
	return (int)n;
}

void
enroll_sha256_hex(const uint8_t *der, size_t len, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(der, len, md);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

int
enroll_renewal_from(const Wiresync__V1__PendingJoin *j, int64_t now,
    struct enroll_renewal *r, char *err, size_t errlen)
{
	const unsigned char *p = j->current_certificate.data;
	X509 *x = NULL;
	struct cert_identity id;
	int64_t from, until;
	time_t t;
	struct tm tm;
	char why[200];
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (!j->renewal || j->current_certificate.len == 0 ||
	    (x = d2i_X509(NULL, &p, (long)j->current_certificate.len)) == NULL ||
	    !cert_identity_from_x509(x, &id, why, sizeof(why))) {
		snprintf(err, errlen, "request %llu: %s", (unsigned long long)j->id, !j->renewal ?
		    "not a renewal" : "its current certificate does not read");
		goto out;
	}
	if (id.n_groups > ENROLL_MAX_GROUPS) {
		snprintf(err, errlen, "request %llu: %zu groups, at most %d",
		    (unsigned long long)j->id, id.n_groups, ENROLL_MAX_GROUPS);
		goto out;
	}
	for (size_t i = 0; i < id.n_groups; i++) {
		snprintf(r->groups[i], sizeof(r->groups[i]), "%s", id.groups[i]);
		r->group_ptrs[i] = r->groups[i];
	}
	r->n_groups = id.n_groups;
	snprintf(r->serial, sizeof(r->serial), "%s", id.serial);
	/* the lifetime the operator gave the host, again from now */
	from = cert_asn1_time_s(X509_get0_notBefore(x));
	until = cert_asn1_time_s(X509_get0_notAfter(x));
	t = (time_t)(now + (until > from ? until - from : 86400));
	gmtime_r(&t, &tm);
	strftime(r->not_after, sizeof(r->not_after), "%Y%m%d%H%M%SZ", &tm);
	rc = 0;
out:
	X509_free(x);
	return rc;
}
