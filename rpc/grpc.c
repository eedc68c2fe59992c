/* gRPC framing and header values (see the gRPC "PROTOCOL-HTTP2" notes). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "rpc/grpc.h"

const char *
grpc_status_name(int status)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
		"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
		"UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
	};

	if (status < 0 || (size_t)status >= sizeof(names) / sizeof(names[0]))
		return "UNKNOWN";
	return names[status];
}

bool
grpc_content_type_ok(const char *v, size_t len)
{
	static const char base[] = "application/grpc";
	size_t n = sizeof(base) - 1;

	if (len < n || strncmp(v, base, n) != 0)
		return false;
	if (len == n || v[n] == ';')
		return true;
	if (len >= n + 6 && strncmp(v + n, "+proto", 6) == 0)
		return len == n + 6 || v[n + 6] == ';';
	return false;
}

bool
grpc_timeout_parse(const char *v, size_t len, uint64_t *ms)
{
	uint64_t n = 0;

	if (len < 2 || len > 9)
		return false;
	for (size_t i = 0; i + 1 < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	switch (v[len - 1]) {
	case 'H': *ms = n * 3600000; break;
	case 'M': *ms = n * 60000; break;
	case 'S': *ms = n * 1000; break;
	case 'm': *ms = n; break;
	case 'u': *ms = (n + 999) / 1000; break;
	case 'n': *ms = (n + 999999) / 1000000; break;
	default: return false;
	}
	return true;
}

size_t
grpc_message_encode(const char *msg, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)msg; *p != '\0'; p++) {
		if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
			if (o + 1 >= outlen)
				break;
			out[o++] = (char)*p;
		} else {
			if (o + 3 >= outlen)
				break;
			out[o++] = '%';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
		}
	}
	out[o] = '\0';
	return o;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t
grpc_message_decode(const char *in, size_t len, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return 0;
	for (size_t i = 0; i < len && o + 1 < outlen; i++) {
		int hi, lo;
		if (in[i] == '%' && i + 2 < len && (hi = hexval(in[i + 1])) >= 0 &&
		    (lo = hexval(in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = '\0';
	return o;
}

void
grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], size_t len)
{
	out[0] = 0;
	out[1] = (uint8_t)(len >> 24);
	out[2] = (uint8_t)(len >> 16);
	out[3] = (uint8_t)(len >> 8);
	out[4] = (uint8_t)len;
}

void
grpc_frame_init(struct grpc_frame *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max;
}

void
grpc_frame_free(struct grpc_frame *f)
{
	free(f->buf);
	f->buf = NULL;
	f->prefix_got = f->need = f->got = 0;
	f->ready = false;
}

int
grpc_frame_feed(struct grpc_frame *f, const uint8_t *data, size_t len, size_t *used)
{
	size_t i = 0;

	*used = 0;
	if (f->ready)
		return GRPC_FRAME_MESSAGE;
	while (f->prefix_got < GRPC_PREFIX_LEN && i < len)
		f->prefix[f->prefix_got++] = data[i++];
	*used = i;
	if (f->prefix_got < GRPC_PREFIX_LEN)
		return GRPC_FRAME_MORE;
	if (f->buf == NULL && !f->ready && f->got == 0 && f->need == 0) {
		uint32_t n = (uint32_t)f->prefix[1] << 24 | (uint32_t)f->prefix[2] << 16 |
		    (uint32_t)f->prefix[3] << 8 | f->prefix[4];
		if (f->prefix[0] == 1)
			return GRPC_FRAME_COMPRESSED;
		if (f->prefix[0] != 0)
			return GRPC_FRAME_BAD_FLAG;
		if (n > f->max)
			return GRPC_FRAME_TOO_LARGE;
		f->need = n;
		/* one byte more so an empty message still has a buffer to point at */
		f->buf = malloc(n + 1);
		if (f->buf == NULL)
			return GRPC_FRAME_NOMEM;
	}
	if (f->got < f->need) {
		size_t take = f->need - f->got;
		if (take > len - i)
			take = len - i;
		memcpy(f->buf + f->got, data + i, take);
		f->got += take;
		i += take;
		*used = i;
	}
	if (f->got < f->need)
		return GRPC_FRAME_MORE;
	f->ready = true;
	return GRPC_FRAME_MESSAGE;
}

const uint8_t *
grpc_frame_message(const struct grpc_frame *f, size_t *len)
{
	if (!f->ready) {
		*len = 0;
		return NULL;
	}
	*len = f->need;
	return f->buf;
}

void
grpc_frame_next(struct grpc_frame *f)
{
	free(f->buf);
	f->buf = NULL;
	f->prefix_got = f->need = f->got = 0;
	f->ready = false;
}

bool
grpc_frame_idle(const struct grpc_frame *f)
{
	return f->prefix_got == 0 && !f->ready;
}
