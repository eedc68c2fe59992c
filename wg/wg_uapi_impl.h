/* The UAPI backend's private parts, shared by wg_uapi_parse.c (the replies read) and
 * wg_uapi.c (the socket and the "set" request). Not for other modules. */
#ifndef WS_WG_UAPI_IMPL_H
#define WS_WG_UAPI_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "wg/wg.h"

#define UAPI_LINE_MAX 1024     /* longest line accepted, without its '\n' */
#define UAPI_READ_CHUNK 8192   /* socket read buffer; must exceed UAPI_LINE_MAX */
#define KEY_HEX_LEN (2 * WG_KEY_LEN)

/* The "get" reply, read line by line. */
struct uapi_get_parser {
	struct wg_device *dev;
	size_t cap;        /* peers allocated */
	bool got_errno;
	int err;           /* -N from errno=N */
	bool done;         /* the empty line after errno= was read */
};

/* Zeroes p and allocates its device. Returns 0 or -ENOMEM. */
int uapi_get_parser_init(struct uapi_get_parser *p);
/* Consumes the complete lines at the start of buf[0..len) (stopping after the final empty
 * line) and sets *used. Returns 0 or a negative errno. */
int uapi_get_feed(struct uapi_get_parser *p, const char *buf, size_t len, size_t *used);

#endif
