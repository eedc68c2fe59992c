/* gRPC over HTTP/2 without the transport: status codes, message framing, grpc-timeout,
 * grpc-message percent-encoding. Pure functions over (buf, len). */
#ifndef WS_GRPC_H
#define WS_GRPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum grpc_status {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

#define GRPC_PREFIX_LEN 5
#define GRPC_MAX_MESSAGE_DEFAULT (1024 * 1024)

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN" past the table. */
const char *grpc_status_name(int status);

/* True for "application/grpc", "application/grpc+proto" and either with ";params". */
bool grpc_content_type_ok(const char *v, size_t len);

/* Parses a grpc-timeout value ("1S", "250m", "100000u", at most 8 digits and one unit of
 * H M S m u n) into milliseconds, rounding up. Returns false when malformed. */
bool grpc_timeout_parse(const char *v, size_t len, uint64_t *ms);

/* Percent-encodes msg for grpc-message (everything outside 0x20-0x7e and '%'). Writes at
 * most outlen-1 bytes and a NUL, cutting at a whole escape. Returns the length written. */
size_t grpc_message_encode(const char *msg, char *out, size_t outlen);
/* Decodes grpc-message in place rules; invalid escapes are kept as they are. */
size_t grpc_message_decode(const char *in, size_t len, char *out, size_t outlen);

/* Writes the 5-byte length prefix of an uncompressed message. */
void grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], size_t len);

/* Reassembles length-prefixed messages from DATA payloads of any size. */
enum grpc_frame_result {
	GRPC_FRAME_MORE = 0,        /* need more bytes */
	GRPC_FRAME_MESSAGE = 1,     /* a whole message is ready (grpc_frame_message) */
	GRPC_FRAME_TOO_LARGE = -1,  /* declared length is over the maximum */
	GRPC_FRAME_COMPRESSED = -2, /* compressed flag set: no encoding is supported */
	GRPC_FRAME_BAD_FLAG = -3,   /* flag byte is neither 0 nor 1 */
	GRPC_FRAME_NOMEM = -4,
};

struct grpc_frame {
	size_t max;            /* largest message accepted */
	uint8_t prefix[GRPC_PREFIX_LEN];
	size_t prefix_got;
	uint8_t *buf;          /* message bytes being assembled */
	size_t need, got;
	bool ready;
};

void grpc_frame_init(struct grpc_frame *f, size_t max);
/* Releases the message buffer; the frame can be reused after grpc_frame_init. */
void grpc_frame_free(struct grpc_frame *f);
/* Consumes up to len bytes from data and sets *used to how many it took. Call again with
 * the rest after handling a GRPC_FRAME_MESSAGE. Errors are sticky until init. */
int grpc_frame_feed(struct grpc_frame *f, const uint8_t *data, size_t len, size_t *used);
/* The ready message: its bytes stay owned by f; call grpc_frame_next to drop it. */
const uint8_t *grpc_frame_message(const struct grpc_frame *f, size_t *len);
void grpc_frame_next(struct grpc_frame *f);
/* True when no partial message is buffered. */
bool grpc_frame_idle(const struct grpc_frame *f);

#endif
