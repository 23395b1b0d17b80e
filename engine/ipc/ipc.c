/* ipc.c - control protocol wire format: length-checked parse and emit (see ipc.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "ipc/ipc.h"

const char *ipc_type_name(uint16_t type)
{
	switch (type) {
	case IPC_PING: return "ping";
	case IPC_INFO: return "info";
	case IPC_STATS: return "stats";
	case IPC_CAPTURE_START: return "capture-start";
	case IPC_CAPTURE_STOP: return "capture-stop";
	case IPC_QUIT: return "quit";
	case IPC_SS: return "ss";
	default: return "unknown";
	}
}

int ipc_parse(const void *msg, size_t msglen, struct ipc_hdr *h, const uint8_t **payload)
{
	if (!msg || msglen < IPC_HDR_LEN)
		return -EINVAL;
	memcpy(h, msg, IPC_HDR_LEN);
	if (h->magic != IPC_MAGIC)
		return -EINVAL;
	/* the datagram is the message: a length that disagrees means truncation or garbage */
	if ((size_t)h->len != msglen - IPC_HDR_LEN)
		return -EINVAL;
	if (payload)
		*payload = (const uint8_t *)msg + IPC_HDR_LEN;
	return 0;
}

int ipc_emit(void *buf, size_t cap, const struct ipc_hdr *h, const void *payload)
{
	struct ipc_hdr out = *h;

	if (cap < IPC_HDR_LEN || (size_t)h->len > cap - IPC_HDR_LEN)
		return -EMSGSIZE;
	out.magic = IPC_MAGIC;
	memcpy(buf, &out, IPC_HDR_LEN);
	if (h->len)
		memcpy((uint8_t *)buf + IPC_HDR_LEN, payload, h->len);
	return (int)(IPC_HDR_LEN + h->len);
}

int ipc_addr(const char *name, struct sockaddr_un *sa)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	/* abstract: sun_path[0] = '\0', the name follows without a terminator */
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "tapsock/%s", name);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path) - 1 || !name[0] || strchr(name, '/'))
		return n < 0 || (size_t)n >= sizeof(sa->sun_path) - 1 ? -ENAMETOOLONG : -EINVAL;
	return (int)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}
