/* libFuzzer target: the UAPI text protocol's reply parsers (wg/wg.h wg_uapi_parse_get,
 * wg_uapi_parse_errno), what the agent reads from wireguard-go's or boringtun's socket.
 *
 * Input: the reply bytes. A parsed device must respect the limits the header promises, and
 * the peers it holds must format back into a set request. The same reply is also served by
 * a fake daemon on a real UAPI socket, cut into chunks the first byte chooses, to the
 * agent's reader (wg_uapi_get, which feeds the parser as lines arrive): whatever the whole
 * buffer parses to, the reader must read too. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "wg/wg.h"
#include "rpc/log.h"
#include "test/fuzz/fuzz_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The fake daemon: one thread answering each connection with the current input. */
static char sock_dir[64];
static int listen_fd = -1;
static pthread_mutex_t serve_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t serve_cv = PTHREAD_COND_INITIALIZER;
static const uint8_t *serve_data;   /* the input: valid until the daemon says served */
static size_t serve_len;
static uint32_t serve_seed;
static unsigned long served;        /* connections answered */

static void *
daemon_main(void *arg)
{
	(void)arg;
	for (;;) {
		char req[16];
		size_t got = 0, off = 0;
		uint32_t rng;
		int fd = accept(listen_fd, NULL, NULL);

		if (fd < 0)
			continue;
		while (got < 7) { /* "get=1\n\n" */
			ssize_t n = read(fd, req + got, sizeof(req) - got);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		pthread_mutex_lock(&serve_mu);
		rng = serve_seed;
		while (off < serve_len) {
			size_t chunk;
			ssize_t n;
			rng = rng * 1103515245u + 12345u;
			chunk = (rng >> 16) % 2000 + 1;
			if (chunk > serve_len - off)
				chunk = serve_len - off;
			n = send(fd, serve_data + off, chunk, MSG_NOSIGNAL);
			if (n <= 0)
				break; /* the reader stopped early: it may */
			off += (size_t)n;
		}
		close(fd);
		served++;
		pthread_cond_signal(&serve_cv);
		pthread_mutex_unlock(&serve_mu);
	}
	return NULL;
}

static void
daemon_cleanup(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/fz0.sock", sock_dir);
	unlink(path);
	rmdir(sock_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	pthread_t t;

	(void)argc;
	(void)argv;
	log_init("fuzz_uapi", LOG_LEVEL_ERROR); /* the parser explains every refusal */
	snprintf(sock_dir, sizeof(sock_dir), "/tmp/fuzz-uapi.XXXXXX");
	FUZZ_CHECK(mkdtemp(sock_dir) != NULL);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/fz0.sock", sock_dir);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(listen_fd >= 0);
	FUZZ_CHECK(bind(listen_fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	FUZZ_CHECK(listen(listen_fd, 4) == 0);
	atexit(daemon_cleanup);
	FUZZ_CHECK(pthread_create(&t, NULL, daemon_main, NULL) == 0);
	pthread_detach(t);
	return 0;
}

static bool
peer_equal(const struct wg_peer *a, const struct wg_peer *b)
{
	if (memcmp(a->key, b->key, WG_KEY_LEN) != 0 || a->flags != b->flags ||
	    a->keepalive_s != b->keepalive_s || a->n_allowed != b->n_allowed ||
	    a->last_handshake_s != b->last_handshake_s || a->rx_bytes != b->rx_bytes ||
	    a->tx_bytes != b->tx_bytes)
		return false;
	if ((a->flags & WG_PEER_HAS_ENDPOINT) &&
	    memcmp(&a->endpoint, &b->endpoint, sizeof(a->endpoint)) != 0)
		return false;
	for (size_t i = 0; i < a->n_allowed; i++)
		if (!netaddr_equal(&a->allowed[i], &b->allowed[i]))
			return false;
	return true;
}

/* The reader over the socket must agree with the whole-buffer parse when that succeeds. */
static void
check_socket(const uint8_t *data, size_t size, uint8_t seed, const struct wg_device *whole)
{
	struct wg_device *dev = NULL;
	unsigned long before;
	int r;

	pthread_mutex_lock(&serve_mu);
	serve_data = data;
	serve_len = size;
	serve_seed = seed;
	before = served;
	pthread_mutex_unlock(&serve_mu);
	r = wg_uapi_get(sock_dir, "fz0", &dev);
	/* the daemon reads data until it has closed this connection */
	pthread_mutex_lock(&serve_mu);
	while (served == before)
		pthread_cond_wait(&serve_cv, &serve_mu);
	pthread_mutex_unlock(&serve_mu);
	if (whole != NULL) {
		FUZZ_CHECK(r == 0 && dev != NULL);
		FUZZ_CHECK(strcmp(dev->ifname, "fz0") == 0);
		FUZZ_CHECK(dev->has_public_key == whole->has_public_key);
		FUZZ_CHECK(!dev->has_public_key ||
		    memcmp(dev->public_key, whole->public_key, WG_KEY_LEN) == 0);
		FUZZ_CHECK(dev->listen_port == whole->listen_port);
		FUZZ_CHECK(dev->n_peers == whole->n_peers);
		for (size_t i = 0; i < dev->n_peers; i++)
			FUZZ_CHECK(peer_equal(&dev->peers[i], &whole->peers[i]));
	} else {
		FUZZ_CHECK((r == 0) == (dev != NULL));
	}
	wg_device_free(dev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wg_device *dev = NULL;
	char *set = NULL;
	int r;

	r = wg_uapi_parse_errno((const char *)data, size);
	FUZZ_CHECK(r <= 0);
	r = wg_uapi_parse_get((const char *)data, size, &dev);
	if (r < 0) {
		FUZZ_CHECK(dev == NULL);
		if (size > 0)
			check_socket(data, size, data[0], NULL);
		return 0;
	}
	check_socket(data, size, size > 0 ? data[0] : 0, dev);
	FUZZ_CHECK(r == 0 && dev != NULL);
	FUZZ_CHECK(dev->n_peers <= WG_PEERS_MAX);
	for (size_t i = 0; i < dev->n_peers; i++) {
		const struct wg_peer *p = &dev->peers[i];
		FUZZ_CHECK(p->n_allowed <= WG_ALLOWED_MAX);
		for (size_t j = 0; j < p->n_allowed; j++)
			FUZZ_CHECK((p->allowed[j].family == AF_INET && p->allowed[j].prefix <= 32) ||
			    (p->allowed[j].family == AF_INET6 && p->allowed[j].prefix <= 128));
		if (p->flags & WG_PEER_HAS_ENDPOINT)
			FUZZ_CHECK(p->endpoint.sa.sa_family == AF_INET ||
			    p->endpoint.sa.sa_family == AF_INET6);
	}
	r = wg_uapi_format_set(dev, &set);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	free(set);
	wg_device_free(dev);
	return 0;
}
