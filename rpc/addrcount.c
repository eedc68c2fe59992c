/* A chained hash table of address keys and their counts. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/addrcount.h"

#define BUCKETS 4096            /* a power of two */
#define KEY_LEN 17              /* family byte + 16 address bytes */

struct node {
	struct node *next;
	uint8_t key[KEY_LEN];
	uint32_t count;
};

struct addrcount {
	struct node *b[BUCKETS];
	size_t n;
};

/* The key of an address: 4 bytes for IPv4 and IPv4-mapped IPv6, the /64 for IPv6. */
static bool
key_of(const struct sockaddr *sa, uint8_t key[KEY_LEN])
{
	memset(key, 0, KEY_LEN);
	if (sa->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 8);
		}
		return true;
	}
	return false;
}

static size_t
bucket_of(const uint8_t key[KEY_LEN])
{
	uint32_t h = 2166136261u;       /* FNV-1a */

	for (size_t i = 0; i < KEY_LEN; i++)
		h = (h ^ key[i]) * 16777619u;
	return h & (BUCKETS - 1);
}

static struct node **
find(const struct addrcount *t, const uint8_t key[KEY_LEN])
{
	struct node *const *p = &t->b[bucket_of(key)];

	while (*p != NULL && memcmp((*p)->key, key, KEY_LEN) != 0)
		p = &(*p)->next;
	return (struct node **)p;
}

struct addrcount *
addrcount_new(void)
{
	return calloc(1, sizeof(struct addrcount));
}

void
addrcount_del(struct addrcount *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < BUCKETS; i++) {
		struct node *n = t->b[i], *next;
		for (; n != NULL; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(t);
}

int
addrcount_take(struct addrcount *t, const struct sockaddr *sa, uint32_t max)
{
	uint8_t key[KEY_LEN];
	struct node **p, *n;

	if (!key_of(sa, key))
		return -EAFNOSUPPORT;
	p = find(t, key);
	if (*p != NULL) {
		if (max > 0 && (*p)->count >= max)
			return 0;
		return (int)++(*p)->count;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return -ENOMEM;
	memcpy(n->key, key, KEY_LEN);
	n->count = 1;
	*p = n;
	t->n++;
	return 1;
}

void
addrcount_release(struct addrcount *t, const struct sockaddr *sa)
{
	uint8_t key[KEY_LEN];
	struct node **p, *n;

	if (!key_of(sa, key))
		return;
	p = find(t, key);
	if ((n = *p) == NULL)
		return;
	if (--n->count == 0) {
		*p = n->next;
		free(n);
		t->n--;
	}
}

uint32_t
addrcount_get(const struct addrcount *t, const struct sockaddr *sa)
{
	uint8_t key[KEY_LEN];
	struct node **p;

	if (!key_of(sa, key))
		return 0;
	p = find(t, key);
	return *p != NULL ? (*p)->count : 0;
}

size_t
addrcount_size(const struct addrcount *t)
{
	return t->n;
}
