/* ipc_server.h - the engine side of the control channel (protocol in ipc.h).
 *
 * The server owns the listening socket and the connected clients; the loop
 * (loop.c) posts their accepts and receives on its ring and hands each received
 * datagram to ipc_server_request(), which answers at once (non-blocking sends). */
#ifndef TSK_IPC_IPC_SERVER_H
#define TSK_IPC_IPC_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/ipc.h"

struct eng;

/* What the daemon does for requests that reach beyond the engine object. */
struct ipc_server_ops {
	void *arg;
	/* IPC_INFO text ("key value\n" lines); returns its length */
	size_t (*info)(void *arg, char *buf, size_t cap);
	int (*capture_start)(void *arg, const char *path);  /* 0 or -errno */
	/* 0 or -errno; may describe the finished capture ("frames N\n") in out */
	int (*capture_stop)(void *arg, char *out, size_t cap, size_t *outlen);
	void (*quit)(void *arg);                            /* stop the loop */
};

#define IPC_MAX_CLIENTS 64

struct ipc_server;

/* Bind and listen on @tapsock/<name>. 0 and *out, or -errno (-EADDRINUSE when an
 * engine of that name already runs in this network namespace). */
int ipc_server_open(const char *name, struct eng *eng, const struct ipc_server_ops *ops,
		    struct ipc_server **out);
void ipc_server_close(struct ipc_server *srv);
/* The engine whose stats/connections are reported (it is created after the socket). */
void ipc_server_set_eng(struct ipc_server *srv, struct eng *eng);
int ipc_server_listen_fd(const struct ipc_server *srv);
/* Who answers IPC_SS: fn(arg, buf, cap) returns the text's length (as
 * tcp_format_ss). NULL (the default): tcp_format_ss itself. The socket server sets
 * it to add each connection's owning processes. */
void ipc_server_set_ss(struct ipc_server *srv, size_t (*fn)(void *arg, char *buf, size_t cap),
		       void *arg);

/* A connection accepted on the listening socket: records the peer's credentials.
 * Returns the client slot, or -errno (the fd is closed then). */
int ipc_server_add_client(struct ipc_server *srv, int fd);
int ipc_server_client_fd(const struct ipc_server *srv, int slot);
/* Where the loop receives the client's next datagram (IPC_MSG_MAX bytes). */
uint8_t *ipc_server_client_buf(struct ipc_server *srv, int slot);
void ipc_server_drop_client(struct ipc_server *srv, int slot);
/* Handle one datagram of `slot` and send the reply. Returns 0, or -errno when the
 * client must be dropped (its reply could not be sent). */
int ipc_server_request(struct ipc_server *srv, int slot, const uint8_t *msg, size_t len);

/* Pure request dispatch (for tests): the reply payload for one request, written
 * into out (cap bytes); returns the status (0 / -errno) and *outlen. `admin`
 * says whether the caller may use admin requests. */
int ipc_server_dispatch(struct ipc_server *srv, const struct ipc_hdr *req,
			const uint8_t *payload, int admin, char *out, size_t cap,
			size_t *outlen);

#endif
