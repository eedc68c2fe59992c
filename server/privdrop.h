/* Leaving root: wiresyncd opens its files and ports as root, then runs as a plain user
 * with no capabilities and no way back. */
#ifndef WS_PRIVDROP_H
#define WS_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privdrop {
	bool set;
	char name[64];
	uid_t uid;
	gid_t gid;
};

/* Looks name up in the user database (a name or a numeric uid). Returns 0, or -1 with err
 * saying why (no such user, or it is root). */
int privdrop_lookup(const char *name, struct privdrop *pd, char *err, size_t errlen);

/* Running as root: empties the capability bounding and ambient sets, takes the user's
 * groups, gid and uid (real, effective and saved), sets no_new_privs and checks that root
 * cannot be regained. Not root: nothing to do when already that user, else an error.
 * Returns 1 when it switched, 0 when there was nothing to do, -1 with err set. */
int privdrop_apply(const struct privdrop *pd, char *err, size_t errlen);

/* Before privdrop_apply: gives path (a regular file, not followed through a symlink) to the
 * user when the directory holding it is the user's already, as files made there while root
 * (the database, its -wal and -shm, the ticket keys) must be. The user could replace them
 * anyway, so this grants nothing. Returns 1 when it changed the owner, 0 when it had no
 * reason to, -1 with err set. */
int privdrop_hand_over(const struct privdrop *pd, const char *path, char *err, size_t errlen);

#endif
