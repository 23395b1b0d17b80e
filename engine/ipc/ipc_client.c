/* ipc_client.c - the client side of the control channel (ipc.h): connect to an
 * engine by name, send a request, collect a multi-part reply. Used by the
 * `tapsock` command and the daemon itself (to name a running engine's pid). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc/ipc.h"

int ipc_connect(const char *name)
{
	struct sockaddr_un sa;
	int alen = ipc_addr(name, &sa);
	int fd;

	if (alen < 0)
		return alen;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, (socklen_t)alen) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int wait_readable(int fd, int timeout_ms, uint64_t start)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int left = -1, n;

	if (timeout_ms >= 0) {
		uint64_t spent = mono_ms() - start;
		left = spent >= (uint64_t)timeout_ms ? 0 : timeout_ms - (int)spent;
	}
	do
		n = poll(&p, 1, left);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

int ipc_request(int fd, uint16_t type, const void *payload, size_t len,
		struct ipc_reply *rep, int timeout_ms)
{
	static uint32_t next_seq = 1;
	uint8_t *msg = malloc(IPC_MSG_MAX);
	struct ipc_hdr h = { .type = type, .seq = next_seq++, .len = (uint32_t)len };
	uint64_t start = mono_ms();
	int n, err = 0;

	memset(rep, 0, sizeof(*rep));
	if (!msg)
		return -ENOMEM;
	if (len > IPC_PAYLOAD_MAX) {
		err = -EMSGSIZE;
		goto out;
	}
	n = ipc_emit(msg, IPC_MSG_MAX, &h, payload);
	if (send(fd, msg, (size_t)n, MSG_NOSIGNAL) != n) {
		err = errno ? -errno : -EIO;
		goto out;
	}
	for (;;) {
		struct ipc_hdr rh;
		const uint8_t *pl;
		ssize_t r;
		char *grown;

		err = wait_readable(fd, timeout_ms, start);
		if (err)
			goto out;
		r = recv(fd, msg, IPC_MSG_MAX, MSG_TRUNC);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		if (r == 0) {   /* the engine closed: it is gone or refused us */
			err = -ECONNRESET;
			goto out;
		}
		if ((size_t)r > IPC_MSG_MAX || ipc_parse(msg, (size_t)r, &rh, &pl) < 0 ||
		    rh.seq != h.seq || rh.type != type) {
			err = -EPROTO;
			goto out;
		}
		grown = realloc(rep->data, rep->len + rh.len + 1);
		if (!grown) {
			err = -ENOMEM;
			goto out;
		}
		rep->data = grown;
		memcpy(rep->data + rep->len, pl, rh.len);
		rep->len += rh.len;
		rep->data[rep->len] = '\0';
		rep->status = rh.status;
		if (!(rh.flags & IPC_F_MORE))
			break;
	}
out:
	free(msg);
	if (err) {
		ipc_reply_free(rep);
		return err;
	}
	if (!rep->data) {  /* always give the caller a string */
		rep->data = calloc(1, 1);
		if (!rep->data)
			return -ENOMEM;
	}
	return 0;
}

int ipc_call(const char *name, uint16_t type, const void *payload, size_t len,
	     struct ipc_reply *rep, int timeout_ms)
{
	int fd = ipc_connect(name), err;

	memset(rep, 0, sizeof(*rep));
	if (fd < 0)
		return fd;
	err = ipc_request(fd, type, payload, len, rep, timeout_ms);
	close(fd);
	return err;
}

void ipc_reply_free(struct ipc_reply *rep)
{
	free(rep->data);
	rep->data = NULL;
	rep->len = 0;
}
