/* services.h - the engine's built-in TCP services, inetd style: echo (RFC 862), discard (RFC 863), chargen (RFC 864).
 *
 * eng_start() starts the services chosen in eng->cfg.services (ENG_SVC_*) on the
 * engine's own address; eng_free() stops them. They are ordinary users of the
 * socket API in tcp/tcp_sock.h: a listener per service, driven only by the socket
 * callbacks (never polled), with the flow control of a well-behaved server. */
#ifndef TSK_SOCK_SERVICES_H
#define TSK_SOCK_SERVICES_H

#include <stdint.h>

struct eng;

#define SOCK_SVC_ECHO_PORT    7
#define SOCK_SVC_DISCARD_PORT 9
#define SOCK_SVC_CHARGEN_PORT 19

/* RFC 864: lines of 72 printable characters plus CR LF, each line starting one
 * character further along the 95 printable ASCII characters: the stream repeats
 * every 95 lines. */
#define SOCK_SVC_CHARGEN_LINE  72
#define SOCK_SVC_CHARGEN_CYCLE (95 * (SOCK_SVC_CHARGEN_LINE + 2))

/* Listen on the ports of the services in eng->cfg.services. Returns 0, or the
 * first -errno (the services that could start keep running). */
int sock_svc_start(struct eng *eng, uint64_t now);
/* Close every listener and connection of the services (idempotent). */
void sock_svc_stop(struct eng *eng, uint64_t now);
/* Open service connections (not listeners), for tests and diagnostics. */
unsigned sock_svc_conns(const struct eng *eng);

/* Byte i (from 0) of the chargen stream: for tests and the generator itself. */
char sock_svc_chargen_byte(uint64_t i);

#endif
