/* psock_srv.h - the engine's socket server: serves the preload library's sockets (protocol in ipc/psock.h; unix(7), memfd_create(2)).
 *
 * The server owns the listening socket "\0tapsock/<name>/sock", the processes'
 * request connections, and one placeholder pair + shared memory per socket. It
 * does its own non-blocking I/O on those fds; the loop only tells it when one is
 * readable: the server asks the loop to watch an fd under a key (watch), and the
 * loop calls psock_srv_event() with that key when the fd is readable. */
#ifndef TSK_SOCK_PSOCK_SRV_H
#define TSK_SOCK_PSOCK_SRV_H

#include <stdbool.h>
#include <stdint.h>

struct eng;
struct psock_srv;

/* How the server gets readiness from the loop. Keys fit in 56 bits. */
struct psock_srv_watch {
	void *arg;
	/* Post a (multishot) POLLIN watch on fd; psock_srv_event(key) when readable. */
	void (*watch)(void *arg, int fd, uint64_t key);
	/* Cancel it (the fd is closed right after; late events for key are ignored). */
	void (*unwatch)(void *arg, uint64_t key);
};

/* Bind "\0tapsock/<name>/sock". 0 and *out, or -errno. */
int psock_srv_open(const char *name, struct eng *eng, struct psock_srv **out);
void psock_srv_set_watch(struct psock_srv *srv, const struct psock_srv_watch *w);
int psock_srv_listen_fd(const struct psock_srv *srv);
/* A connection accepted on the listening socket (one per process). */
void psock_srv_accept(struct psock_srv *srv, int fd);
/* The loop has nothing to do before it sleeps: prepare a few placeholder pairs
 * and memories for the next sockets (bounded). */
void psock_srv_idle(struct psock_srv *srv);
/* Before the loop sleeps: the send rings of the sockets this turn's tokens woke
 * (their doorbell was turned off, psock.h). True when bytes moved: the loop goes
 * round again instead of sleeping (timers and writes of the new output). */
bool psock_srv_relook(struct psock_srv *srv);
/* After psock_srv_relook found nothing: the sockets it looked at whose program
 * runs on another CPU, whose answer the loop may watch for instead of sleeping.
 * begin turns their doorbells off and returns how many there are (0: nothing to
 * watch; with watch false it only forgets them and counts them); ready says whether one of their send rings has bytes (loads only, for
 * a spin); end, owed after every begin, moves what came and turns the doorbells
 * back on (psock.h), true when bytes moved as psock_srv_relook. */
unsigned psock_srv_answer_begin(struct psock_srv *srv, bool watch);
bool psock_srv_answer_ready(struct psock_srv *srv);
/* Reading frames straight into a receive ring (loop.c, direct reads). The ring
 * of the socket that took the last in-order payload whole: its free room from
 * where the next bytes go, up to the ring's end (false: none). Bytes written
 * there stay unseen until TCP delivers them; a frame whose payload lies there
 * already is published without a copy. */
bool psock_srv_rx_area(struct psock_srv *srv, uint8_t **at, uint32_t *len);
/* The payload bytes a receive ring took whole since the last call (0: none). */
uint32_t psock_srv_rx_took(struct psock_srv *srv);
void psock_srv_rx_forget(struct psock_srv *srv);
/* Payloads published where a direct read put them: copies saved. */
uint64_t psock_srv_rx_in_place(const struct psock_srv *srv);
bool psock_srv_answer_end(struct psock_srv *srv);
/* The fd watched under key is readable (or hung up). `ended`: the watch ended and
 * must be posted again if the fd is still in use. */
void psock_srv_event(struct psock_srv *srv, uint64_t key, bool ended);
/* Close every connection and placeholder (applications see EOF: the engine is
 * gone) and the listening socket. TCP sockets are closed as at process exit. */
void psock_srv_close(struct psock_srv *srv);
/* IPC_SS text (ipc_server_set_ss; arg is the server): tcp_format_ss() lines, each
 * connection a program holds followed by its owners as `ss -p` prints them,
 * users:(("comm",pid=N,fd=M),...). Owners are the processes seen in requests about
 * the socket (its creator or acceptor, a forked child or an exec'd program at its
 * first request, a receiver of SCM_RIGHTS at its attach); those that exited or no
 * longer hold the placeholder (/proc/PID/fd) are dropped. Returns the length. */
size_t psock_srv_format_ss(void *srv, char *buf, size_t cap);

#endif
