/* cookie.h - SYN cookies (RFC 4987 3.6; Linux net/ipv4/syncookies.c).
 *
 * With the SYN queue full, a listener answers a SYN with a SYN-ACK whose ISN
 * encodes what it would have kept, and keeps nothing. As Linux
 * (secure_tcp_syn_cookie / check_tcp_syn_cookie):
 *
 *   cookie = H0(4-tuple) + peer_isn + (count << 24)
 *          + ((H1(4-tuple, count) + mss_index) mod 2^24)
 *
 * with H0, H1 SipHash under the engine secret (two domains), count a 64 s clock
 * (now / 2^36 ns, "tcp_cookie_time"), and mss_index into Linux's msstab
 * {536, 1300, 1440, 1460}. The returning ACK carries cookie + 1; it is accepted
 * when its count is the current one or the one before (MAX_SYNCOOKIE_AGE 2:
 * 64 to 128 s old at most) and the low 24 bits decode to a valid index.
 *
 * When the SYN had timestamps, the options the SYN offered (window scale, SACK,
 * ECN) are kept in the low 6 bits of our TSval and read back from the ACK's
 * TSecr (Linux cookie_init_timestamp / cookie_timestamp_decode).
 *
 * Addresses be32, ports host order; "local" is the listener's side. */
#ifndef TSK_TCP_COOKIE_H
#define TSK_TCP_COOKIE_H

#include <stdbool.h>
#include <stdint.h>

#define TCP_COOKIE_BITS 24
#define TCP_COOKIE_PERIOD_SHIFT 36     /* ns >> 36: one count every ~68.7 s */
#define TCP_COOKIE_MAX_AGE 2           /* counts accepted: current and previous */

/* Linux msstab[], smallest first */
extern const uint16_t tcp_cookie_msstab[4];

/* The ISN of the SYN-ACK for a SYN from raddr:rport with sequence peer_isn.
 * *mss is the peer's MSS on entry and the MSS the cookie encodes (the largest
 * msstab entry <= it, at least 536) on return. */
uint32_t tcp_cookie_make(const uint64_t key[2], uint32_t laddr, uint16_t lport,
			 uint32_t raddr, uint16_t rport, uint32_t peer_isn,
			 uint16_t *mss, uint64_t now);

/* Check the ACK completing a cookie handshake: seg_seq and seg_ack as they are
 * in the ACK (peer_isn + 1, cookie + 1). Returns the encoded MSS, or 0 if the
 * cookie is forged, for another 4-tuple, or too old. */
uint16_t tcp_cookie_check(const uint64_t key[2], uint32_t laddr, uint16_t lport,
			  uint32_t raddr, uint16_t rport, uint32_t seg_seq,
			  uint32_t seg_ack, uint64_t now);

/* Options of the SYN carried in the timestamp. */
struct tcp_cookie_opts {
	bool ws_ok;      /* peer sent window scale */
	uint8_t ws;      /* its shift (0..14) */
	bool sack_ok;    /* peer sent SACK-permitted */
	bool ecn_ok;     /* ECN negotiated */
};

/* Our TSval for the SYN-ACK (before adding any per-connection offset):
 * ts_now with its low 6 bits replaced by the options, never above ts_now. */
uint32_t tcp_cookie_ts(uint32_t ts_now, const struct tcp_cookie_opts *o);
/* Decode the options from the ACK's TSecr (offset already removed). Only
 * meaningful when the ACK has a timestamp option (the SYN had one then). */
void tcp_cookie_ts_decode(uint32_t tsecr, struct tcp_cookie_opts *o);

#endif
