/* tcph.c - the TCP test harness (see tcph.h): memory link, fake clock, segment builder, fixtures. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/csum.h"
#include "eth/arp.h"
#include "link/link.h"
#include "tcph.h"

struct fx F;
uint32_t fx_link_features;
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

static void on_event(struct tcp_sock *s, unsigned ev, void *arg)
{
	(void)s;
	(void)arg;
	F.events |= ev;
	F.ncb++;
}

void fx_setup_cfg(void (*tune)(struct eng_config *cfg))
{
	struct eng_config cfg;

	memset(&F, 0, sizeof(F));
	eng_config_default(&cfg);
	cfg.secret[0] = 0x0123456789abcdefull;
	cfg.secret[1] = 0xfedcba9876543210ull;
	cfg.arp_timeout = SEC(1000000000); /* the peer's entry never expires here */
	if (tune)
		tune(&cfg);
	F.now = SEC(1000);
	F.link = memlink_new(1500, fx_link_features);
	cr_assert(F.link);
	F.eng = eng_new(&cfg, F.link, F.now);
	cr_assert(F.eng);
	arp_insert(F.eng, htonl(PEER_ADDR), peer_mac, F.now);
	memlink_clear(F.link);
	F.rport = PPORT;
	F.lport = LPORT;
}

void fx_setup(void) { fx_setup_cfg(NULL); }

void fx_teardown(void)
{
	if (F.eng)
		eng_free(F.eng);
	if (F.link)
		link_destroy(F.link);
	F.eng = NULL;
	F.link = NULL;
}

static enum drop_reason last_drop(const struct stats *before)
{
	for (int i = 1; i < DROP__MAX; i++)
		if (F.eng->stats.drop[i] != before->drop[i])
			return (enum drop_reason)i;
	return DROP_NONE;
}

enum drop_reason seg_in(const struct segspec *sp)
{
	uint8_t frame[14 + 20 + 60 + 2048];
	uint8_t *ip = frame + 14, *th = ip + 20;
	struct tcp_seg s;
	struct stats before = F.eng->stats;
	size_t hl, tot;

	memset(&s, 0, sizeof(s));
	s.sport = sp->sport;
	s.dport = sp->dport;
	s.seq = sp->seq;
	s.ack = (sp->flags & TH_ACK) ? sp->ack : 0;
	s.flags = sp->flags;
	s.win = sp->win;
	s.opts = sp->opts;
	s.mss = sp->mss ? sp->mss : 1460;
	s.ws = sp->ws;
	s.tsval = sp->tsval;
	s.tsecr = sp->tsecr;
	s.nsack = sp->nsack;
	memcpy(s.sack, sp->sack, sizeof(s.sack));
	cr_assert(sp->len <= 2048);
	hl = tcp_emit(th, &s);
	if (sp->len)
		memcpy(th + hl, sp->data, sp->len);
	tot = hl + sp->len;
	put_be16(th + 16, csum_fold(csum_partial(th, tot, csum_pseudo(htonl(sp->saddr ? sp->saddr : PEER_ADDR),
		 htonl(US_ADDR), IPPROTO_TCP, (uint16_t)tot))));
	if (sp->bad_csum)
		th[16] ^= 0x55;
	memcpy(frame, F.eng->cfg.mac, 6);
	memcpy(frame + 6, peer_mac, 6);
	put_be16(frame + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put_be16(ip + 2, (uint16_t)(20 + tot));
	put_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	put_be32(ip + 12, sp->saddr ? sp->saddr : PEER_ADDR);
	put_be32(ip + 16, US_ADDR);
	put_be16(ip + 10, csum_fold(csum_partial(ip, 20, 0)));
	eng_input(F.eng, frame, 14 + 20 + tot, 0, F.now);
	return last_drop(&before);
}

const struct tcp_seg *pop_out(void)
{
	struct memlink_frame *f;

	while ((f = memlink_pop(F.link))) {
		const uint8_t *ip = f->data + 14;
		size_t ihl;

		if (f->len < 14 + 20 || get_be16(f->data + 12) != 0x0800 || ip[9] != IPPROTO_TCP) {
			free(f);
			continue;
		}
		ihl = (size_t)(ip[0] & 15) * 4;
		cr_assert_eq(get_be32(ip + 16), PEER_ADDR, "segment not to the peer");
		cr_assert_eq(get_be32(ip + 12), US_ADDR);
		{
			size_t tl = get_be16(ip + 2) - ihl;
			uint8_t *th = (uint8_t *)ip + ihl;

			F.out_off = f->off;
			if (f->off.flags & PKT_OFF_CSUM) {
				/* what the device does: the field holds the pseudo-header
				 * sum (without the length for TSO, as virtio-net wants) */
				bool tso = f->off.flags & PKT_OFF_TSO4;
				uint16_t want = (uint16_t)~csum_fold(csum_pseudo(htonl(US_ADDR),
						htonl(PEER_ADDR), IPPROTO_TCP, tso ? 0 : (uint16_t)tl));
				cr_assert_eq(get_be16(th + 16), want, "bad partial checksum on output");
				cr_assert_eq(f->off.csum_start, 14 + ihl);
				cr_assert_eq(f->off.csum_offset, 16);
				put_be16(th + 16, 0);
				put_be16(th + 16, csum_fold(csum_partial(th, tl, csum_pseudo(htonl(US_ADDR),
					 htonl(PEER_ADDR), IPPROTO_TCP, (uint16_t)tl))));
			}
			cr_assert_eq(csum_fold(csum_partial(th, tl, csum_pseudo(htonl(US_ADDR),
				     htonl(PEER_ADDR), IPPROTO_TCP, (uint16_t)tl))), 0,
				     "bad TCP checksum on output");
			cr_assert_eq(tcp_parse(th, tl, &F.out), DROP_NONE, "unparsable output");
			memcpy(F.out_data, F.out.data, F.out.len);
			F.out.data = F.out_data;
		}
		free(f);
		return &F.out;
	}
	return NULL;
}

size_t out_count(void) { return memlink_count(F.link); }

static void flags_str(uint8_t f, char *b)
{
	b[0] = 0;
	if (f & TH_SYN) strcat(b, "S");
	if (f & TH_FIN) strcat(b, "F");
	if (f & TH_RST) strcat(b, "R");
	if (f & TH_PSH) strcat(b, "P");
	if (f & TH_ACK) strcat(b, ".");
}

const struct tcp_seg *expect_out_at(uint8_t flags, const char *file, int line)
{
	const struct tcp_seg *s = pop_out();
	uint8_t mask = (flags & TH_PSH) ? 0xff : (uint8_t)~TH_PSH;
	char want[8], got[8];

	cr_assert(s, "%s:%d: expected a segment, none sent", file, line);
	flags_str(flags, want);
	flags_str(s->flags, got);
	cr_assert_eq(s->flags & mask, flags, "%s:%d: expected flags [%s], got [%s] seq %u ack %u len %u",
		     file, line, want, got, s->seq, s->ack, s->len);
	return s;
}

void expect_none_at(const char *file, int line)
{
	const struct tcp_seg *s = pop_out();
	char got[8];

	if (s) {
		flags_str(s->flags, got);
		cr_assert_fail("%s:%d: expected nothing sent, got [%s] seq %u ack %u len %u", file,
			       line, got, s->seq, s->ack, s->len);
	}
}

void fx_advance(uint64_t dt)
{
	uint64_t end = F.now + dt;

	for (;;) {
		uint64_t next = eng_poll(F.eng, F.now);
		if (next == TIME_NEVER || next > end)
			break;
		if (next > F.now)
			F.now = next;
	}
	F.now = end;
	eng_poll(F.eng, F.now);
}

uint64_t fx_next_timer(void)
{
	uint64_t start = F.now, next;

	eng_poll(F.eng, F.now);
	next = timer_heap_next(&F.eng->tcp->timers);

	cr_assert_neq(next, TIME_NEVER, "no timer armed");
	if (next > F.now)
		F.now = next;
	eng_poll(F.eng, F.now);
	return F.now - start;
}

struct tcp_conn *fx_conn(void)
{
	return tcp_lookup(F.eng->tcp, htonl(US_ADDR), F.lport, htonl(PEER_ADDR), F.rport);
}

int fx_state(void)
{
	struct tcp_conn *c = fx_conn();

	return c ? c->state : TCPS_CLOSED;
}

uint64_t fx_drops(enum drop_reason r) { return F.eng->stats.drop[r]; }
uint64_t fx_count(enum counter c) { return F.eng->stats.cnt[c]; }

/* --- fixtures --- */

void fx_listen(void)
{
	F.lis = tcp_sock_new(F.eng);
	cr_assert(F.lis);
	tcp_sock_set_cb(F.lis, on_event, NULL);
	cr_assert_eq(tcp_bind(F.lis, 0, LPORT), 0);
	cr_assert_eq(tcp_listen(F.lis, 16), 0);
	F.lport = LPORT;
	F.p_seq = PISS;
}

void fx_syn_rcvd(void)
{
	const struct tcp_seg *o;

	fx_listen();
	cr_assert_eq(seg(.flags = TH_SYN, .seq = PISS, .ack = 0, .opts = TCPOPT_F_MSS), DROP_NONE);
	o = expect_out(TH_SYN | TH_ACK);
	cr_assert_eq(o->ack, PISS + 1);
	F.iss = o->seq;
	F.p_seq = PISS + 1;
	F.p_ack = F.iss + 1;
	cr_assert_eq(fx_state(), TCPS_SYN_RECEIVED);
}

void fx_established_passive(void)
{
	fx_syn_rcvd();
	cr_assert_eq(seg(), DROP_NONE);
	expect_none();
	cr_assert_eq(tcp_accept(F.lis, &F.s), 0);
	tcp_sock_set_cb(F.s, on_event, NULL);
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
}

void fx_syn_sent(void)
{
	const struct tcp_seg *o;

	F.s = tcp_sock_new(F.eng);
	cr_assert(F.s);
	tcp_sock_set_cb(F.s, on_event, NULL);
	cr_assert_eq(tcp_connect(F.s, htonl(PEER_ADDR), PPORT, F.now), -EINPROGRESS);
	o = expect_out(TH_SYN);
	F.iss = o->seq;
	F.lport = o->sport;
	F.p_seq = PISS;
	F.p_ack = F.iss + 1;
	cr_assert_eq(fx_state(), TCPS_SYN_SENT);
}

void fx_established_opts(unsigned opts)
{
	const struct tcp_seg *o;

	fx_syn_sent();
	cr_assert_eq(seg(.flags = TH_SYN | TH_ACK, .seq = PISS, .opts = opts, .ws = 7,
			 .tsval = 5000, .tsecr = 0), DROP_NONE);
	o = expect_out(TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(o->ack, PISS + 1);
	F.p_seq = PISS + 1;
	cr_assert_eq(fx_state(), TCPS_ESTABLISHED);
	F.events = 0;
	F.ncb = 0;
}

void fx_established(void) { fx_established_opts(TCPOPT_F_MSS); }

void fx_fin_wait1(void)
{
	const struct tcp_seg *o;

	fx_established();
	cr_assert_eq(tcp_shutdown(F.s, SHUT_WR, F.now), 0);
	o = expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(fx_state(), TCPS_FIN_WAIT_1);
}

void fx_fin_wait2(void)
{
	fx_fin_wait1();
	cr_assert_eq(seg(.ack = F.iss + 2), DROP_NONE);
	F.p_ack = F.iss + 2;
	expect_none();
	cr_assert_eq(fx_state(), TCPS_FIN_WAIT_2);
}

void fx_close_wait(void)
{
	const struct tcp_seg *o;

	fx_established();
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK), DROP_NONE);
	F.p_seq++;
	cr_assert_eq(fx_state(), TCPS_CLOSE_WAIT);
	fx_advance(MSEC(200));
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 2);
}

void fx_last_ack(void)
{
	const struct tcp_seg *o;

	fx_close_wait();
	cr_assert_eq(tcp_shutdown(F.s, SHUT_WR, F.now), 0);
	o = expect_out(TH_FIN | TH_ACK);
	cr_assert_eq(o->seq, F.iss + 1);
	cr_assert_eq(fx_state(), TCPS_LAST_ACK);
}

void fx_closing(void)
{
	const struct tcp_seg *o;

	fx_fin_wait1();
	/* the peer's FIN crosses ours: it does not acknowledge our FIN */
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK, .ack = F.iss + 1), DROP_NONE);
	F.p_seq++;
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 2);
	cr_assert_eq(fx_state(), TCPS_CLOSING);
}

void fx_time_wait(void)
{
	const struct tcp_seg *o;

	fx_fin_wait2();
	cr_assert_eq(seg(.flags = TH_FIN | TH_ACK), DROP_NONE);
	F.p_seq++;
	o = expect_out(TH_ACK);
	cr_assert_eq(o->ack, PISS + 2);
	cr_assert_eq(fx_state(), TCPS_TIME_WAIT);
}
