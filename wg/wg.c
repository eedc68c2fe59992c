/* Which WireGuard backend serves an interface, and the dispatch to it (wg_uapi.c,
 * wg_kernel.c). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wg/wg.h"
#include "wg/wg_kernel.h"

#define WG_UAPI_DIR_DEFAULT "/var/run/wireguard"

static char uapi_dir[256] = WG_UAPI_DIR_DEFAULT;

void
wg_set_uapi_dir(const char *dir)
{
	snprintf(uapi_dir, sizeof(uapi_dir), "%s",
	    dir != NULL && dir[0] != '\0' ? dir : WG_UAPI_DIR_DEFAULT);
}

/* An interface name as the kernel takes it, and safe in a socket path. */
static bool
ifname_ok(const char *ifname)
{
	size_t i, n;

	if (ifname == NULL)
		return false;
	n = strnlen(ifname, WG_IFNAME_MAX);
	if (n == 0 || n == WG_IFNAME_MAX || strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0)
		return false;
	for (i = 0; i < n; i++)
		if (ifname[i] == '/' || ifname[i] == ':' || ifname[i] <= ' ' || ifname[i] == 0x7f)
			return false;
	return true;
}

enum wg_backend
wg_backend_detect(const char *ifname)
{
	char path[sizeof(uapi_dir) + WG_IFNAME_MAX + 8];
	struct stat st;
	int n;

	if (!ifname_ok(ifname))
		return WG_BACKEND_KERNEL;
	n = snprintf(path, sizeof(path), "%s/%s.sock", uapi_dir, ifname);
	if (n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		return WG_BACKEND_UAPI;
	return WG_BACKEND_KERNEL;
}

const char *
wg_backend_name(enum wg_backend b)
{
	switch (b) {
	case WG_BACKEND_AUTO:
		return "auto";
	case WG_BACKEND_UAPI:
		return "uapi";
	case WG_BACKEND_KERNEL:
		return "kernel";
	}
	return "unknown";
}

int
wg_device_get(enum wg_backend b, const char *ifname, struct wg_device **out)
{
	*out = NULL;
	if (!ifname_ok(ifname))
		return -EINVAL;
	if (b == WG_BACKEND_AUTO)
		b = wg_backend_detect(ifname);
	switch (b) {
	case WG_BACKEND_UAPI:
		return wg_uapi_get(uapi_dir, ifname, out);
	case WG_BACKEND_KERNEL:
		return wg_kernel_get(ifname, out);
	default:
		return -EINVAL;
	}
}

int
wg_device_set(enum wg_backend b, const struct wg_device *dev)
{
	if (dev == NULL || !ifname_ok(dev->ifname))
		return -EINVAL;
	if (b == WG_BACKEND_AUTO)
		b = wg_backend_detect(dev->ifname);
	switch (b) {
	case WG_BACKEND_UAPI:
		return wg_uapi_set(uapi_dir, dev);
	case WG_BACKEND_KERNEL:
		return wg_kernel_set(dev);
	default:
		return -EINVAL;
	}
}

int
wg_device_set_private_key(enum wg_backend b, const char *ifname, const uint8_t key[WG_KEY_LEN])
{
	if (!ifname_ok(ifname))
		return -EINVAL;
	if (b == WG_BACKEND_AUTO)
		b = wg_backend_detect(ifname);
	switch (b) {
	case WG_BACKEND_UAPI:
		return wg_uapi_set_private_key(uapi_dir, ifname, key);
	case WG_BACKEND_KERNEL:
		return wg_kernel_set_private_key(ifname, key);
	default:
		return -EINVAL;
	}
}

const struct wg_peer *
wg_device_peer(const struct wg_device *dev, const uint8_t key[WG_KEY_LEN])
{
	for (size_t i = 0; dev != NULL && i < dev->n_peers; i++)
		if (memcmp(dev->peers[i].key, key, WG_KEY_LEN) == 0)
			return &dev->peers[i];
	return NULL;
}

const struct sockaddr_storage *
wg_peer_endpoint(const struct wg_peer *wp, struct sockaddr_storage *ss)
{
	if (wp == NULL || !(wp->flags & WG_PEER_HAS_ENDPOINT) ||
	    (wp->endpoint.sa.sa_family != AF_INET && wp->endpoint.sa.sa_family != AF_INET6))
		return NULL;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &wp->endpoint, wp->endpoint.sa.sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
	return ss;
}

void
wg_device_free(struct wg_device *dev)
{
	if (dev == NULL)
		return;
	free(dev->peers);
	free(dev);
}
