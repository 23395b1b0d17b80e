/* ipc.h - the control channel protocol between tapsockd and its clients (no RFC: ours).
 *
 * Transport: AF_UNIX SOCK_SEQPACKET on the ABSTRACT address "\0tapsock/<name>".
 * Abstract names live in the network namespace, so engines in different
 * namespaces coexist and a process finds the engine of its own namespace (also
 * after chroot). One message = struct ipc_hdr + `len` bytes of payload, in one
 * datagram. Fields are in host byte order: both ends are on the same host.
 *
 * A request carries a type and a seq chosen by the client; every reply echoes
 * both, with status 0 or -errno. A reply too large for one message is split over
 * several, all but the last flagged IPC_F_MORE. A malformed request is answered
 * with -EINVAL, an unknown type with -ENOSYS; the server never trusts a length.
 * Admin requests (capture, quit) need SO_PEERCRED uid 0 or the engine's own uid. */
#ifndef TSK_IPC_IPC_H
#define TSK_IPC_IPC_H

#include <stddef.h>
#include <stdint.h>

/* 'T','S','K','1' in memory order */
#define IPC_MAGIC ((uint32_t)'T' | (uint32_t)'S' << 8 | (uint32_t)'K' << 16 | (uint32_t)'1' << 24)

struct ipc_hdr {
	uint32_t magic;   /* IPC_MAGIC */
	uint16_t type;    /* enum ipc_type */
	uint16_t flags;   /* IPC_F_* */
	uint32_t seq;     /* chosen by the client, echoed in the reply */
	int32_t status;   /* replies: 0 or -errno; requests: 0 */
	uint32_t len;     /* payload bytes after the header */
};
_Static_assert(sizeof(struct ipc_hdr) == 20, "ipc_hdr is 20 bytes on the wire");

#define IPC_HDR_LEN ((size_t)sizeof(struct ipc_hdr))
/* Largest datagram either side sends (header included); payloads beyond are split. */
#define IPC_MSG_MAX 16384u
#define IPC_PAYLOAD_MAX (IPC_MSG_MAX - IPC_HDR_LEN)

enum { IPC_F_MORE = 1 << 0 };  /* more parts of this reply follow */

/* Request types. 1-63: engine administration; 64 and up: socket operations of
 * the preload library. Numbers are never reused. */
enum ipc_type {
	IPC_PING          = 1,  /* -> empty reply */
	IPC_INFO          = 2,  /* -> text "key value\n" lines */
	IPC_STATS         = 3,  /* payload u32 all (optional, 0) -> stats_format() text */
	IPC_CAPTURE_START = 4,  /* payload: file path (admin) -> empty */
	IPC_CAPTURE_STOP  = 5,  /* (admin) -> empty */
	IPC_QUIT          = 6,  /* (admin) -> empty, then the engine exits */
	IPC_SS            = 7,  /* -> text, one line per connection (TCP fills it) */
	IPC_ADMIN_LAST    = 63,
	IPC_SOCK_FIRST    = 64, /* reserved for the preload library */
};

const char *ipc_type_name(uint16_t type);

/* Length-checked parse of one datagram: 0 and *h, *payload filled, or -EINVAL when
 * it is shorter than the header, has a wrong magic, or len disagrees with the
 * datagram size. */
int ipc_parse(const void *msg, size_t msglen, struct ipc_hdr *h, const uint8_t **payload);
/* Write header + payload into buf (cap bytes). Returns bytes written or -EMSGSIZE. */
int ipc_emit(void *buf, size_t cap, const struct ipc_hdr *h, const void *payload);

/* Socket address of engine `name` (abstract). Returns the address length to pass
 * to bind/connect, or -ENAMETOOLONG. */
struct sockaddr_un;
int ipc_addr(const char *name, struct sockaddr_un *sa);

/* ---- client side (ipc_client.c, library ipc_client_lib) ---- */

struct ipc_reply {
	int32_t status;   /* status of the last part */
	char *data;       /* all payload parts concatenated, NUL-terminated; free() it */
	size_t len;
};

/* Connect to engine `name` in this network namespace. fd or -errno
 * (-ECONNREFUSED / -ENOENT when no engine of that name runs). */
int ipc_connect(const char *name);
/* Send one request and collect the whole (possibly multi-part) reply, waiting at
 * most timeout_ms (<0: forever). 0 when a reply came (its status in rep->status),
 * -errno on transport failure (-ETIMEDOUT, -ECONNRESET, -EPROTO). */
int ipc_request(int fd, uint16_t type, const void *payload, size_t len,
		struct ipc_reply *rep, int timeout_ms);
/* connect + request + close. */
int ipc_call(const char *name, uint16_t type, const void *payload, size_t len,
	     struct ipc_reply *rep, int timeout_ms);
void ipc_reply_free(struct ipc_reply *rep);

#endif
