/* pl_int.h - helpers shared by the preload library's own files (not for poll/epoll: use pl.h). */
#ifndef TSK_PRELOAD_PL_INT_H
#define TSK_PRELOAD_PL_INT_H

#include "preload/pl.h"

/* fd table (fdtable.c) */
PL_HIDDEN int pl__fd_set(int fd, struct pl_sock *s);      /* takes a reference of its own */
PL_HIDDEN struct pl_sock *pl__fd_take(int fd);            /* removes; returns the table's reference */
PL_HIDDEN struct pl_sock *pl__sock_new(void *shm, size_t size);  /* refs 1 */
/* fd (a placeholder of s) is about to be closed while others may still use s's
 * memory: hold a copy of it until the last reference is put, so that the engine
 * sees the last close only after the memory is unmapped (psock.h "Reuse"). */
PL_HIDDEN void pl__sock_keep(struct pl_sock *s, int fd);
PL_HIDDEN void pl__sock_lock(struct pl_sock *s);
PL_HIDDEN void pl__sock_unlock(struct pl_sock *s);
/* wait for a token on the placeholder: kernel recv(MSG_PEEK), restarted by the
 * kernel as SA_RESTART says, SO_RCVTIMEO of the placeholder applies (-EAGAIN) */
PL_HIDDEN int pl__wait_token(struct pl_sock *s, int fd, unsigned events);
PL_HIDDEN void pl__doorbell(int fd);
/* The CPU the program writes its send ring from, for the engine (psock.h app_cpu). */
PL_HIDDEN void pl__note_cpu(struct psock_shm *sh);
/* pl_sock_wait() timeout: block in the kernel, the placeholder's SO_RCVTIMEO (the
 * socket's receive timeout, mirrored there) ends the wait with -EAGAIN */
#define PL_WAIT_RCVTIMEO (-2)

/* the engine connection (ipc.c) */
struct pl_reply {
	int status;
	unsigned flags;                 /* the reply's ipc_hdr.flags (PSOCK_F_ARMED) */
	uint8_t data[IPC_PAYLOAD_MAX];
	size_t len;
	int fds[2 * PSOCK_ACCEPT_MAX];  /* PSOCK_ACCEPT's batch: 2 per connection */
	int nfds;
};
/* One request about placeholder fd (-1: none). 0 and *rep (status inside), or -errno
 * when the engine cannot be reached (-ENETDOWN: none runs, -ECONNRESET: it died). */
PL_HIDDEN int pl__call(uint16_t type, int fd, const void *payload, size_t len, struct pl_reply *rep);
/* Send a request about fd without waiting for the outcome (psock.h PSOCK_F_NOREPLY):
 * only for requests that cannot fail. 0, or -errno as pl__call. */
PL_HIDDEN int pl__post(uint16_t type, int fd, const void *payload, size_t len);
/* The same with a second fd attached (PSOCK_LINGER). */
PL_HIDDEN int pl__call2(uint16_t type, int fd, int fd2, const void *payload, size_t len,
			struct pl_reply *rep);
PL_HIDDEN void pl__rep_close_fds(struct pl_reply *rep);
PL_HIDDEN int pl__ctl_fd(void);           /* our connection's fd, -1 when none */
PL_HIDDEN void pl__ctl_forget(int fd);    /* the program closed fd: if it was ours, forget it */
PL_HIDDEN pid_t pl__engine_pid(void);     /* connects if needed; 0 when no engine */
PL_HIDDEN void pl__ipc_atfork_child(void);
/* Read what the engine pushed (psock.h PSOCK_ACCEPT_PUSH) from our connection
 * without waiting, at most max messages (0: all): each PSOCK_PUSHED goes to
 * pl__accq_pushed. */
PL_HIDDEN void pl__ctl_drain(int max);
/* A PSOCK_PUSHED's payload and fds (taken: kept with its listener or closed). */
PL_HIDDEN void pl__accq_pushed(const uint8_t *p, size_t len, const int *fds, int nfds) __attribute__((weak));

/* sockets (sock.c) */
/* The listener's last reference is gone: close the connections it took from the
 * engine and no accept() returned (psock.h PSOCK_ACCEPT_MAX). */
PL_HIDDEN void pl__accq_drop(struct pl_sock *s) __attribute__((weak));  /* weak: the fd table's unit test links without sock.c */
PL_HIDDEN struct pl_sock *pl__attach(int fd, int memfd, const struct psock_info *info);
PL_HIDDEN void pl__adopt(int fd);         /* fd arrived (exec, SCM_RIGHTS): ours? attach */

#endif
