/* loop.h - the engine's event loop: one io_uring for TAP reads and writes, the
 * timer, signals and the control channel (io_uring_enter(2), io_uring_register(2)
 * IORING_REGISTER_PBUF_RING; DESIGN decision 4).
 *
 * One loop turn: reap every completion (frames go to eng_input()), eng_poll(now),
 * link_flush() (one submission for the turn's writes), then submit and wait. The
 * loop sleeps in exactly one place: io_uring_submit_and_wait(). */
#ifndef TSK_LOOP_H
#define TSK_LOOP_H

#include <stddef.h>
#include <stdint.h>

struct eng;
struct link;
struct ipc_server;
struct psock_srv;

struct loop_params {
	struct eng *eng;
	struct link *tap;         /* the TAP link (link/tap.h) */
	struct link *capture;     /* the pcap wrapper around it (eng->link), or NULL */
	struct ipc_server *ipc;   /* or NULL */
	struct psock_srv *psock;  /* the preload library's socket server, or NULL */
	void (*on_hup)(void *arg);/* SIGHUP: reopen the log */
	void *arg;
	int plain_reads;          /* use plain reads, not multishot (tests, old kernels) */
	int no_direct_reads;      /* never read frames straight into a receive ring */
	/* Adaptive polling before the loop sleeps (loop.c): the cap in microseconds;
	 * 0 never spins. LOOP_SPIN_US_DEFAULT when the caller has no opinion. */
	int spin_us;
};
#define LOOP_SPIN_US_DEFAULT 50
#define LOOP_SPIN_US_DEFAULT_STR "50"

/* Loop statistics (not engine counters): for the log and IPC_INFO. */
struct loop_stats {
	uint64_t turns;
	uint64_t rx_cqes;
	uint64_t rx_rearms;       /* multishot read re-armed (ended or ENOBUFS) */
	uint64_t rx_enobufs;
	uint64_t tx_submits;
	uint64_t timer_arms;
	uint64_t spins;           /* spins before sleeping */
	uint64_t spin_hits;       /* ... that found work (a sleep and a wake-up saved) */
	uint64_t ans_hits;        /* watches of a program's send ring that caught its answer */
	uint64_t rx_direct;       /* frames read straight towards a receive ring (loop.c) */
	uint64_t rx_split;        /* ... in two pieces, the payload left where it was read */
};

struct loop;

/* Set up the ring, the provided buffers, the signalfd. 0 and *out or -errno with a
 * sentence in err. Blocks SIGINT, SIGTERM and SIGHUP in the calling thread. */
int loop_new(const struct loop_params *p, struct loop **out, char *err, size_t errlen);
/* Run until SIGINT/SIGTERM or loop_stop(). 0, or -errno on a fatal ring error. */
int loop_run(struct loop *lp);
void loop_stop(struct loop *lp);
void loop_free(struct loop *lp);
const struct loop_stats *loop_get_stats(const struct loop *lp);
/* Which receive path runs: "multishot" or "read" (fallback). */
const char *loop_rx_mode(const struct loop *lp);
/* CLOCK_MONOTONIC in ns: the `now` of the engine. */
uint64_t loop_now(void);

#endif
