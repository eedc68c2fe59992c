/* Helpers shared by the fuzz targets: a memfd that parsers taking a path can read, and a
 * quiet log. Only the targets include this. */
#ifndef WS_FUZZ_UTIL_H
#define WS_FUZZ_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A memory file and its /proc path; fuzz_file_write replaces its contents. */
struct fuzz_file {
	int fd;
	char path[64];
};

static inline void
fuzz_file_open(struct fuzz_file *f, const char *name)
{
	f->fd = memfd_create(name, MFD_CLOEXEC);
	if (f->fd < 0) {
		perror("memfd_create");
		abort();
	}
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

static inline void
fuzz_file_write(struct fuzz_file *f, const void *data, size_t len)
{
	const char *p = data;

	if (ftruncate(f->fd, 0) < 0)
		abort();
	for (size_t off = 0; off < len;) {
		ssize_t n = pwrite(f->fd, p + off, len - off, (off_t)off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
}

/* Aborts with a message: a broken invariant is a finding like any crash. */
#define FUZZ_CHECK(cond)                                                            \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
			    #cond);                                                  \
			abort();                                                    \
		}                                                                   \
	} while (0)

#endif
