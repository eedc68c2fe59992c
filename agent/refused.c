/* The records refused, one per key, bounded. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent/refused.h"

Wiresync__V1__Peer *
refused_peer_copy(const Wiresync__V1__Peer *p)
{
	size_t len = wiresync__v1__peer__get_packed_size(p);
	uint8_t *buf = malloc(len + 1);
	Wiresync__V1__Peer *q;

	if (buf == NULL)
		return NULL;
	wiresync__v1__peer__pack(p, buf);
	q = wiresync__v1__peer__unpack(NULL, len, buf);
	free(buf);
	return q;
}

static bool
same_key(const Wiresync__V1__Peer *a, const uint8_t *key, size_t len)
{
	return a->public_key.len == len && (len == 0 || memcmp(a->public_key.data, key, len) == 0);
}

int
refused_put(struct refused_set *s, const Wiresync__V1__Peer *p, enum refused_why why)
{
	Wiresync__V1__Peer *q = refused_peer_copy(p);

	if (q == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		if (same_key(s->recs[i], p->public_key.data, p->public_key.len)) {
			wiresync__v1__peer__free_unpacked(s->recs[i], NULL);
			s->recs[i] = q;
			s->why[i] = why;
			return 0;
		}
	}
	if (s->n == REFUSED_MAX) {
		/* a server sending garbage must not grow us without bound */
		wiresync__v1__peer__free_unpacked(refused_take(s, 0), NULL);
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		Wiresync__V1__Peer **nr = realloc(s->recs, cap * sizeof(*nr));
		enum refused_why *nw;

		if (nr != NULL)
			s->recs = nr;
		nw = nr != NULL ? realloc(s->why, cap * sizeof(*nw)) : NULL;
		if (nw == NULL) {
			wiresync__v1__peer__free_unpacked(q, NULL);
			return -ENOMEM;
		}
		s->why = nw;
		s->cap = cap;
	}
	s->why[s->n] = why;
	s->recs[s->n++] = q;
	return 0;
}

Wiresync__V1__Peer *
refused_take(struct refused_set *s, size_t i)
{
	Wiresync__V1__Peer *p = s->recs[i];

	s->recs[i] = s->recs[--s->n];
	s->why[i] = s->why[s->n];
	return p;
}

void
refused_forget(struct refused_set *s, const uint8_t *key, size_t len)
{
	for (size_t i = 0; i < s->n; i++) {
		if (same_key(s->recs[i], key, len)) {
			wiresync__v1__peer__free_unpacked(refused_take(s, i), NULL);
			return;
		}
	}
}

void
refused_clear(struct refused_set *s)
{
	while (s->n > 0)
		wiresync__v1__peer__free_unpacked(s->recs[--s->n], NULL);
	free(s->recs);
	free(s->why);
	s->recs = NULL;
	s->why = NULL;
	s->cap = 0;
}
