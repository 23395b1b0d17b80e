/* test_fdtable.c - the preload library's fd table and readiness from shared memory, without an engine (psock.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "preload/pl_int.h"

static struct psock_shm *fake_shm(size_t *size)
{
	*size = PSOCK_HDR_SIZE + 2 * 4096;
	struct psock_shm *sh = mmap(NULL, *size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert(sh != MAP_FAILED);
	sh->magic = PSOCK_SHM_MAGIC;
	sh->version = PSOCK_VERSION;
	sh->rx_off = PSOCK_HDR_SIZE;
	sh->rx_size = 4096;
	sh->tx_off = PSOCK_HDR_SIZE + 4096;
	sh->tx_size = 4096;
	sh->domain = AF_INET;
	return sh;
}

Test(pl_fdtable, unknown_fds_are_not_ours)
{
	cr_assert_null(pl_fd_get(0));
	cr_assert_null(pl_fd_get(-1));
	cr_assert_null(pl_fd_get(1 << 21));
	cr_assert(!pl_fd_is_sock(5));
}

Test(pl_fdtable, set_get_dup_and_close_keep_references)
{
	size_t size;
	struct psock_shm *sh = fake_shm(&size);
	struct pl_sock *s = pl__sock_new(sh, size);

	cr_assert_not_null(s);
	cr_assert_eq(pl__fd_set(40, s), 0);
	cr_assert_eq(pl__fd_set(41, s), 0);   /* a dup */
	pl_sock_put(s);                        /* only the table holds it now */
	cr_assert_eq(atomic_load(&s->refs), 2);
	struct pl_sock *g = pl_fd_get(41);
	cr_assert_eq(g, s);
	cr_assert_eq(atomic_load(&s->refs), 3);
	pl_sock_put(g);
	pl_sock_put(pl__fd_take(40));
	cr_assert_null(pl_fd_get(40));
	cr_assert(pl_fd_is_sock(41));
	cr_assert_eq(atomic_load(&s->refs), 1);
	pl_sock_put(pl__fd_take(41));          /* last: unmapped, back on the free list */
	cr_assert_null(pl_fd_get(41));
	cr_assert_eq(atomic_load(&s->refs), 0);
}

Test(pl_fdtable, readiness_from_the_rings_and_state)
{
	size_t size;
	struct psock_shm *sh = fake_shm(&size);
	struct pl_sock *s = pl__sock_new(sh, size);

	cr_assert_eq(pl_sock_events(s), 0, "a fresh socket in no state is not ready");
	atomic_store(&sh->state, PSOCK_ST_SENDABLE);
	cr_assert(pl_sock_events(s) & POLLOUT);
	cr_assert(!(pl_sock_events(s) & POLLIN));
	atomic_store(&sh->tx.head, 4096);      /* send ring full: not writable */
	cr_assert(!(pl_sock_events(s) & POLLOUT));
	atomic_store(&sh->rx.head, 10);        /* bytes to read */
	cr_assert(pl_sock_events(s) & (POLLIN | POLLRDNORM));
	atomic_store(&sh->rx.tail, 10);
	cr_assert(!(pl_sock_events(s) & POLLIN));
	atomic_store(&sh->ev, POLLIN | POLLRDHUP);   /* EOF published by the engine */
	cr_assert(pl_sock_events(s) & POLLRDHUP);
	atomic_store(&sh->so_error, 104);
	cr_assert(pl_sock_events(s) & POLLERR);
	atomic_store(&s->dead, true);
	cr_assert_eq(pl_sock_events(s) & (POLLERR | POLLHUP), POLLERR | POLLHUP);
	pl_sock_put(s);
}

Test(pl_fdtable, arming_counts_waiters_per_direction)
{
	size_t size;
	struct psock_shm *sh = fake_shm(&size);
	struct pl_sock *s = pl__sock_new(sh, size);

	pl_sock_arm(s, POLLIN);
	pl_sock_arm(s, POLLOUT);
	pl_sock_arm(s, POLLIN | POLLOUT);
	pl_sock_arm(s, 0);                     /* errors only: counts as a reader */
	cr_assert_eq(atomic_load(&sh->wait_in), 3);
	cr_assert_eq(atomic_load(&sh->wait_out), 2);
	pl_sock_disarm(s, POLLIN);
	pl_sock_disarm(s, POLLOUT);
	pl_sock_disarm(s, POLLIN | POLLOUT);
	pl_sock_disarm(s, 0);
	cr_assert_eq(atomic_load(&sh->wait_in), 0);
	cr_assert_eq(atomic_load(&sh->wait_out), 0);
	pl_sock_put(s);
}

Test(pl_fdtable, drain_reads_tokens_and_sees_engine_eof)
{
	size_t size;
	struct psock_shm *sh = fake_shm(&size);
	struct pl_sock *s = pl__sock_new(sh, size);
	int sv[2];

	pl_real_init();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	atomic_store(&sh->tok_pending, 1);
	cr_assert_eq(send(sv[0], "T", 1, 0), 1);
	cr_assert_eq(send(sv[0], "T", 1, 0), 1);
	cr_assert_eq(pl_sock_drain(s, sv[1]), 2);
	cr_assert_eq(atomic_load(&sh->tok_pending), 0, "the next token is allowed after a drain");
	cr_assert(!atomic_load(&s->dead));
	close(sv[0]);
	pl_sock_drain(s, sv[1]);
	cr_assert(atomic_load(&s->dead), "EOF on the placeholder means the engine is gone");
	close(sv[1]);
	pl_sock_put(s);
}

/* Another thread of ours drained the token that announced bytes before this
 * thread counted itself as a sleeper (so the drainer did not ring for it): the
 * wait must see the bytes instead of sleeping with nothing coming. Before the
 * look after counting, this recv(MSG_PEEK) on an empty placeholder never
 * returned (preload-procs hung on it now and then). A 2 s SO_RCVTIMEO turns a
 * regression into a failure instead of a hang. */
Test(pl_fdtable, a_sleeper_whose_token_another_thread_drained_does_not_sleep)
{
	size_t size;
	struct psock_shm *sh = fake_shm(&size);
	struct pl_sock *s = pl__sock_new(sh, size);
	struct timeval tv = { 2, 0 };
	int sv[2];

	pl_real_init();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	cr_assert_eq(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	atomic_store(&sh->state, PSOCK_ST_SENDABLE | PSOCK_ST_WAS_CONN);
	atomic_store(&sh->rx.head, 10);   /* published, its token already drained */
	cr_assert_eq(pl__wait_token(s, sv[1], POLLIN), 0, "slept although bytes were there");
	cr_assert_eq(atomic_load(&sh->blk_in), 0, "the sleeper count is given back");
	/* nothing ready, no token: it sleeps (and the timeout ends it here) */
	atomic_store(&sh->rx.tail, 10);
	cr_assert_eq(pl__wait_token(s, sv[1], POLLIN), -EAGAIN);
	/* a drainer that takes a token while a sleeper is counted and what it
	 * announced is ready rings the doorbell: the engine sends the next token */
	atomic_store(&sh->rx.head, 20);
	atomic_store(&sh->blk_in, 1);
	cr_assert_eq(send(sv[1], "T", 1, 0), 1);
	cr_assert_eq(pl_sock_drain(s, sv[0]), 1);
	char d = 0;
	cr_assert_eq(recv(sv[1], &d, 1, MSG_DONTWAIT), 1, "no doorbell for the counted sleeper");
	cr_assert_eq(d, PSOCK_MSG_DOORBELL);
	close(sv[0]);
	close(sv[1]);
	pl_sock_put(s);
}

/* POLLOUT for a writer, on both sides (psock_tx_writable): as Linux's
 * sk_stream_is_writeable, a third of the send buffer must be free — and, when
 * SO_SNDBUF is larger than the send ring, a third of the ring, or a writer is woken
 * at almost every drain of the ring by the engine. */
Test(psock, tx_writable_needs_a_third_free)
{
	struct psock_shm *sh = calloc(1, sizeof(*sh));
	const uint32_t ring = 256 * 1024, sndbuf = 4u << 20;

	cr_assert_not_null(sh);
	sh->tx_size = ring;
	atomic_store(&sh->tx_sndbuf, sndbuf);
	/* TCP's queue is nearly empty: the send buffer allows far more than the ring */
	atomic_store(&sh->tx.tail, 0);
	atomic_store(&sh->tx.head, ring);            /* the ring is full */
	atomic_store(&sh->tx_end, 3u << 20);
	cr_assert_not(psock_tx_writable(sh), "a full ring is not writable");
	atomic_store(&sh->tx.tail, 4096);            /* the engine moved 4 KiB out */
	cr_assert_not(psock_tx_writable(sh), "4 KiB free of 256 is not enough");
	atomic_store(&sh->tx.tail, ring / 3 + 1);    /* a third of the ring free */
	cr_assert(psock_tx_writable(sh));
	/* the send buffer itself is the limit: a third of SO_SNDBUF must be free */
	atomic_store(&sh->tx.tail, ring);            /* ring empty */
	atomic_store(&sh->tx_end, ring + sndbuf / 4);
	cr_assert_not(psock_tx_writable(sh), "a quarter of SO_SNDBUF free is not enough");
	atomic_store(&sh->tx_end, ring + sndbuf / 3 + 1);
	cr_assert(psock_tx_writable(sh));
	/* no send buffer published: the ring alone */
	atomic_store(&sh->tx_sndbuf, 0);
	atomic_store(&sh->tx.head, ring + ring);     /* full again */
	cr_assert_not(psock_tx_writable(sh));
	free(sh);
}
