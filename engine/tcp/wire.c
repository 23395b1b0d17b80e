/* wire.c - TCP header and options parse/emit (RFC 9293 3.1-3.2, RFC 7323 2-3, RFC 2018 2-3). */
#include <string.h>

#include "base/bytes.h"
#include "tcp/wire.h"

enum { OPT_EOL = 0, OPT_NOP = 1, OPT_MSS = 2, OPT_WS = 3, OPT_SACKOK = 4, OPT_SACK = 5,
       OPT_TS = 8 };

/* RFC 9293 3.2: options may begin on any octet; a malformed option (length under 2
 * or past the header, or a known kind with the wrong length) makes the segment
 * invalid. Unknown kinds with a sane length are skipped, as RFC 9293 3.2 MUST-6/7
 * requires ("MUST be prepared to handle an illegal option length"; "MUST ignore
 * options it does not implement"). */
static enum drop_reason parse_opts(const uint8_t *o, size_t n, struct tcp_seg *s)
{
	size_t i = 0;

	while (i < n) {
		uint8_t kind = o[i], olen;

		if (kind == OPT_EOL)
			break;
		if (kind == OPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= n)
			return DROP_TCP_BAD_OPTIONS;
		olen = o[i + 1];
		if (olen < 2 || i + olen > n)
			return DROP_TCP_BAD_OPTIONS;
		switch (kind) {
		case OPT_MSS:
			if (olen != 4)
				return DROP_TCP_BAD_OPTIONS;
			s->opts |= TCPOPT_F_MSS;
			s->mss = get_be16(o + i + 2);
			break;
		case OPT_WS:
			if (olen != 3)
				return DROP_TCP_BAD_OPTIONS;
			s->opts |= TCPOPT_F_WS;
			s->ws = o[i + 2];
			break;
		case OPT_SACKOK:
			if (olen != 2)
				return DROP_TCP_BAD_OPTIONS;
			s->opts |= TCPOPT_F_SACKOK;
			break;
		case OPT_TS:
			if (olen != 10)
				return DROP_TCP_BAD_OPTIONS;
			s->opts |= TCPOPT_F_TS;
			s->tsval = get_be32(o + i + 2);
			s->tsecr = get_be32(o + i + 6);
			break;
		case OPT_SACK:
			if (olen < 10 || (olen - 2) % 8)
				return DROP_TCP_BAD_OPTIONS;
			s->opts |= TCPOPT_F_SACK;
			s->nsack = 0;
			for (size_t b = 0; b < (size_t)(olen - 2) / 8 && b < TCP_MAX_SACK; b++) {
				s->sack[b].left = get_be32(o + i + 2 + 8 * b);
				s->sack[b].right = get_be32(o + i + 6 + 8 * b);
				s->nsack++;
			}
			break;
		default:
			break;
		}
		i += olen;
	}
	return DROP_NONE;
}

enum drop_reason tcp_parse(const uint8_t *buf, size_t len, struct tcp_seg *s)
{
	size_t off;

	memset(s, 0, sizeof(*s));
	if (len < TCP_HLEN)
		return DROP_TCP_TOO_SHORT;
	off = (size_t)(buf[12] >> 4) * 4;
	if (off < TCP_HLEN || off > len)
		return DROP_TCP_BAD_OFFSET;
	s->sport = get_be16(buf);
	s->dport = get_be16(buf + 2);
	s->seq = get_be32(buf + 4);
	s->ack = get_be32(buf + 8);
	s->flags = buf[13];
	s->win = get_be16(buf + 14);
	s->urp = get_be16(buf + 18);
	s->hdr_len = (uint16_t)off;
	s->data = buf + off;
	s->len = (uint32_t)(len - off);
	return parse_opts(buf + TCP_HLEN, off - TCP_HLEN, s);
}

size_t tcp_opts_len(const struct tcp_seg *s)
{
	size_t n = 0;

	if (s->opts & TCPOPT_F_MSS)
		n += 4;
	if (s->opts & TCPOPT_F_TS)
		n += 12;          /* (NOP NOP | SACKOK) TS */
	else if (s->opts & TCPOPT_F_SACKOK)
		n += 4;           /* NOP NOP SACKOK */
	if (s->opts & TCPOPT_F_WS)
		n += 4;           /* NOP WS */
	if ((s->opts & TCPOPT_F_SACK) && s->nsack)
		n += 4 + 8 * (size_t)s->nsack; /* NOP NOP SACK */
	return n;
}

size_t tcp_emit(uint8_t *at, const struct tcp_seg *s)
{
	size_t olen = tcp_opts_len(s), hl = TCP_HLEN + olen;
	uint8_t *o = at + TCP_HLEN;

	put_be16(at, s->sport);
	put_be16(at + 2, s->dport);
	put_be32(at + 4, s->seq);
	put_be32(at + 8, s->ack);
	at[12] = (uint8_t)((hl / 4) << 4);
	at[13] = s->flags;
	put_be16(at + 14, s->win);
	put_be16(at + 16, 0);
	put_be16(at + 18, s->urp);
	/* Linux's order (tcp_options_write): MSS, SACKOK+TS or NOP NOP TS, NOP NOP
	 * SACKOK, NOP WS, NOP NOP SACK blocks. */
	if (s->opts & TCPOPT_F_MSS) {
		o[0] = OPT_MSS; o[1] = 4; put_be16(o + 2, s->mss);
		o += 4;
	}
	if (s->opts & TCPOPT_F_TS) {
		if (s->opts & TCPOPT_F_SACKOK) {
			o[0] = OPT_SACKOK; o[1] = 2;
		} else {
			o[0] = OPT_NOP; o[1] = OPT_NOP;
		}
		o[2] = OPT_TS; o[3] = 10;
		put_be32(o + 4, s->tsval);
		put_be32(o + 8, s->tsecr);
		o += 12;
	} else if (s->opts & TCPOPT_F_SACKOK) {
		o[0] = OPT_NOP; o[1] = OPT_NOP; o[2] = OPT_SACKOK; o[3] = 2;
		o += 4;
	}
	if (s->opts & TCPOPT_F_WS) {
		o[0] = OPT_NOP; o[1] = OPT_WS; o[2] = 3; o[3] = s->ws;
		o += 4;
	}
	if ((s->opts & TCPOPT_F_SACK) && s->nsack) {
		o[0] = OPT_NOP; o[1] = OPT_NOP; o[2] = OPT_SACK; o[3] = (uint8_t)(2 + 8 * s->nsack);
		o += 4;
		for (unsigned b = 0; b < s->nsack; b++, o += 8) {
			put_be32(o, s->sack[b].left);
			put_be32(o + 4, s->sack[b].right);
		}
	}
	return hl;
}
