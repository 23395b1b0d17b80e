/* ipc_server.c - the control channel, engine side (protocol in ipc.h; unix(7),
 * SO_PEERCRED in socket(7)). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/log.h"
#include "eng.h"
#include "ipc/ipc_server.h"
#include "tcp/tcp_sock.h"

/* IPC_SS is answered by the TCP stack's tcp_format_ss() (tcp/tcp_sock.h). Weak, so
 * that the server also links without the TCP core and answers -ENOSYS then. */
#pragma weak tcp_format_ss

/* tapsock ss at 10 000 sockets is about 1.6 MB */
#define REPLY_MAX (4u << 20)

struct ipc_client {
	int fd;               /* -1: free slot */
	struct ucred cred;
	uint8_t *buf;         /* IPC_MSG_MAX */
};

struct ipc_server {
	int lfd;
	struct eng *eng;
	struct ipc_server_ops ops;
	char *reply;          /* REPLY_MAX */
	size_t (*ss_fn)(void *arg, char *buf, size_t cap);  /* IPC_SS, NULL: tcp_format_ss */
	void *ss_arg;
	struct ipc_client cl[IPC_MAX_CLIENTS];
};

int ipc_server_open(const char *name, struct eng *eng, const struct ipc_server_ops *ops,
		    struct ipc_server **out)
{
	struct ipc_server *srv;
	struct sockaddr_un sa;
	int alen = ipc_addr(name, &sa), err;

	*out = NULL;
	if (alen < 0)
		return alen;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->eng = eng;
	if (ops)
		srv->ops = *ops;
	for (int i = 0; i < IPC_MAX_CLIENTS; i++)
		srv->cl[i].fd = -1;
	srv->reply = malloc(REPLY_MAX);
	srv->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!srv->reply || srv->lfd < 0) {
		err = srv->reply ? -errno : -ENOMEM;
		goto fail;
	}
	if (bind(srv->lfd, (struct sockaddr *)&sa, (socklen_t)alen) < 0 ||
	    listen(srv->lfd, 64) < 0) {
		err = -errno;
		goto fail;
	}
	*out = srv;
	return 0;
fail:
	ipc_server_close(srv);
	return err;
}

void ipc_server_close(struct ipc_server *srv)
{
	if (!srv)
		return;
	for (int i = 0; i < IPC_MAX_CLIENTS; i++)
		ipc_server_drop_client(srv, i);
	if (srv->lfd >= 0)
		close(srv->lfd);
	free(srv->reply);
	free(srv);
}

void ipc_server_set_eng(struct ipc_server *srv, struct eng *eng) { srv->eng = eng; }

int ipc_server_listen_fd(const struct ipc_server *srv) { return srv->lfd; }

void ipc_server_set_ss(struct ipc_server *srv, size_t (*fn)(void *arg, char *buf, size_t cap),
		       void *arg)
{
	srv->ss_fn = fn;
	srv->ss_arg = arg;
}

int ipc_server_add_client(struct ipc_server *srv, int fd)
{
	socklen_t clen = sizeof(struct ucred);
	int slot = -1;

	for (int i = 0; i < IPC_MAX_CLIENTS; i++)
		if (srv->cl[i].fd < 0) {
			slot = i;
			break;
		}
	if (slot < 0) {
		log_warn("control: too many clients, refusing one");
		close(fd);
		return -EMFILE;
	}
	struct ipc_client *c = &srv->cl[slot];
	if (!c->buf)
		c->buf = malloc(IPC_MSG_MAX);
	if (!c->buf || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c->cred, &clen) < 0) {
		int err = c->buf ? -errno : -ENOMEM;
		close(fd);
		return err;
	}
	c->fd = fd;
	/* a whole reply fits in the socket (the loop never waits for a reader and drops
	 * a client whose socket is full); root may go above wmem_max */
	int sz = (int)REPLY_MAX;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	log_debug("control: client pid %d uid %d", (int)c->cred.pid, (int)c->cred.uid);
	return slot;
}

int ipc_server_client_fd(const struct ipc_server *srv, int slot) { return srv->cl[slot].fd; }
uint8_t *ipc_server_client_buf(struct ipc_server *srv, int slot) { return srv->cl[slot].buf; }

void ipc_server_drop_client(struct ipc_server *srv, int slot)
{
	struct ipc_client *c = &srv->cl[slot];

	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

static int needs_admin(uint16_t type)
{
	return type == IPC_CAPTURE_START || type == IPC_CAPTURE_STOP || type == IPC_QUIT;
}

int ipc_server_dispatch(struct ipc_server *srv, const struct ipc_hdr *req,
			const uint8_t *payload, int admin, char *out, size_t cap,
			size_t *outlen)
{
	char path[4096];

	*outlen = 0;
	if (cap)
		out[0] = '\0';
	if (needs_admin(req->type) && !admin)
		return -EPERM;
	switch (req->type) {
	case IPC_PING:
		return req->len == 0 ? 0 : -EINVAL;
	case IPC_INFO:
		if (req->len)
			return -EINVAL;
		if (srv->ops.info)
			*outlen = srv->ops.info(srv->ops.arg, out, cap);
		return 0;
	case IPC_STATS: {
		uint32_t all = 0;

		if (req->len != 0 && req->len != sizeof(all))
			return -EINVAL;
		if (req->len)
			memcpy(&all, payload, sizeof(all));
		if (!srv->eng)
			return -ENOSYS;
		*outlen = stats_format(&srv->eng->stats, all != 0, out, cap);
		return 0;
	}
	case IPC_CAPTURE_START: {
		/* a path: non-empty, no NUL inside (one may end it) */
		size_t sl = req->len ? strnlen((const char *)payload, req->len) : 0;

		if (sl == 0 || sl >= sizeof(path) || (sl != req->len && sl != req->len - 1))
			return -EINVAL;
		memcpy(path, payload, sl);
		path[sl] = '\0';
		return srv->ops.capture_start ? srv->ops.capture_start(srv->ops.arg, path) : -ENOSYS;
	}
	case IPC_CAPTURE_STOP:
		if (req->len)
			return -EINVAL;
		return srv->ops.capture_stop ? srv->ops.capture_stop(srv->ops.arg, out, cap, outlen)
					      : -ENOSYS;
	case IPC_QUIT:
		if (req->len)
			return -EINVAL;
		return srv->ops.quit ? 0 : -ENOSYS;   /* quits after the reply is sent */
	case IPC_SS:
		if (req->len)
			return -EINVAL;
		if (srv->ss_fn)
			*outlen = srv->ss_fn(srv->ss_arg, out, cap);
		else if (!tcp_format_ss || !srv->eng)
			return -ENOSYS;
		else
			*outlen = tcp_format_ss(srv->eng, out, cap);
		if (*outlen >= cap)
			*outlen = cap ? cap - 1 : 0;
		return 0;
	default:
		return -ENOSYS;
	}
}

/* Send status and payload as one or more datagrams, IPC_F_MORE on all but the last. */
static int send_reply(int fd, const struct ipc_hdr *req, int status, const char *data,
		      size_t len)
{
	uint8_t msg[IPC_MSG_MAX];
	size_t off = 0;

	do {
		size_t part = len - off > IPC_PAYLOAD_MAX ? IPC_PAYLOAD_MAX : len - off;
		struct ipc_hdr h = {
			.type = req->type, .seq = req->seq, .status = status,
			.flags = off + part < len ? IPC_F_MORE : 0, .len = (uint32_t)part,
		};
		int n = ipc_emit(msg, sizeof(msg), &h, data + off);

		if (n < 0)
			return n;
		/* never block the loop on a slow client: a full socket drops it */
		if (send(fd, msg, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n)
			return errno ? -errno : -EIO;
		off += part;
	} while (off < len);
	return 0;
}

int ipc_server_request(struct ipc_server *srv, int slot, const uint8_t *msg, size_t len)
{
	struct ipc_client *c = &srv->cl[slot];
	struct ipc_hdr req;
	const uint8_t *payload;
	size_t outlen = 0;
	int status, err, admin;

	if (ipc_parse(msg, len, &req, &payload) < 0) {
		/* answer what we can read of it; a garbled header gets type 0 seq 0 */
		struct ipc_hdr bad = { 0 };

		if (len >= IPC_HDR_LEN) {
			memcpy(&bad, msg, IPC_HDR_LEN);
			bad.len = 0;
		}
		log_debug("control: malformed request (%zu bytes) from pid %d", len, (int)c->cred.pid);
		return send_reply(c->fd, &bad, -EINVAL, NULL, 0);
	}
	admin = c->cred.uid == 0 || c->cred.uid == getuid();
	status = ipc_server_dispatch(srv, &req, payload, admin, srv->reply, REPLY_MAX, &outlen);
	log_debug("control: %s from pid %d: %d", ipc_type_name(req.type), (int)c->cred.pid, status);
	err = send_reply(c->fd, &req, status, srv->reply, outlen);
	if (req.type == IPC_QUIT && status == 0)
		srv->ops.quit(srv->ops.arg);
	return err;
}
