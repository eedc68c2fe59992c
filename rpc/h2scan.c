/* Leaves out a stock gRPC client's RST_STREAM frames on idle streams (see h2scan.h). */
#include "config.h"

#include <string.h>

#include "rpc/h2scan.h"

#define H2_PREFACE_LEN 24
#define H2_RST_STREAM 3

void
h2scan_init(struct h2scan *s)
{
	memset(s, 0, sizeof(*s));
	s->preface_left = H2_PREFACE_LEN;
}

static uint32_t
frame_len(const uint8_t h[9])
{
	return (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
}

/* The header in h is an RST_STREAM on a client stream: a candidate to leave out. */
static bool
candidate(const struct h2scan *s, const uint8_t h[9], int32_t *id)
{
	*id = (int32_t)(((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 |
	    h[8]) & 0x7fffffffu);
	/* a malformed one (not 4 bytes) is nghttp2's to refuse */
	return h[3] == H2_RST_STREAM && (*id & 1) && frame_len(h) == 4 &&
	    s->dropped < H2SCAN_IDLE_RST_MAX;
}

/* A whole header h is known (its bytes not fed yet when held is true): decides whether the
 * frame goes on. Returns what feed returned when it stops, else 0. */
static long
header_done(struct h2scan *s, const uint8_t h[9], bool held,
    long (*feed)(void *arg, const uint8_t *p, size_t n), bool (*idle)(void *arg, int32_t id),
    void *arg)
{
	int32_t id;
	long r;

	s->payload_left = frame_len(h);
	s->dropping = candidate(s, h, &id) && idle(arg, id);
	if (s->dropping) {
		s->dropped++;
		return 0;
	}
	if (held && (r = feed(arg, h, 9)) < 0)
		return r;
	return 0;
}

long
h2scan_feed(struct h2scan *s, const uint8_t *buf, size_t len,
    long (*feed)(void *arg, const uint8_t *p, size_t n), bool (*idle)(void *arg, int32_t id),
    void *arg)
{
	size_t i = 0, run = 0, k;     /* buf[run..i) is to be fed */
	int32_t id;
	long r;

#define FLUSH() do { \
		if (i > run && (r = feed(arg, buf + run, i - run)) < 0) \
			return r; \
		run = i; \
	} while (0)

	while (i < len) {
		if (s->preface_left > 0) {
			k = len - i < s->preface_left ? len - i : s->preface_left;
			s->preface_left -= (uint32_t)k;
			i += k;
		} else if (s->payload_left > 0) {
			k = len - i < s->payload_left ? len - i : s->payload_left;
			if (s->dropping) {
				FLUSH();
				run = i + k;
			}
			s->payload_left -= (uint32_t)k;
			i += k;
			if (s->payload_left == 0)
				s->dropping = false;
		} else if (s->hdr_len == 0 && len - i >= 9) {
			/* the common case: a whole header in place, fed with its payload */
			if (candidate(s, buf + i, &id)) {
				FLUSH();
				if ((r = header_done(s, buf + i, false, feed, idle, arg)) < 0)
					return r;
				i += 9;
				if (s->dropping)
					run = i;
			} else {
				s->payload_left = frame_len(buf + i);
				s->dropping = false;
				i += 9;
			}
		} else {
			/* a header split across reads: held until it is whole */
			if (s->hdr_len == 0)
				FLUSH();
			k = len - i < 9u - s->hdr_len ? len - i : 9u - s->hdr_len;
			memcpy(s->hdr + s->hdr_len, buf + i, k);
			s->hdr_len = (uint8_t)(s->hdr_len + k);
			i += k;
			run = i;
			if (s->hdr_len == 9) {
				s->hdr_len = 0;
				if ((r = header_done(s, s->hdr, true, feed, idle, arg)) < 0)
					return r;
			}
		}
	}
	if (!s->dropping)
		FLUSH();
#undef FLUSH
	return 0;
}
