/* wiresyncd --copy-store FROM TO (issue 15): copies a whole store from one backend to
 * another, an SQLite file or a PostgreSQL database (a postgresql:// or postgres:// URI)
 * each, for operators who outgrow one machine or go back: the peers (online copied as
 * false: nobody holds a Watch in a copy), the change log, the revision, the join requests
 * and the next join id, the join tokens, the audit log and the link health rows. TO is
 * created or migrated to the current schema and must hold no peer, join request, token or
 * revision; it is written in one transaction, so a failure leaves it as it was. An
 * offline tool: it blocks, and no wiresyncd may be writing TO meanwhile. */
#ifndef WS_COPYSTORE_H
#define WS_COPYSTORE_H

/* Copies from into to and prints the one-line summary on standard output; every failure
 * is logged naming the file or the database (never a URI, which may hold a password) and
 * what to do. Returns the exit status: 0 copied, 1 nothing copied (to as it was). */
int copystore_main(const char *from, const char *to);

#endif
