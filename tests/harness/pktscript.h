/* pktscript.h - a packetdrill-like script runner over the TCP harness (fake clock, memory link); see tests/tcp/scripts/README.
 *
 * A script is a list of lines "TIME ACTION [; ACTION ...]":
 *   TIME    +0.1 (after the previous line) or 1.5 (from the start), seconds
 *   ACTION  a call:     socket(..., SOCK_STREAM, IPPROTO_TCP) = 3
 *                       bind(3, 10.77.0.2:8080) = 0   listen(3, 1) = 0
 *                       connect(3, 10.77.0.1:40000) = -1 EINPROGRESS
 *                       accept(3) = 4   close(4) = 0   shutdown(4, SHUT_WR) = 0
 *                       write(4, 1000) = 1000   read(4, 1000) = 1000
 *                       setsockopt(4, TCP_NODELAY, 1) = 0  (SO_LINGER N: on with N s)
 *                       getsockopt(4, SO_ERROR) = ECONNREFUSED
 *           inbound:    < S 0:0(0) win 65535 <mss 1460,sackOK,nop,wscale 7>
 *           outbound:   > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 7>
 * Sequence numbers are relative to each side's ISN as in packetdrill (ours is
 * learnt from our first SYN). An outbound line must be sent at its time (not
 * earlier than 1 ms before it); any segment sent that no line expects fails the
 * script. Options of an outbound line are checked when given (nop ignored). */
#ifndef TSK_TESTS_HARNESS_PKTSCRIPT_H
#define TSK_TESTS_HARNESS_PKTSCRIPT_H

/* Runs the script in `path` on the harness (fx_setup() done by the caller);
 * fails the Criterion test with file:line and the reason on the first error. */
void pktscript_run(const char *path);

#endif
