/* icmp.c - ICMP for IPv4: echo, errors in and out (RFC 792, RFC 1122 3.2.2, RFC 1812 4.3.2.8 rate limit, RFC 6633). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "base/bytes.h"
#include "base/csum.h"
#include "base/time.h"
#include "eng.h"
#include "ip/icmp.h"
#include "ip/ip.h"
#include "ip/ip_priv.h"
#include "tcp/tcp.h"

/* Linux icmp_ratelimit (1000 ms per token) with XRLIM_BURST_FACTOR 6, and the
 * host-wide icmp_msgs_per_sec 1000 with icmp_msgs_burst 50. */
#define ICMP_RL_INTERVAL     SEC(1)
#define ICMP_RL_BURST        6
#define ICMP_RL_GLOBAL_COST  MSEC(1)
#define ICMP_RL_GLOBAL_BURST 50

int icmp_parse(const uint8_t *msg, size_t len, struct icmp_hdr *h)
{
	if (len < ICMP_HLEN)
		return -EINVAL;
	h->type = msg[0];
	h->code = msg[1];
	h->csum = get_be16(msg + 2);
	h->rest = get_be32(msg + 4);
	return 0;
}

void icmp_emit(uint8_t *at, const struct icmp_hdr *h)
{
	at[0] = h->type;
	at[1] = h->code;
	put_be16(at + 2, 0);
	put_be32(at + 4, h->rest);
}

static bool icmp_is_error(uint8_t type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_SOURCE_QUENCH ||
	       type == ICMP_REDIRECT || type == ICMP_TIME_EXCEEDED ||
	       type == ICMP_PARAMETERPROB;
}

/* Token bucket: `tokens` ns of credit, refilled by elapsed time up to burst. */
static bool rl_take(uint64_t *tokens, uint64_t *last, uint64_t now, uint64_t cost,
		    uint64_t cap)
{
	uint64_t t = *tokens + (now - *last);

	if (t > cap || t < *tokens)
		t = cap;
	*last = now;
	if (t < cost) {
		*tokens = t;
		return false;
	}
	*tokens = t - cost;
	return true;
}

static bool icmp_ratelimit_allow(struct eng *eng, uint32_t dst, uint64_t now)
{
	struct ip_state *ip = eng->ip;
	uint32_t h = (ntohl(dst) * 2654435761u) >> 24;
	struct icmp_rl *rl = &ip->rl[h % ICMP_RL_SLOTS];

	if (!rl_take(&ip->rl_global_tokens, &ip->rl_global_last, now, ICMP_RL_GLOBAL_COST,
		     ICMP_RL_GLOBAL_COST * ICMP_RL_GLOBAL_BURST))
		return false;
	if (!rl->used || rl->dst != dst) {
		/* a new peer starts with a full bucket (Linux inet_peer) */
		rl->used = true;
		rl->dst = dst;
		rl->tokens = ICMP_RL_INTERVAL * ICMP_RL_BURST;
		rl->last = now;
	}
	return rl_take(&rl->tokens, &rl->last, now, ICMP_RL_INTERVAL,
		       ICMP_RL_INTERVAL * ICMP_RL_BURST);
}

int icmp_send_error_info(struct eng *eng, uint8_t type, uint8_t code, uint32_t info,
			 const uint8_t *orig, size_t len, uint64_t now)
{
	uint32_t bcast = eng->cfg.addr | ~eng->cfg.netmask;
	struct pkt *p = &eng->tx;
	uint32_t src, dst;
	size_t ihl, quote, total;

	if (len < IP_HLEN || orig[0] >> 4 != 4)
		return -EINVAL;
	ihl = (size_t)(orig[0] & 0x0f) * 4;
	if (ihl < IP_HLEN || ihl > len)
		return -EINVAL;
	memcpy(&src, orig + 12, 4);
	memcpy(&dst, orig + 16, 4);
	/* RFC 1122 3.2.2: "An ICMP error message MUST NOT be sent as the result
	 * of receiving: an ICMP error message, or a datagram destined to an IP
	 * broadcast or IP multicast address, or a datagram sent as a link-layer
	 * broadcast, or a non-initial fragment, or a datagram whose source address
	 * does not define a single host -- e.g., a zero address, a loopback
	 * address, a broadcast address, a multicast address, or a Class E
	 * address." (link-layer broadcasts never get this far: IP drops a
	 * broadcast destination first) */
	if (dst == 0xffffffffu || dst == bcast || ip__is_multicast(dst))
		return -EPERM;
	if (src == 0 || src == 0xffffffffu || src == bcast || ip__is_multicast(src) ||
	    ip__is_loopback(src) || (ntohl(src) & 0xf0000000u) == 0xf0000000u)
		return -EPERM;
	if (get_be16(orig + 6) & IP_OFFMASK)
		return -EPERM;
	if (orig[9] == IP_PROTO_ICMP) {
		/* the type of a first fragment's ICMP message is visible */
		if (len < ihl + 1 || icmp_is_error(orig[ihl]))
			return -EPERM;
	}
	/* RFC 1812 4.3.2.8 / Linux icmpv4_xrlim_allow */
	if (!icmp_ratelimit_allow(eng, src, now)) {
		eng_drop(eng, DROP_ICMP_RATELIMIT);
		return -EAGAIN;
	}
	/* "the Internet header plus the first 64 bits of the original datagram's
	 * data" at least (RFC 792); Linux quotes up to 576 bytes in all. */
	total = get_be16(orig + 2);
	quote = len;
	if (total >= ihl && total < quote)
		quote = total;
	if (quote > ICMP_ERROR_MAX - IP_HLEN - ICMP_HLEN)
		quote = ICMP_ERROR_MAX - IP_HLEN - ICMP_HLEN;

	struct icmp_hdr h = { .type = type, .code = code, .rest = info };
	pkt_reset(p);
	uint8_t *m = pkt_put(p, (uint32_t)(ICMP_HLEN + quote));
	icmp_emit(m, &h);
	memcpy(m + ICMP_HLEN, orig, quote);
	put_be16(m + 2, csum_fold(csum_partial(m, ICMP_HLEN + quote, 0)));
	/* Linux: precedence "internetwork control", the original TOS bits kept */
	uint8_t tos = (uint8_t)((orig[1] & 0x1e) | 0xc0);
	int err = ip_output(eng, p, IP_PROTO_ICMP, eng->cfg.addr, src, tos, now);
	if (err == 0)
		eng_count(eng, ICMP_TX_ERRORS);
	return err;
}

int icmp_send_error(struct eng *eng, uint8_t type, uint8_t code, const uint8_t *orig,
		    size_t len, uint64_t now)
{
	return icmp_send_error_info(eng, type, code, 0, orig, len, now);
}

static enum drop_reason icmp_echo(struct eng *eng, const struct ip_info *ip,
				  const uint8_t *msg, size_t len, uint64_t now)
{
	struct pkt *p = &eng->tx;
	struct icmp_hdr h;

	eng_count(eng, ICMP_RX_ECHO);
	icmp_parse(msg, len, &h);
	/* RFC 792 / RFC 1122 3.2.2.6: the reply carries the request's
	 * identifier, sequence number and data unchanged; echo replies are not
	 * rate limited (Linux icmp_ratemask). Replies larger than the MTU leave
	 * in fragments (ip_output: no DF on ICMP). */
	h.type = ICMP_ECHOREPLY;
	h.code = 0;
	pkt_reset(p);
	uint8_t *m = pkt_put(p, (uint32_t)len);
	memcpy(m, msg, len);
	icmp_emit(m, &h);
	put_be16(m + 2, csum_fold(csum_partial(m, len, 0)));
	/* RFC 1122 3.2.2.6: the source of the reply is the request's destination;
	 * Linux also keeps the request's TOS. */
	if (ip_output(eng, p, IP_PROTO_ICMP, ip->dst, ip->src, ip->tos, now) == 0)
		eng_count(eng, ICMP_TX_ECHO_REPLY);
	return DROP_NONE;
}

static enum drop_reason icmp_error_input(struct eng *eng, const struct icmp_hdr *h,
					 const uint8_t *msg, size_t len, uint64_t now)
{
	const uint8_t *in = msg + ICMP_HLEN;
	size_t ilen = len - ICMP_HLEN;
	struct ip_info inner;
	size_t ihl;

	eng_count(eng, ICMP_RX_ERRORS);
	/* RFC 1122 3.2.2: the error quotes the IP header and at least 8 octets of
	 * the offending datagram; check it is ours and a first fragment before
	 * believing it. */
	if (ilen < IP_HLEN || in[0] >> 4 != 4)
		return DROP_ICMP_BAD_INNER;
	ihl = (size_t)(in[0] & 0x0f) * 4;
	if (ihl < IP_HLEN || ihl + 8 > ilen)
		return DROP_ICMP_BAD_INNER;
	memset(&inner, 0, sizeof(inner));
	memcpy(&inner.src, in + 12, 4);
	memcpy(&inner.dst, in + 16, 4);
	if (inner.src != eng->cfg.addr || (get_be16(in + 6) & IP_OFFMASK))
		return DROP_ICMP_BAD_INNER;
	/* RFC 6633: "A host MUST NOT send ICMP Source Quench messages" and
	 * receivers silently ignore them (Linux tcp_v4_err too). */
	if (h->type == ICMP_SOURCE_QUENCH)
		return DROP_NONE;
	inner.proto = in[9];
	inner.ttl = in[8];
	inner.tos = in[1];
	inner.id = get_be16(in + 4);
	inner.hdr_len = (uint16_t)ihl;
	inner.total_len = get_be16(in + 2);
	if (inner.proto == IP_PROTO_TCP) {
		uint16_t mtu = 0;

		if (h->type == ICMP_DEST_UNREACH && h->code == ICMP_FRAG_NEEDED)
			mtu = (uint16_t)(h->rest & 0xffff);   /* RFC 1191 next-hop MTU */
		tcp_icmp_error(eng, &inner, in + ihl, ilen - ihl, h->type, h->code, mtu, now);
	}
	/* other transports: no sockets to tell */
	return DROP_NONE;
}

enum drop_reason icmp_input(struct eng *eng, const struct ip_info *ip, const uint8_t *msg,
			    size_t len, uint64_t now)
{
	struct icmp_hdr h;

	if (icmp_parse(msg, len, &h) < 0)
		return DROP_ICMP_TOO_SHORT;
	if (!(ip->rxflags & LINK_RX_CSUM_OK) && csum_fold(csum_partial(msg, len, 0)) != 0)
		return DROP_ICMP_BAD_CSUM;
	switch (h.type) {
	case ICMP_ECHO:
		return icmp_echo(eng, ip, msg, len, now);
	case ICMP_DEST_UNREACH:
	case ICMP_SOURCE_QUENCH:
	case ICMP_TIME_EXCEEDED:
	case ICMP_PARAMETERPROB:
		return icmp_error_input(eng, &h, msg, len, now);
	default:
		/* echo replies (no ping sockets), redirects (no routing table to
		 * change), timestamps (no wall clock in the core), ... */
		return DROP_ICMP_UNKNOWN_TYPE;
	}
}
