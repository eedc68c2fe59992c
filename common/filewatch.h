/* Notices that a file was written or replaced (inotify on its directory, so that a rename
 * over it counts too), debounced, on the event loop. */
#ifndef WS_FILEWATCH_H
#define WS_FILEWATCH_H

#include <stddef.h>

#include "rpc/loop.h"

struct filewatch;

/* Calls fn(arg) debounce_ms after the last write to, or replacement of, path. Returns
 * the watch (filewatch_del) or NULL with err naming the path. */
struct filewatch *filewatch_new(struct loop *l, const char *path, unsigned debounce_ms,
    loop_fn fn, void *arg, char *err, size_t errlen);

/* Stops watching and frees fw; accepts NULL. */
void filewatch_del(struct filewatch *fw);

#endif
