/* libFuzzer target: gRPC message framing (rpc/grpc.h), grpc-timeout and grpc-message.
 *
 * Input: one control byte, then a stream of DATA bytes. The control byte picks the maximum
 * message size and how the stream is cut into DATA payloads, as HTTP/2 would cut it. The
 * deframer's messages are compared with a straight reading of the whole stream, so a
 * reassembly bug is a finding even when nothing crashes. The same bytes are also read as a
 * grpc-timeout and a grpc-message value, and encode/decode must round-trip. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "rpc/grpc.h"
#include "test/fuzz/fuzz_util.h"

/* The straight reading: the result the deframer must reach, and where message k starts. */
struct ref {
	int result;           /* GRPC_FRAME_MORE at a clean end or mid-message, else the error */
	size_t n;             /* whole messages before it */
	size_t off[4096], len[4096];
	bool partial;         /* bytes of an unfinished prefix or message remain */
};

static void
ref_read(const uint8_t *d, size_t len, size_t max, struct ref *r)
{
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	r->result = GRPC_FRAME_MORE;
	while (i < len && r->n < 4096) {
		uint32_t n;
		if (len - i < GRPC_PREFIX_LEN) {
			r->partial = true;
			return;
		}
		n = (uint32_t)d[i + 1] << 24 | (uint32_t)d[i + 2] << 16 | (uint32_t)d[i + 3] << 8 |
		    d[i + 4];
		if (d[i] == 1) {
			r->result = GRPC_FRAME_COMPRESSED;
			return;
		}
		if (d[i] != 0) {
			r->result = GRPC_FRAME_BAD_FLAG;
			return;
		}
		if (n > max) {
			r->result = GRPC_FRAME_TOO_LARGE;
			return;
		}
		if (len - i - GRPC_PREFIX_LEN < n) {
			r->partial = true;
			return;
		}
		r->off[r->n] = i + GRPC_PREFIX_LEN;
		r->len[r->n] = n;
		r->n++;
		i += GRPC_PREFIX_LEN + n;
	}
}

static void
check_framing(uint8_t ctl, const uint8_t *d, size_t len)
{
	static const size_t maxes[4] = { 0, 16, 1024, GRPC_MAX_MESSAGE_DEFAULT };
	static struct ref ref;
	struct grpc_frame f;
	size_t max = maxes[ctl >> 6], pos = 0, k = 0;
	uint32_t rng = ctl | 0x100;
	int last = GRPC_FRAME_MORE;

	ref_read(d, len, max, &ref);
	if (ref.n >= 4096)
		return; /* past the reference's table; tiny messages, nothing new */
	grpc_frame_init(&f, max);
	FUZZ_CHECK(grpc_frame_idle(&f));
	while (pos < len) {
		/* Chunk sizes: fixed 1..8 for the low control bits 0-7, else pseudo-random. */
		size_t chunk = (ctl & 0x3f) < 8 ? (size_t)(ctl & 7) + 1 : 0;
		if (chunk == 0) {
			rng = rng * 1103515245u + 12345u;
			chunk = (rng >> 16) % 300 + 1;
		}
		if (chunk > len - pos)
			chunk = len - pos;
		while (chunk > 0) {
			size_t used = 0, mlen;
			const uint8_t *m;
			int r = grpc_frame_feed(&f, d + pos, chunk, &used);
			FUZZ_CHECK(used <= chunk);
			pos += used;
			chunk -= used;
			last = r;
			if (r < 0)
				goto done;
			if (r == GRPC_FRAME_MORE) {
				FUZZ_CHECK(chunk == 0);
				break;
			}
			m = grpc_frame_message(&f, &mlen);
			FUZZ_CHECK(m != NULL);
			FUZZ_CHECK(k < ref.n);
			FUZZ_CHECK(mlen == ref.len[k]);
			FUZZ_CHECK(memcmp(m, d + ref.off[k], mlen) == 0);
			FUZZ_CHECK(pos == ref.off[k] + ref.len[k]);
			k++;
			grpc_frame_next(&f);
			FUZZ_CHECK(grpc_frame_idle(&f));
		}
	}
done:
	FUZZ_CHECK(k == ref.n);
	if (ref.result != GRPC_FRAME_MORE) {
		size_t used;
		FUZZ_CHECK(last == ref.result);
		/* sticky */
		FUZZ_CHECK(grpc_frame_feed(&f, d, len, &used) == ref.result);
	} else {
		FUZZ_CHECK(last == GRPC_FRAME_MORE || last == GRPC_FRAME_MESSAGE);
		FUZZ_CHECK(grpc_frame_idle(&f) == !ref.partial);
	}
	grpc_frame_free(&f);
}

static void
check_values(const uint8_t *d, size_t len)
{
	char dec[256], enc[256 * 3 + 1], back[256];
	char text[256];
	uint64_t ms = 0;
	size_t n, tn;

	(void)grpc_timeout_parse((const char *)d, len, &ms);
	(void)grpc_content_type_ok((const char *)d, len);
	(void)grpc_status_name(len > 0 ? (int8_t)d[0] : 0);

	/* Decoding never writes past outlen and always terminates. */
	n = grpc_message_decode((const char *)d, len, dec, sizeof(dec));
	FUZZ_CHECK(n < sizeof(dec) && dec[n] == '\0');
	n = grpc_message_decode((const char *)d, len, dec, 1);
	FUZZ_CHECK(n == 0 && dec[0] == '\0');

	/* Encoding a NUL-free text and decoding it gives the text back, whenever it fit. */
	tn = len < sizeof(text) - 1 ? len : sizeof(text) - 1;
	memcpy(text, d, tn);
	text[tn] = '\0';
	tn = strlen(text);
	n = grpc_message_encode(text, enc, sizeof(enc));
	FUZZ_CHECK(n < sizeof(enc) && enc[n] == '\0' && strlen(enc) == n);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(enc[i] >= 0x20 && enc[i] <= 0x7e);
	n = grpc_message_decode(enc, n, back, sizeof(back));
	FUZZ_CHECK(n == tn && memcmp(back, text, tn) == 0);
	/* A short buffer cuts at a whole escape: what is there still decodes to a prefix. */
	n = grpc_message_encode(text, enc, 8);
	FUZZ_CHECK(n < 8 && enc[n] == '\0');
	n = grpc_message_decode(enc, n, back, sizeof(back));
	FUZZ_CHECK(n <= tn && memcmp(back, text, n) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	check_framing(data[0], data + 1, size - 1);
	check_values(data + 1, size - 1);
	return 0;
}
