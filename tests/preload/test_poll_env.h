/* test_poll_env.h - the world of the readiness tests (poll, select, epoll): an engine in a namespace of the test's own, the test re-run inside it under LD_PRELOAD, kernel peers beside it.
 *
 * A test file's main() is `return plenv_main(argc, argv, SUBNET, "NAME");`. Run by
 * meson, that main (the "outer" run) needs root and /dev/net/tun (else exit 77,
 * SKIP), creates namespace tskpl-NAME-PID with `tapsock up` (engine 10.77.SUBNET.2,
 * kernel side of the TAP 10.77.SUBNET.1), re-runs the same binary inside it with
 * `tapsock run` (so libtapsock.so is preloaded as for any user program), and
 * removes the namespace and the engine at the end, also when killed by a timeout.
 * The inner run is a plain Criterion run. There, socket() gives tapsock sockets;
 * the kernel peers are made with raw system calls (k_*), which the preload
 * library cannot see. */
#ifndef TSK_TESTS_PRELOAD_TEST_POLL_ENV_H
#define TSK_TESTS_PRELOAD_TEST_POLL_ENV_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

int plenv_main(int argc, char **argv, int subnet, const char *name);

/* Inner run: the addresses (network order). */
uint32_t plenv_kaddr(void);  /* kernel side of the TAP, 10.77.N.1 */
uint32_t plenv_eaddr(void);  /* the engine, 10.77.N.2 */

/* Kernel sockets, by raw syscalls (never tapsock's). rcvbuf > 0 sets SO_RCVBUF
 * before listen. Each aborts the test on failure. */
int k_listen(uint32_t addr, uint16_t port, int rcvbuf);
/* The port a kernel socket is bound to (port 0 picks a free one). */
uint16_t k_port(int lfd);
int k_accept(int lfd);
int k_connect(uint32_t addr, uint16_t port);
/* A port nobody listens on at addr (kernel side): bind+close through syscalls. */
uint16_t k_free_port(void);

/* Tapsock sockets through the ordinary (interposed) calls. */
int t_socket(int nonblock);
/* A connected pair: tapsock client -> kernel listener; *kfd gets the kernel end. */
int t_connect_pair(int *kfd, int kernel_rcvbuf);

/* Writes until EAGAIN on a non-blocking fd; bytes written. */
size_t fill_nonblock(int fd);
/* CPU time (user + system) of this process, in microseconds. */
long long cpu_us(void);
/* Monotonic milliseconds. */
long long now_ms(void);

#endif
