/* audit: the server's audit log of admin actions (issue 16), newest first: when (UTC,
 * ISO 8601), which admin certificate (CN and serial; "server" for the server's own
 * entries, a policy or CRL it loaded), the action and what it acted on. More than the
 * server gives in one call (1000) is read page by page with before_id. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl/ctl.h"

#define AUDIT_PAGE_MAX 1000          /* the server's most per call */
#define AUDIT_LIMIT_MAX 1000000

struct audit_args {
	uint32_t limit;
	bool json;
};

static int
audit_args_parse(int argc, char **argv, struct audit_args *a)
{
	a->limit = 100;
	a->json = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			a->json = true;
		} else if (strcmp(argv[i], "--limit") == 0) {
			const char *v = i + 1 < argc ? argv[++i] : NULL;
			char *end;
			unsigned long n;
			if (v == NULL) {
				ctl_err("audit: --limit needs a value");
				return -1;
			}
			errno = 0;
			n = v[0] >= '0' && v[0] <= '9' ? strtoul(v, &end, 10) : 0;
			if (v[0] < '0' || v[0] > '9' || errno != 0 || *end != '\0' || n == 0 ||
			    n > AUDIT_LIMIT_MAX) {
				ctl_err("audit: --limit: \"%s\" is not a number of entries (1 to %d)",
				    v, AUDIT_LIMIT_MAX);
				return -1;
			}
			a->limit = (uint32_t)n;
		} else {
			ctl_err("audit: unexpected argument \"%s\" (--limit N, --json)", argv[i]);
			return -1;
		}
	}
	return 0;
}

/* ms since the epoch as "2026-12-03T16:05:38.123Z". */
static void
iso_ms(int64_t ms, char *out, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	gmtime_r(&s, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03dZ", base, (int)(ms % 1000));
}

static void
entry_print(const Wiresync__V1__AuditEntry *e, json_t *arr)
{
	char when[48], who[256];

	iso_ms(e->time_ms, when, sizeof(when));
	if (arr != NULL) {
		json_t *o = json_object();
		json_object_set_new(o, "id", json_integer((json_int_t)e->id));
		json_object_set_new(o, "time", json_string(when));
		json_object_set_new(o, "time_ms", json_integer(e->time_ms));
		json_object_set_new(o, "network", json_string(e->network));
		json_object_set_new(o, "admin", json_string(e->admin));
		json_object_set_new(o, "serial", json_string(e->serial));
		json_object_set_new(o, "action", json_string(e->action));
		json_object_set_new(o, "detail", json_string(e->detail));
		json_array_append_new(arr, o);
		return;
	}
	if (e->admin[0] == '\0')
		snprintf(who, sizeof(who), "server");
	else
		snprintf(who, sizeof(who), "%s (%s)", e->admin, e->serial);
	printf("%s  %-24s  %-13s  %s\n", when, who, e->action, e->detail);
}

int
cmd_audit(struct ctl *c, int argc, char **argv)
{
	struct audit_args a;
	json_t *arr = NULL;
	uint64_t before = 0;
	uint32_t left;
	size_t shown = 0;
	int st = CTL_EXIT_OK;

	if (audit_args_parse(argc, argv, &a) < 0)
		return CTL_EXIT_USAGE;
	if (a.json)
		arr = json_array();
	for (left = a.limit; left > 0;) {
		Wiresync__V1__AuditRequest req = WIRESYNC__V1__AUDIT_REQUEST__INIT;
		Wiresync__V1__AuditReply *r;
		req.limit = left < AUDIT_PAGE_MAX ? left : AUDIT_PAGE_MAX;
		req.before_id = before;
		if ((st = ctl_call_unpack(c, "Audit", &req.base,
		    &wiresync__v1__audit_reply__descriptor, (void **)&r)) != CTL_EXIT_OK)
			break;
		for (size_t i = 0; i < r->n_entries && left > 0; i++, left--, shown++) {
			entry_print(r->entries[i], arr);
			before = r->entries[i]->id;
		}
		if (r->n_entries < req.limit)
			left = 0;            /* no older entries */
		wiresync__v1__audit_reply__free_unpacked(r, NULL);
	}
	if (st != CTL_EXIT_OK) {
		json_decref(arr);
		return st;
	}
	if (arr != NULL)
		return ctl_json_print(arr);
	if (shown == 0)
		printf("no audit entries\n");
	return CTL_EXIT_OK;
}
