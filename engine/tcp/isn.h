/* isn.h - initial sequence numbers and timestamp offsets (RFC 6528, RFC 7323 5.4, RFC 9293 3.4.1).
 *
 * RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
 * "M is the 4 microsecond timer" and F "MUST NOT be computable from the
 * outside". As Linux (secure_tcp_seq), F is SipHash-2-4 of the 4-tuple under
 * the engine secret and M is `now` in 64 ns ticks (now >> 6): a faster clock
 * than RFC 9293's 4 us, so two incarnations of a 4-tuple started within a few
 * seconds still get increasing ISNs even at high rates. M wraps every
 * 2^32 * 64 ns ~ 275 s.
 *
 * Addresses are be32; ports are host order. "Local" is our side. */
#ifndef TSK_TCP_ISN_H
#define TSK_TCP_ISN_H

#include <stdint.h>

#define TCP_ISN_TICK_SHIFT 6   /* M = now_ns >> 6 */

uint32_t tcp_isn(const uint64_t key[2], uint32_t laddr, uint16_t lport,
		 uint32_t raddr, uint16_t rport, uint64_t now);

/* Per address pair offset added to our TCP timestamp clock (RFC 7323 5.4,
 * Linux secure_tcp_ts_off): peers cannot learn our uptime, and the clock seen
 * by one peer stays monotonic across connections. */
uint32_t tcp_ts_off(const uint64_t key[2], uint32_t laddr, uint32_t raddr);

#endif
