/* The kernel backend: the "wireguard" generic netlink family through libnl-genl-3.
 * WG_CMD_GET_DEVICE is a dump whose parts are coalesced; WG_CMD_SET_DEVICE requests are
 * kept under a size budget, a full one sent and the next resuming where it stopped. This
 * file has the socket; wg_kernel_nlmsg.c builds and parses the messages. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/wireguard.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <openssl/crypto.h>

#include "wg/wg.h"
#include "wg/wg_kernel.h"
#include "wg/wg_kernel_impl.h"
#include "rpc/log.h"

#define KERNEL_IO_TIMEOUT_S 5
#define KERNEL_TOTAL_TIMEOUT_S 30
#define KERNEL_DUMP_RETRIES 3

/* --- the socket ------------------------------------------------------------------------ */

struct nl_ctx {
	struct wg_device *dev;  /* dump target, or NULL for an ACK wait */
	bool done;
	bool interrupted;       /* NLM_F_DUMP_INTR: the device changed during the dump */
	int err;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libnl's error codes for local failures; the kernel's own errno arrives in on_error. */
static int
nlerr_to_errno(int e)
{
	switch (e < 0 ? -e : e) {
	case NLE_AGAIN:
		return -ETIMEDOUT;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_DUMP_INTR:
		return -EINTR;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
	case NLE_OPNOTSUPP:
		return -ENODEV;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_INVAL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* What the kernel says about an interface: "not a WireGuard link" is no such device too. */
static int
kernel_errno(int e)
{
	if (e > 0)
		e = -e;
	return e == -EOPNOTSUPP ? -ENODEV : e;
}

static int
on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nl_ctx *ctx = arg;

	ctx->err = kernel_errno(e->error);
	ctx->done = true;
	return NL_STOP;
}

static int
on_ack(struct nl_msg *msg, void *arg)
{
	struct nl_ctx *ctx = arg;

	ctx->done = true;
	return NL_STOP;
}

static int
on_finish(struct nl_msg *msg, void *arg)
{
	struct nl_ctx *ctx = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	int e;

	/* The dump's NLMSG_DONE carries the error of the dump, or 0. */
	if (nlmsg_datalen(nlh) >= (int)sizeof(e)) {
		memcpy(&e, nlmsg_data(nlh), sizeof(e));
		if (e != 0 && ctx->err == 0)
			ctx->err = kernel_errno(e);
	}
	ctx->done = true;
	return NL_STOP;
}

static int
on_dump_intr(struct nl_msg *msg, void *arg)
{
	struct nl_ctx *ctx = arg;

	ctx->interrupted = true;
	return NL_OK;
}

static int
on_valid(struct nl_msg *msg, void *arg)
{
	struct nl_ctx *ctx = arg;
	int rc;

	if (ctx->dev == NULL || ctx->err != 0)
		return NL_SKIP;
	if ((rc = wg_kernel_parse(nlmsg_hdr(msg), ctx->dev)) < 0) {
		ctx->err = rc;
		return NL_STOP;
	}
	return NL_OK;
}

/* Opens a generic netlink socket with timeouts and resolves the family. Returns 0 and
 * *sockp, *family, or -ENODEV (no wireguard family: the module is not loaded) / -errno. */
static int
kernel_open(struct nl_sock **sockp, int *family)
{
	struct timeval tv = { .tv_sec = KERNEL_IO_TIMEOUT_S };
	struct nl_sock *sock;
	int rc;

	*sockp = NULL;
	if ((sock = nl_socket_alloc()) == NULL)
		return -ENOMEM;
	if ((rc = genl_connect(sock)) < 0) {
		rc = nlerr_to_errno(rc);
		goto fail;
	}
	if (setsockopt(nl_socket_get_fd(sock), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(nl_socket_get_fd(sock), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		rc = -errno;
		goto fail;
	}
	nl_socket_enable_msg_peek(sock);
	if ((*family = genl_ctrl_resolve(sock, WG_GENL_NAME)) < 0) {
		rc = -ENODEV;
		goto fail;
	}
	*sockp = sock;
	return 0;
fail:
	nl_socket_free(sock);
	return rc;
}

/* Receives until ctx->done, an error or the deadline. */
static int
kernel_wait(struct nl_sock *sock, struct nl_cb *cb, struct nl_ctx *ctx, int64_t deadline)
{
	int rc;

	while (!ctx->done && ctx->err == 0) {
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		rc = nl_recvmsgs(sock, cb);
		if (ctx->err != 0 || ctx->done)
			break;
		if (rc < 0)
			return nlerr_to_errno(rc);
	}
	return ctx->err;
}

static struct nl_cb *
kernel_cb(struct nl_ctx *ctx)
{
	struct nl_cb *cb;

	if ((cb = nl_cb_alloc(NL_CB_DEFAULT)) == NULL)
		return NULL;
	nl_cb_err(cb, NL_CB_CUSTOM, on_error, ctx);
	nl_cb_set(cb, NL_CB_ACK, NL_CB_CUSTOM, on_ack, ctx);
	nl_cb_set(cb, NL_CB_FINISH, NL_CB_CUSTOM, on_finish, ctx);
	nl_cb_set(cb, NL_CB_DUMP_INTR, NL_CB_CUSTOM, on_dump_intr, ctx);
	nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, on_valid, ctx);
	return cb;
}

/* One dump; -EINTR when the kernel says the device changed meanwhile. */
static int
kernel_get_once(struct nl_sock *sock, int family, const char *ifname, struct wg_device **out)
{
	struct nl_ctx ctx = { 0 };
	struct nl_msg *msg = NULL;
	struct nl_cb *cb = NULL;
	int rc;

	if ((ctx.dev = calloc(1, sizeof(*ctx.dev))) == NULL ||
	    (msg = nlmsg_alloc()) == NULL || (cb = kernel_cb(&ctx)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_REQUEST | NLM_F_DUMP,
	        WG_CMD_GET_DEVICE, WG_GENL_VERSION) == NULL ||
	    nla_put_string(msg, WGDEVICE_A_IFNAME, ifname) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = nl_send_auto(sock, msg)) < 0) {
		rc = nlerr_to_errno(rc);
		goto out;
	}
	rc = kernel_wait(sock, cb, &ctx, now_ms() + KERNEL_TOTAL_TIMEOUT_S * 1000);
	if (rc == 0 && ctx.interrupted)
		rc = -EINTR;
	if (rc == 0 && ctx.dev->ifname[0] == '\0')
		snprintf(ctx.dev->ifname, sizeof(ctx.dev->ifname), "%s", ifname);
out:
	nl_cb_put(cb);
	nlmsg_free(msg);
	if (rc == 0)
		*out = ctx.dev;
	else
		wg_device_free(ctx.dev);
	return rc;
}

int
wg_kernel_get(const char *ifname, struct wg_device **out)
{
	struct nl_sock *sock = NULL;
	int family, rc, tries;

	*out = NULL;
	if ((rc = kernel_open(&sock, &family)) < 0)
		return rc;
	for (tries = 0; tries < KERNEL_DUMP_RETRIES; tries++) {
		/* A fresh socket per try: an interrupted dump may leave messages behind. */
		if (tries > 0) {
			nl_socket_free(sock);
			if ((rc = kernel_open(&sock, &family)) < 0)
				return rc;
		}
		rc = kernel_get_once(sock, family, ifname, out);
		if (rc != -EINTR)
			break;
	}
	nl_socket_free(sock);
	return rc == -EINTR ? -EAGAIN : rc;
}

int
wg_kernel_set(const struct wg_device *dev)
{
	struct nl_msg **msgs = NULL;
	struct nl_sock *sock = NULL;
	struct nl_cb *cb = NULL;
	struct nl_ctx ctx = { 0 };
	int64_t deadline = now_ms() + KERNEL_TOTAL_TIMEOUT_S * 1000;
	size_t n = 0, i;
	int family, rc;

	if ((rc = wg_kernel_check_set(dev)) < 0 || dev->n_peers == 0)
		return rc;
	if ((rc = kernel_open(&sock, &family)) < 0)
		return rc;
	if ((rc = wg_kernel_build_set(family, dev, WG_NL_MSG_MAX, &msgs, &n)) < 0)
		goto out;
	if ((cb = kernel_cb(&ctx)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		ctx.done = false;
		if ((rc = nl_send_auto(sock, msgs[i])) < 0) {
			rc = nlerr_to_errno(rc);
			goto out;
		}
		if ((rc = kernel_wait(sock, cb, &ctx, deadline)) < 0)
			goto out;
	}
	if (n > 1)
		log_debug("wg netlink: %s: %zu peers set in %zu messages", dev->ifname,
		    dev->n_peers, n);
out:
	nl_cb_put(cb);
	wg_kernel_msgs_free(msgs, n);
	nl_socket_free(sock);
	return rc;
}

int
wg_kernel_set_private_key(const char *ifname, const uint8_t key[WG_KEY_LEN])
{
	struct nl_sock *sock = NULL;
	struct nl_msg *msg = NULL;
	struct nl_cb *cb = NULL;
	struct nl_ctx ctx = { 0 };
	int family, rc;

	if ((rc = kernel_open(&sock, &family)) < 0)
		return rc;
	if ((msg = nlmsg_alloc()) == NULL || (cb = kernel_cb(&ctx)) == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if (genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, NLM_F_REQUEST | NLM_F_ACK,
	        WG_CMD_SET_DEVICE, WG_GENL_VERSION) == NULL ||
	    nla_put_string(msg, WGDEVICE_A_IFNAME, ifname) < 0 ||
	    nla_put(msg, WGDEVICE_A_PRIVATE_KEY, WG_KEY_LEN, key) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = nl_send_auto(sock, msg)) < 0) {
		rc = nlerr_to_errno(rc);
		goto out;
	}
	rc = kernel_wait(sock, cb, &ctx, now_ms() + KERNEL_TOTAL_TIMEOUT_S * 1000);
out:
	/* the message held the private key */
	if (msg != NULL)
		OPENSSL_cleanse(nlmsg_hdr(msg), nlmsg_hdr(msg)->nlmsg_len);
	nl_cb_put(cb);
	nlmsg_free(msg);
	nl_socket_free(sock);
	return rc;
}
