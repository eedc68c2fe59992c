/* Watching one file through its directory; see filewatch.h. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "common/filewatch.h"
#include "rpc/log.h"

struct filewatch {
	struct loop *loop;
	struct loop_io io;
	struct loop_timer debounce;
	unsigned debounce_ms;
	loop_fn fn;
	void *arg;
	int fd;
	char *dir;
	char *base;
};

static void
fire(void *arg)
{
	struct filewatch *fw = arg;

	fw->fn(fw->arg);
}

static void
on_events(void *arg, uint32_t events)
{
	struct filewatch *fw = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	(void)events;
	while ((n = read(fw->fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			if (ev->len > 0 && strcmp(ev->name, fw->base) == 0)
				hit = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	/* a write is often several events (truncate, writes, close): one call after them */
	if (hit)
		loop_timer_set(fw->loop, &fw->debounce, fw->debounce_ms, fire, fw);
}

struct filewatch *
filewatch_new(struct loop *l, const char *path, unsigned debounce_ms, loop_fn fn, void *arg,
    char *err, size_t errlen)
{
	struct filewatch *fw;
	const char *slash = strrchr(path, '/');
	int e;

	fw = calloc(1, sizeof(*fw));
	if (fw == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	fw->fd = -1;
	fw->loop = l;
	fw->fn = fn;
	fw->arg = arg;
	fw->debounce_ms = debounce_ms;
	if (slash == NULL) {
		fw->dir = strdup(".");
		fw->base = strdup(path);
	} else {
		fw->dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
		fw->base = strdup(slash + 1);
	}
	if (fw->dir == NULL || fw->base == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	fw->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fw->fd < 0 ||
	    inotify_add_watch(fw->fd, fw->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0 ||
	    (e = loop_io_add(l, &fw->io, fw->fd, EPOLLIN, on_events, fw)) < 0) {
		snprintf(err, errlen, "%s: cannot watch its directory: %s", path, strerror(errno));
		goto fail;
	}
	return fw;
fail:
	if (fw->fd >= 0)
		close(fw->fd);
	fw->fd = -1;
	filewatch_del(fw);
	return NULL;
}

void
filewatch_del(struct filewatch *fw)
{
	if (fw == NULL)
		return;
	if (fw->fd >= 0) {
		loop_io_del(fw->loop, &fw->io);
		close(fw->fd);
	}
	loop_timer_cancel(fw->loop, &fw->debounce);
	free(fw->dir);
	free(fw->base);
	free(fw);
}
