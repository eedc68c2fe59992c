/* pending, approve, deny: the operator's side of a join (issue 13). The server holds the
 * requests and reserves addresses; the certificate is signed here, with the CA in ca_dir,
 * and travels back through the server to the host. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/cert.h"
#include "ctl/ctl.h"
#include "ctl/enroll_args.h"

int
cmd_pending(struct ctl *c, int argc, char **argv)
{
	static const char *head[ENROLL_COLS] = { "ID", "NAME", "KEY", "CODE", "SOURCE", "AGE",
	    "STATE" };
	Wiresync__V1__ListPendingRequest req = WIRESYNC__V1__LIST_PENDING_REQUEST__INIT;
	Wiresync__V1__ListPendingReply *r;
	char (*cells)[ENROLL_COLS][128];
	int64_t now = (int64_t)time(NULL);
	int w[ENROLL_COLS] = { 0 }, st;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else {
			ctl_err("pending: unexpected argument \"%s\" (only --json)", argv[i]);
			return CTL_EXIT_USAGE;
		}
	}
	if ((st = ctl_call_unpack(c, "ListPending", &req.base,
	    &wiresync__v1__list_pending_reply__descriptor, (void **)&r)) != CTL_EXIT_OK)
		return st;
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < r->n_pending; i++)
			json_array_append_new(a, enroll_join_json(r->pending[i], now));
		st = ctl_json_print(a);
	} else if (r->n_pending == 0) {
		printf("no join requests are waiting (a host asks with wiresync-agent join)\n");
	} else if ((cells = calloc(r->n_pending + 1, sizeof(*cells))) == NULL) {
		ctl_err("out of memory");
		st = CTL_EXIT_USAGE;
	} else {
		for (int k = 0; k < ENROLL_COLS; k++)
			snprintf(cells[0][k], sizeof(cells[0][k]), "%s", head[k]);
		for (size_t i = 0; i < r->n_pending; i++)
			enroll_join_row(r->pending[i], now, cells[i + 1]);
		for (size_t i = 0; i <= r->n_pending; i++)
			for (int k = 0; k < ENROLL_COLS; k++)
				if ((int)strlen(cells[i][k]) > w[k])
					w[k] = (int)strlen(cells[i][k]);
		for (size_t i = 0; i <= r->n_pending; i++) {
			for (int k = 0; k + 1 < ENROLL_COLS; k++)
				printf("%-*s  ", w[k], cells[i][k]);
			printf("%s\n", cells[i][ENROLL_COLS - 1]);
		}
		free(cells);
	}
	wiresync__v1__list_pending_reply__free_unpacked(r, NULL);
	return st;
}

/* The waiting request whose code the host printed: CTL_EXIT_OK with *id, or an exit status
 * said (none, or two: ask by id). */
static int
request_by_code(struct ctl *c, const char *code, uint64_t *id)
{
	Wiresync__V1__ListPendingRequest req = WIRESYNC__V1__LIST_PENDING_REQUEST__INIT;
	Wiresync__V1__ListPendingReply *r;
	size_t found = 0;
	int st;

	if ((st = ctl_call_unpack(c, "ListPending", &req.base,
	    &wiresync__v1__list_pending_reply__descriptor, (void **)&r)) != CTL_EXIT_OK)
		return st;
	for (size_t i = 0; i < r->n_pending; i++) {
		const Wiresync__V1__PendingJoin *j = r->pending[i];
		if (strcasecmp(j->code, code) == 0 && strcmp(j->state, "waiting") == 0) {
			*id = j->id;
			found++;
		}
	}
	wiresync__v1__list_pending_reply__free_unpacked(r, NULL);
	if (found == 1)
		return CTL_EXIT_OK;
	if (found == 0)
		ctl_err("no waiting join request has the code %s (wiresyncctl pending lists them)",
		    code);
	else
		ctl_err("%zu waiting join requests have the code %s: give the ID (wiresyncctl "
		    "pending)", found, code);
	return found == 0 ? CTL_EXIT_NOT_FOUND : CTL_EXIT_USAGE;
}

/* ca_dir is set and looks like a wiresync-ca directory, before anything is asked of the
 * server. */
static int
ca_dir_check(const struct ctl *c)
{
	char path[4200];

	if (c->ca_dir == NULL || c->ca_dir[0] == '\0') {
		ctl_err("approve: %s: key 'ca_dir' of [ctl] is not set: set it to the wiresync-ca "
		    "directory (the one with ca.crt and ca.key), or give --ca_dir=DIR before the "
		    "command", c->conf_path);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/ca.key", c->ca_dir);
	if (access(path, R_OK) != 0) {
		ctl_err("approve: %s: key 'ca_dir': %s is not readable: no wiresync-ca directory "
		    "at \"%s\" (wiresync-ca -d DIR init NETWORK makes one)",
		    config_where(c->schema, "ca_dir"), path, c->ca_dir);
		return -1;
	}
	return 0;
}

static void
ips_join(char **v, size_t n, char *out, size_t len)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used + 1 < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s", i > 0 ? "," : "", v[i]);
}

/* Signs request j (after PrepareApproval: its addresses are reserved) and sends the
 * certificate with Approve; prints what it did. A renewal is signed as its current
 * certificate (groups, lifetime), groups ignored. */
static int
sign_and_approve(struct ctl *c, const Wiresync__V1__PendingJoin *j, const char *const *groups,
    size_t n_groups)
{
	Wiresync__V1__ApproveRequest areq = WIRESYNC__V1__APPROVE_REQUEST__INIT;
	Wiresync__V1__ApproveReply *ar = NULL;
	const Wiresync__V1__PendingJoin *done;
	struct enroll_renewal rn;
	struct cert_identity id;
	char ips[512], err[256];
	uint8_t *der = NULL;
	size_t len = 0;
	int st;

	if (j->renewal) {
		if (enroll_renewal_from(j, (int64_t)time(NULL), &rn, err, sizeof(err)) < 0) {
			ctl_err("approve: %s", err);
			return CTL_EXIT_SERVER;
		}
		groups = rn.group_ptrs;
		n_groups = rn.n_groups;
	}
	if ((st = ctl_ca_sign(c, j, groups, n_groups, j->renewal ? rn.not_after : NULL, &der,
	    &len)) != CTL_EXIT_OK)
		return st;
	areq.id = j->id;
	areq.certificate.data = der;
	areq.certificate.len = len;
	if ((st = ctl_call_unpack(c, "Approve", &areq.base, &wiresync__v1__approve_reply__descriptor,
	    (void **)&ar)) != CTL_EXIT_OK) {
		fprintf(stderr, "wiresyncctl: the certificate %s/%s.crt is signed but not "
		    "delivered: the same approve sends it again\n", c->ca_dir, j->name);
		free(der);
		return st;
	}
	done = ar->join != NULL ? ar->join : j;
	ips_join(done->reserved_ips, done->n_reserved_ips, ips, sizeof(ips));
	if (!j->renewal)
		printf("approved %llu %s %s\n", (unsigned long long)j->id, j->name, ips);
	else if (cert_identity_from_der(der, len, &id, err, sizeof(err)))
		printf("renewed %llu %s %s: serial %s (was %s), until %s\n",
		    (unsigned long long)j->id, j->name, ips, id.serial, rn.serial, rn.not_after);
	else
		printf("renewed %llu %s %s\n", (unsigned long long)j->id, j->name, ips);
	free(der);
	wiresync__v1__approve_reply__free_unpacked(ar, NULL);
	return CTL_EXIT_OK;
}

/* approve --renewals: every waiting renewal whose CSR keeps the name and the TLS key of
 * the current certificate; the others are listed and left. */
static int
approve_renewals(struct ctl *c)
{
	Wiresync__V1__ListPendingRequest req = WIRESYNC__V1__LIST_PENDING_REQUEST__INIT;
	Wiresync__V1__ListPendingReply *r;
	size_t done = 0, left = 0;
	int st, worst = CTL_EXIT_OK;

	if ((st = ctl_call_unpack(c, "ListPending", &req.base,
	    &wiresync__v1__list_pending_reply__descriptor, (void **)&r)) != CTL_EXIT_OK)
		return st;
	for (size_t i = 0; i < r->n_pending; i++) {
		const Wiresync__V1__PendingJoin *j = r->pending[i];
		if (!j->renewal || strcmp(j->state, "waiting") != 0)
			continue;
		if (!j->unchanged) {
			printf("left %llu %s: its CSR does not keep the name and key of its current "
			    "certificate (approve %llu or deny %llu)\n", (unsigned long long)j->id,
			    j->name, (unsigned long long)j->id, (unsigned long long)j->id);
			left++;
			continue;
		}
		if ((st = sign_and_approve(c, j, NULL, 0)) != CTL_EXIT_OK)
			worst = st;
		else
			done++;
	}
	if (done == 0 && left == 0 && worst == CTL_EXIT_OK)
		printf("no renewal is waiting\n");
	wiresync__v1__list_pending_reply__free_unpacked(r, NULL);
	return worst;
}

int
cmd_approve(struct ctl *c, int argc, char **argv)
{
	Wiresync__V1__PrepareApprovalRequest preq = WIRESYNC__V1__PREPARE_APPROVAL_REQUEST__INIT;
	Wiresync__V1__PrepareApprovalReply *prep = NULL;
	const Wiresync__V1__PendingJoin *j;
	struct enroll_approve_args a;
	char err[256], ips[512];
	int st;

	if (enroll_approve_args_parse(argc, argv, &a, err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		return CTL_EXIT_USAGE;
	}
	if (ca_dir_check(c) < 0)
		return CTL_EXIT_USAGE;
	if (a.renewals)
		return approve_renewals(c);
	if (a.code[0] != '\0' && (st = request_by_code(c, a.code, &a.id)) != CTL_EXIT_OK)
		return st;
	preq.id = a.id;
	preq.ips = (char **)a.ips;
	preq.n_ips = a.n_ips;
	if ((st = ctl_call_unpack(c, "PrepareApproval", &preq.base,
	    &wiresync__v1__prepare_approval_reply__descriptor, (void **)&prep)) != CTL_EXIT_OK)
		return st;
	if ((j = prep->join) == NULL) {
		ctl_err("PrepareApproval: the reply holds no request");
		st = CTL_EXIT_SERVER;
		goto out;
	}
	ips_join(j->reserved_ips, j->n_reserved_ips, ips, sizeof(ips));
	if (a.n_ips > 0 && !enroll_ips_same(a.ips, a.n_ips, (const char *const *)j->reserved_ips,
	    j->n_reserved_ips)) {
		ctl_err("approve: request %llu: the server reserved %s, not the --ip given; nothing "
		    "signed", (unsigned long long)a.id, ips[0] != '\0' ? ips : "nothing");
		st = CTL_EXIT_SERVER;
		goto out;
	}
	if (j->renewal && a.n_groups > 0) {
		ctl_err("approve: request %llu is a renewal of %s: it keeps its current "
		    "certificate's groups (no --group); nothing signed", (unsigned long long)a.id,
		    j->name);
		st = CTL_EXIT_USAGE;
		goto out;
	}
	st = sign_and_approve(c, j, a.groups, a.n_groups);
out:
	wiresync__v1__prepare_approval_reply__free_unpacked(prep, NULL);
	return st;
}

int
cmd_deny(struct ctl *c, int argc, char **argv)
{
	Wiresync__V1__DenyRequest req = WIRESYNC__V1__DENY_REQUEST__INIT;
	Wiresync__V1__DenyReply *r;
	struct enroll_deny_args a;
	char err[256];
	int st;

	if (enroll_deny_args_parse(argc, argv, &a, err, sizeof(err)) < 0) {
		ctl_err("%s", err);
		return CTL_EXIT_USAGE;
	}
	if (a.code[0] != '\0' && (st = request_by_code(c, a.code, &a.id)) != CTL_EXIT_OK)
		return st;
	req.id = a.id;
	req.reason = (char *)a.reason;
	if ((st = ctl_call_unpack(c, "Deny", &req.base, &wiresync__v1__deny_reply__descriptor,
	    (void **)&r)) != CTL_EXIT_OK)
		return st;
	if (r->join != NULL)
		printf("denied %llu %s\n", (unsigned long long)a.id, r->join->name);
	else
		printf("denied %llu\n", (unsigned long long)a.id);
	wiresync__v1__deny_reply__free_unpacked(r, NULL);
	return CTL_EXIT_OK;
}
