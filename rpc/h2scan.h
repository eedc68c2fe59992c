/* A frame-boundary scanner in front of a server's nghttp2 session, for one habit of stock
 * gRPC clients: grpc-core (python3-grpcio among them) can cancel a call so early that it
 * sends RST_STREAM for a stream whose HEADERS it never sent (grpc/grpc #19655, #38758).
 * RFC 9113 5.1 makes a frame other than HEADERS or PRIORITY on an idle stream a connection
 * error, so nghttp2 ends the whole connection, and with it every other call the client has
 * open (its Watch). The scanner finds such RST_STREAM frames and leaves them out; the rest
 * of the bytes go to nghttp2 unchanged and in order. Pure: no I/O. */
#ifndef WS_H2SCAN_H
#define WS_H2SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Idle RST_STREAM frames left out per connection; later ones go to nghttp2 (which ends a
 * connection that keeps sending them, as the RFC says). */
#define H2SCAN_IDLE_RST_MAX 64

struct h2scan {
	uint32_t preface_left;   /* client connection preface bytes still to pass */
	uint8_t hdr[9];          /* a frame header being collected */
	uint8_t hdr_len;
	uint32_t payload_left;   /* of the current frame */
	bool dropping;           /* the current frame is left out */
	unsigned dropped;        /* idle RST_STREAMs left out so far */
};

/* A server's scanner: the 24-byte client preface comes first. */
void h2scan_init(struct h2scan *s);

/* Passes buf[0..len) on: feed(arg, p, n) for each run of bytes nghttp2 is to get (it returns
 * a negative value to stop: that value is returned), idle(arg, stream_id) is asked for each
 * RST_STREAM frame on an odd (client) stream, after every byte before it was fed, whether that
 * stream is idle for the session. Returns 0, or what feed returned to stop. */
long h2scan_feed(struct h2scan *s, const uint8_t *buf, size_t len,
    long (*feed)(void *arg, const uint8_t *p, size_t n), bool (*idle)(void *arg, int32_t id),
    void *arg);

#endif
