/* setgroups/setgid/setuid in the only safe order, then proof that it stuck. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rpc/log.h"
#include "server/privdrop.h"

#if defined(__SANITIZE_ADDRESS__)
#define WS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WS_ASAN 1
#endif
#endif

int
privdrop_lookup(const char *name, struct privdrop *pd, char *err, size_t errlen)
{
	struct passwd *pw;
	char *end;

	memset(pd, 0, sizeof(*pd));
	if (strlen(name) >= sizeof(pd->name)) {
		snprintf(err, errlen, "user name \"%.40s...\" is too long", name);
		return -1;
	}
	errno = 0;
	pw = getpwnam(name);
	if (pw == NULL && name[0] >= '0' && name[0] <= '9') {
		unsigned long id = strtoul(name, &end, 10);
		if (*end == '\0')
			pw = getpwuid((uid_t)id);
	}
	if (pw == NULL) {
		snprintf(err, errlen, "no such user \"%s\"", name);
		return -1;
	}
	if (pw->pw_uid == 0) {
		snprintf(err, errlen, "user \"%s\" is root (uid 0): name an unprivileged user",
		    name);
		return -1;
	}
	snprintf(pd->name, sizeof(pd->name), "%s", pw->pw_name);
	pd->uid = pw->pw_uid;
	pd->gid = pw->pw_gid;
	pd->set = true;
	return 0;
}

/* Empties the bounding set so nothing executed later can get a capability back; needs
 * CAP_SETPCAP, so before setuid. A container without it only loses this belt. */
static void
drop_bounding_set(void)
{
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
			log_warn("cannot empty the capability bounding set (capability %d)", cap);
			return;
		}
	}
}

static bool
no_capabilities(void)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].effective != 0 || data[i].permitted != 0 || data[i].inheritable != 0)
			return false;
	return true;
}

int
privdrop_apply(const struct privdrop *pd, char *err, size_t errlen)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (!pd->set)
		return 0;
	if (geteuid() != 0) {
		if (getuid() == pd->uid && geteuid() == pd->uid)
			return 0;
		snprintf(err, errlen, "user %s: cannot switch to uid %u when running as uid %u "
		    "rather than root", pd->name, (unsigned)pd->uid, (unsigned)geteuid());
		return -1;
	}
	drop_bounding_set();
	/* EINVAL: a kernel older than ambient capabilities has none to clear */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
		snprintf(err, errlen, "user %s: clearing ambient capabilities: %s", pd->name,
		    strerror(errno));
		return -1;
	}
	/* groups, then gid, then uid: each step needs the privilege the next one drops */
	if (initgroups(pd->name, pd->gid) < 0) {
		snprintf(err, errlen, "user %s: initgroups: %s", pd->name, strerror(errno));
		return -1;
	}
	if (setresgid(pd->gid, pd->gid, pd->gid) < 0) {
		snprintf(err, errlen, "user %s: setresgid(%u): %s", pd->name, (unsigned)pd->gid,
		    strerror(errno));
		return -1;
	}
	if (setresuid(pd->uid, pd->uid, pd->uid) < 0) {
		snprintf(err, errlen, "user %s: setresuid(%u): %s", pd->name, (unsigned)pd->uid,
		    strerror(errno));
		return -1;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		snprintf(err, errlen, "user %s: no_new_privs: %s", pd->name, strerror(errno));
		return -1;
	}
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 ||
	    ru != pd->uid || eu != pd->uid || su != pd->uid ||
	    rg != pd->gid || eg != pd->gid || sg != pd->gid) {
		snprintf(err, errlen, "user %s: the uid/gid did not change as asked", pd->name);
		return -1;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0) {
		snprintf(err, errlen, "user %s: root could be regained after the switch", pd->name);
		return -1;
	}
	if (!no_capabilities()) {
		snprintf(err, errlen, "user %s: capabilities are left after the switch", pd->name);
		return -1;
	}
#ifdef WS_ASAN
	/* LeakSanitizer inspects the process at exit through ptrace, which a process that
	 * changed uid refuses; sanitizer builds are for tests, never for production. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
	return 1;
}

int
privdrop_hand_over(const struct privdrop *pd, const char *path, char *err, size_t errlen)
{
	char dir[4096], *slash;
	struct stat dst, st;

	if (!pd->set || geteuid() != 0)
		return 0;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &dst) < 0 || dst.st_uid != pd->uid)
		return 0;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid == pd->uid)
		return 0;
	if (fchownat(AT_FDCWD, path, pd->uid, pd->gid, AT_SYMLINK_NOFOLLOW) < 0) {
		snprintf(err, errlen, "%s: cannot give it to user %s: %s", path, pd->name,
		    strerror(errno));
		return -1;
	}
	return 1;
}
