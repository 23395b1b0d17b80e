/* cookie.c - SYN cookies as Linux makes them (RFC 4987 3.6; Linux net/ipv4/syncookies.c; see cookie.h). */
#include "base/siphash.h"
#include "tcp/cookie.h"

#define COOKIEMASK ((1u << TCP_COOKIE_BITS) - 1)
#define COOKIE_DOMAIN 0x434f4f30u   /* "COO0", + c for the two hashes */

/* Linux: TS_OPT_WSCALE_MASK 0xf (0xf = no window scaling), TS_OPT_SACK bit 4,
 * TS_OPT_ECN bit 5, TSBITS 6. No bit for timestamps: an ACK with a timestamp
 * option says the SYN had one. */
#define TS_OPT_WSCALE_MASK 0xfu
#define TS_OPT_SACK (1u << 4)
#define TS_OPT_ECN (1u << 5)
#define TSBITS 6

const uint16_t tcp_cookie_msstab[4] = { 536, 1300, 1440, 1460 };

/* Linux cookie_hash(saddr, daddr, sport, dport, count, c): saddr/sport are the
 * SYN's source, the peer. */
static uint32_t cookie_hash(const uint64_t key[2], uint32_t laddr, uint16_t lport,
			    uint32_t raddr, uint16_t rport, uint32_t count, uint32_t c)
{
	uint8_t buf[20];
	uint32_t w[5] = { raddr, laddr, (uint32_t)rport << 16 | lport, count, COOKIE_DOMAIN + c };
	for (int i = 0; i < 5; i++)
		for (int j = 0; j < 4; j++)
			buf[4 * i + j] = (uint8_t)(w[i] >> (8 * j));
	return (uint32_t)siphash(buf, sizeof(buf), key);
}

/* Linux tcp_cookie_time(): the minute-ish counter */
static uint32_t cookie_time(uint64_t now)
{
	return (uint32_t)(now >> TCP_COOKIE_PERIOD_SHIFT);
}

uint32_t tcp_cookie_make(const uint64_t key[2], uint32_t laddr, uint16_t lport,
			 uint32_t raddr, uint16_t rport, uint32_t peer_isn,
			 uint16_t *mss, uint64_t now)
{
	unsigned mssind;
	for (mssind = 3; mssind; mssind--)
		if (*mss >= tcp_cookie_msstab[mssind])
			break;
	*mss = tcp_cookie_msstab[mssind];

	/* secure_tcp_syn_cookie: HASH(sec1, 4-tuple) + sseq + (count << 24)
	 *   + ((HASH(sec2, 4-tuple, count) + data) mod 2^24) */
	uint32_t count = cookie_time(now);
	return cookie_hash(key, laddr, lport, raddr, rport, 0, 0) + peer_isn +
	       (count << TCP_COOKIE_BITS) +
	       ((cookie_hash(key, laddr, lport, raddr, rport, count, 1) + mssind) & COOKIEMASK);
}

uint16_t tcp_cookie_check(const uint64_t key[2], uint32_t laddr, uint16_t lport,
			  uint32_t raddr, uint16_t rport, uint32_t seg_seq,
			  uint32_t seg_ack, uint64_t now)
{
	uint32_t cookie = seg_ack - 1;
	uint32_t sseq = seg_seq - 1;
	uint32_t count = cookie_time(now);

	/* check_tcp_syn_cookie: strip the first hash and their ISN, leaving
	 * (count << 24) + (hash + data mod 2^24) */
	cookie -= cookie_hash(key, laddr, lport, raddr, rport, 0, 0) + sseq;
	uint32_t diff = (count - (cookie >> TCP_COOKIE_BITS)) & (UINT32_MAX >> TCP_COOKIE_BITS);
	if (diff >= TCP_COOKIE_MAX_AGE)
		return 0;
	uint32_t mssind = (cookie - cookie_hash(key, laddr, lport, raddr, rport, count - diff, 1)) &
			  COOKIEMASK;
	return mssind < 4 ? tcp_cookie_msstab[mssind] : 0;
}

uint32_t tcp_cookie_ts(uint32_t ts_now, const struct tcp_cookie_opts *o)
{
	uint32_t options = o->ws_ok ? (o->ws & TS_OPT_WSCALE_MASK) : TS_OPT_WSCALE_MASK;
	if (o->sack_ok)
		options |= TS_OPT_SACK;
	if (o->ecn_ok)
		options |= TS_OPT_ECN;
	uint32_t ts = (ts_now >> TSBITS) << TSBITS | options;
	/* never ahead of our clock: the peer would see time go backwards later */
	if (ts > ts_now)
		ts -= 1u << TSBITS;
	return ts;
}

void tcp_cookie_ts_decode(uint32_t tsecr, struct tcp_cookie_opts *o)
{
	o->sack_ok = tsecr & TS_OPT_SACK;
	o->ecn_ok = tsecr & TS_OPT_ECN;
	o->ws_ok = (tsecr & TS_OPT_WSCALE_MASK) != TS_OPT_WSCALE_MASK;
	o->ws = o->ws_ok ? (uint8_t)(tsecr & TS_OPT_WSCALE_MASK) : 0;
}
