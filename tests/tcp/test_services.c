/* test_services.c - the built-in services over the whole engine: echo (RFC 862), discard (RFC 863), chargen (RFC 864).
 *
 * A peer at 10.77.0.1 is played by the test: it builds Ethernet/IPv4/TCP frames,
 * hands them to eng_input() and reads the engine's answers from the memory link,
 * on a fake clock. The peer's own ISN is fixed; the engine's is learnt from its
 * SYN-ACK. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "base/bytes.h"
#include "base/csum.h"
#include "base/seq.h"
#include "base/time.h"
#include "eth/arp.h"
#include "link/link.h"
#include "sock/services.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

static struct eng *eng;
static struct link *lnk;
static uint64_t now;
static uint32_t peer_ip, eng_ip;

/* one segment the engine sent */
struct out {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	int mss;             /* MSS option value, -1 when absent */
	uint32_t len;
	uint8_t data[65536];
};

static void setup(void)
{
	struct eng_config cfg;

	eng_config_default(&cfg);
	cfg.services = ENG_SVC_ECHO | ENG_SVC_DISCARD | ENG_SVC_CHARGEN;
	cfg.secret[0] = 1;
	cfg.secret[1] = 2;
	peer_ip = htonl(0x0a4d0001);
	eng_ip = cfg.addr;
	now = SEC(1);
	lnk = memlink_new(1500, 0);
	cr_assert_not_null(lnk);
	eng = eng_new(&cfg, lnk, now);
	cr_assert_not_null(eng);
	arp_insert(eng, peer_ip, peer_mac, now);
	eng_start(eng, now);
	memlink_clear(lnk);  /* the gratuitous ARP */
}

static void teardown(void)
{
	eng_free(eng);
	link_destroy(lnk);
}

TestSuite(services, .init = setup, .fini = teardown, .timeout = 30);

/* One segment from the peer to the engine, built in f: its length. */
static size_t peer_frame(uint8_t f[1600], uint16_t sport, uint16_t dport, uint8_t flags,
			 uint32_t seq, uint32_t ack, uint16_t win, const void *data, size_t len)
{
	uint8_t *ip = f + 14, *th = ip + 20;
	size_t thl = (flags & F_SYN) ? 24 : 20;
	uint16_t iplen = (uint16_t)(20 + thl + len);

	cr_assert(len <= 1460);
	memset(f, 0, 1600);
	memcpy(f, eng->cfg.mac, 6);
	memcpy(f + 6, peer_mac, 6);
	put_be16(f + 12, 0x0800);
	ip[0] = 0x45;
	put_be16(ip + 2, iplen);
	put_be16(ip + 4, 1);
	put_be16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &peer_ip, 4);
	memcpy(ip + 16, &eng_ip, 4);
	put_be16(ip + 10, csum_fold(csum_partial(ip, 20, 0)));
	put_be16(th, sport);
	put_be16(th + 2, dport);
	put_be32(th + 4, seq);
	put_be32(th + 8, ack);
	th[12] = (uint8_t)((thl / 4) << 4);
	th[13] = flags;
	put_be16(th + 14, win);
	if (flags & F_SYN) {
		th[20] = 2;
		th[21] = 4;
		put_be16(th + 22, 1460);
	}
	if (len)
		memcpy(th + thl, data, len);
	put_be16(th + 16, csum_fold(csum_partial(th, thl + len,
		 csum_pseudo(peer_ip, eng_ip, 6, (uint16_t)(thl + len)))));
	return 14 + (size_t)iplen;
}

/* The peer sends one segment to the engine. */
static void peer_send(uint16_t sport, uint16_t dport, uint8_t flags, uint32_t seq,
		      uint32_t ack, uint16_t win, const void *data, size_t len)
{
	uint8_t f[1600];

	eng_input(eng, f, peer_frame(f, sport, dport, flags, seq, ack, win, data, len), 0, now);
}

/* Run the engine's timers up to now + ns. */
static void run_for(uint64_t ns)
{
	uint64_t end = now + ns, next;

	for (;;) {
		next = eng_poll(eng, now);
		if (next > end)
			break;
		now = next > now ? next : now + 1;
	}
	now = end;
	eng_poll(eng, now);
}

/* The next TCP segment the engine sent (ARP and others are skipped); false if none. */
static bool engine_out(struct out *o)
{
	struct memlink_frame *fr;

	while ((fr = memlink_pop(lnk))) {
		const uint8_t *ip = fr->data + 14, *th;
		size_t ihl, thl, tot;

		if (fr->len < 14 + 20 || get_be16(fr->data + 12) != 0x0800 || ip[9] != 6) {
			free(fr);
			continue;
		}
		ihl = (size_t)(ip[0] & 0xf) * 4;
		tot = get_be16(ip + 2);
		th = ip + ihl;
		thl = (size_t)(th[12] >> 4) * 4;
		cr_assert(tot <= fr->len - 14 && ihl + thl <= tot, "malformed frame from the engine");
		cr_assert(memcmp(ip + 12, &eng_ip, 4) == 0 && memcmp(ip + 16, &peer_ip, 4) == 0);
		cr_assert_eq(csum_fold(csum_partial(th, tot - ihl,
			     csum_pseudo(eng_ip, peer_ip, 6, (uint16_t)(tot - ihl)))), 0,
			     "bad TCP checksum from the engine");
		o->sport = get_be16(th);
		o->dport = get_be16(th + 2);
		o->seq = get_be32(th + 4);
		o->ack = get_be32(th + 8);
		o->flags = th[13];
		o->win = get_be16(th + 14);
		o->mss = -1;
		for (size_t i = 20; i < thl;) {
			uint8_t kind = th[i];
			if (kind == 0)
				break;
			if (kind == 1) {
				i++;
				continue;
			}
			if (i + 1 >= thl || th[i + 1] < 2)
				break;
			if (kind == 2 && th[i + 1] == 4)
				o->mss = get_be16(th + i + 2);
			i += th[i + 1];
		}
		o->len = (uint32_t)(tot - ihl - thl);
		memcpy(o->data, th + thl, o->len);
		free(fr);
		return true;
	}
	return false;
}

/* A connection from the peer's side. */
struct peer {
	uint16_t sport, dport;
	uint32_t snd_nxt;    /* next byte the peer sends */
	uint32_t rcv_nxt;    /* next byte expected from the engine */
	uint32_t eng_una;    /* highest ACK from the engine */
	uint32_t eng_wnd;    /* window the engine advertised (assumes no scaling: we offer none) */
	bool got_fin;
	uint8_t *rx;         /* everything the engine sent in order */
	size_t rxlen, rxcap;
};

static void peer_take(struct peer *p, const struct out *o)
{
	cr_assert_eq(o->sport, p->dport);
	cr_assert_eq(o->dport, p->sport);
	cr_assert_eq(o->flags & F_RST, 0, "unexpected RST from the engine");
	if (o->flags & F_ACK) {
		if (seq_gt(o->ack, p->eng_una))
			p->eng_una = o->ack;
		p->eng_wnd = o->win;
	}
	if (o->len && o->seq == p->rcv_nxt) {
		if (p->rxlen + o->len > p->rxcap) {
			p->rxcap = (p->rxlen + o->len) * 2;
			p->rx = realloc(p->rx, p->rxcap);
			cr_assert_not_null(p->rx);
		}
		memcpy(p->rx + p->rxlen, o->data, o->len);
		p->rxlen += o->len;
		p->rcv_nxt += o->len;
	}
	if ((o->flags & F_FIN) && o->seq + o->len == p->rcv_nxt) {
		p->rcv_nxt++;
		p->got_fin = true;
	}
}

/* Take all that the engine sent since last time. */
static unsigned peer_drain(struct peer *p)
{
	static struct out o;
	unsigned n = 0;

	while (engine_out(&o)) {
		peer_take(p, &o);
		n++;
	}
	return n;
}

/* Three-way handshake from the peer to dport; checks the SYN-ACK as RFC 9293 wants. */
static void peer_connect(struct peer *p, uint16_t sport, uint16_t dport)
{
	static struct out o;

	memset(p, 0, sizeof(*p));
	p->sport = sport;
	p->dport = dport;
	p->snd_nxt = 1000;
	peer_send(sport, dport, F_SYN, p->snd_nxt, 0, 65535, NULL, 0);
	cr_assert(engine_out(&o), "no answer to a SYN to port %u", dport);
	cr_assert_eq(o.flags & (F_SYN | F_ACK | F_RST | F_FIN), F_SYN | F_ACK,
		     "SYN to port %u answered with flags %#x", dport, o.flags);
	cr_assert_eq(o.ack, p->snd_nxt + 1, "SYN-ACK acks %u, want %u", o.ack, p->snd_nxt + 1);
	cr_assert_eq(o.sport, dport);
	cr_assert_eq(o.dport, sport);
	cr_assert(o.mss > 0, "SYN-ACK without an MSS option");
	p->snd_nxt++;
	p->rcv_nxt = o.seq + 1;
	p->eng_una = o.ack;
	p->eng_wnd = o.win;
	peer_send(sport, dport, F_ACK, p->snd_nxt, p->rcv_nxt, 65535, NULL, 0);
}

static void peer_data(struct peer *p, const void *d, size_t len)
{
	peer_send(p->sport, p->dport, F_ACK | F_PSH, p->snd_nxt, p->rcv_nxt, 65535, d, len);
	p->snd_nxt += (uint32_t)len;
}

Test(services, echo_answers_echoes_and_closes_after_fin)
{
	struct peer p;
	static const char msg[] = "hello, echo\r\n";

	peer_connect(&p, 40000, 7);
	run_for(MSEC(1));
	cr_assert_eq(sock_svc_conns(eng), 1, "the echo service did not accept the connection");
	peer_data(&p, msg, sizeof(msg) - 1);
	run_for(MSEC(300));
	peer_drain(&p);
	cr_assert_eq(p.rxlen, sizeof(msg) - 1, "echoed %zu bytes, sent %zu", p.rxlen, sizeof(msg) - 1);
	cr_assert_arr_eq(p.rx, msg, sizeof(msg) - 1);
	cr_assert_eq(p.eng_una, p.snd_nxt, "the data was not acknowledged");

	/* the peer closes: the engine acks the FIN and closes its side */
	peer_send(p.sport, p.dport, F_FIN | F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
	p.snd_nxt++;
	run_for(MSEC(300));
	peer_drain(&p);
	cr_assert_eq(p.eng_una, p.snd_nxt, "the peer's FIN was not acknowledged");
	cr_assert(p.got_fin, "echo did not close its side after the peer's FIN");
	cr_assert_eq(sock_svc_conns(eng), 0, "the echo connection is still held by the service");
	/* the last ACK: the engine's LAST-ACK ends, no answer expected */
	peer_send(p.sport, p.dport, F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
	run_for(MSEC(300));
	cr_assert_eq(peer_drain(&p), 0, "the engine answered the last ACK");
	free(p.rx);
}

/* Half-close: the peer sends data and its FIN at once; echo must still send all
 * of it back before its own FIN. */
/* A frame read in two pieces (eng_input_split, the loop's direct reads): TCP
 * takes the payload from where it was read, not from the bytes behind the
 * headers. */
Test(services, echo_of_a_frame_whose_payload_lies_elsewhere)
{
	struct peer p;
	static const char msg[] = "payload read apart from its headers";
	uint8_t f[1600];
	size_t n, hlen = 14 + 20 + 20;

	peer_connect(&p, 40010, 7);
	run_for(MSEC(1));
	n = peer_frame(f, p.sport, p.dport, F_ACK | F_PSH, p.snd_nxt, p.rcv_nxt, 65535, msg,
		       sizeof(msg) - 1);
	memset(f + hlen, 'X', n - hlen);   /* what lies behind the headers is not the payload */
	eng_input_split(eng, f, n, hlen, (const uint8_t *)msg, LINK_RX_CSUM_OK, now);
	p.snd_nxt += (uint32_t)(sizeof(msg) - 1);
	run_for(MSEC(300));
	peer_drain(&p);
	cr_assert_eq(p.rxlen, sizeof(msg) - 1, "echoed %zu bytes, sent %zu", p.rxlen, sizeof(msg) - 1);
	cr_assert_arr_eq(p.rx, msg, sizeof(msg) - 1, "the echo is not the payload");
	cr_assert_eq(p.eng_una, p.snd_nxt, "the data was not acknowledged");
	/* and the next frame, read whole, is taken from behind its headers again */
	peer_data(&p, "ok", 2);
	run_for(MSEC(300));
	peer_drain(&p);
	cr_assert_eq(p.rxlen, sizeof(msg) + 1);
	cr_assert_arr_eq(p.rx + sizeof(msg) - 1, "ok", 2);
	free(p.rx);
}

Test(services, echo_halfclose_returns_everything_before_fin)
{
	struct peer p;
	static uint8_t buf[20000];
	size_t sent = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	peer_connect(&p, 40001, 7);
	while (sent < sizeof(buf)) {
		size_t n = sizeof(buf) - sent < 1000 ? sizeof(buf) - sent : 1000;
		/* stay inside the window the engine offers */
		while ((uint32_t)(p.snd_nxt - p.eng_una) + n > p.eng_wnd) {
			run_for(MSEC(50));
			peer_send(p.sport, p.dport, F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
			cr_assert(peer_drain(&p) || p.eng_wnd, "engine window stuck at 0");
		}
		peer_data(&p, buf + sent, n);
		sent += n;
		peer_drain(&p);
	}
	peer_send(p.sport, p.dport, F_FIN | F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
	p.snd_nxt++;
	for (int i = 0; i < 100 && !p.got_fin; i++) {
		run_for(MSEC(50));
		peer_drain(&p);
		peer_send(p.sport, p.dport, F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
	}
	cr_assert(p.got_fin, "no FIN from echo after the half-close");
	cr_assert_eq(p.rxlen, sizeof(buf), "echoed %zu of %zu bytes before the FIN", p.rxlen,
		     sizeof(buf));
	cr_assert_arr_eq(p.rx, buf, sizeof(buf));
	free(p.rx);
}

/* Flow control: the peer does not take what echo sends back (it advertises a
 * zero window) while it keeps sending. Echo must stop reading instead of
 * buffering without bound or dropping: the engine's receive window closes with
 * everything it accepted acknowledged. When the peer opens its window again,
 * every byte comes back in order. */
Test(services, echo_stops_reading_when_peer_does_not_read)
{
	struct peer p;
	static uint8_t buf[8 << 20];
	size_t sent = 0;
	int stuck = 0;

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13 + i / 256);
	peer_connect(&p, 40002, 7);
	while (sent < sizeof(buf) && stuck < 3) {
		/* as much as the engine's window allows, up to 1000 bytes */
		uint32_t inflight = p.snd_nxt - p.eng_una;
		size_t n = sizeof(buf) - sent < 1000 ? sizeof(buf) - sent : 1000;

		if (inflight < p.eng_wnd && n > p.eng_wnd - inflight)
			n = p.eng_wnd - inflight;
		if (inflight >= p.eng_wnd) {
			run_for(MSEC(200));
			/* window probes may arrive: answer with the same zero window */
			peer_send(p.sport, p.dport, F_ACK, p.snd_nxt, p.rcv_nxt, 0, NULL, 0);
			peer_drain(&p);
			stuck++;
			continue;
		}
		stuck = 0;
		peer_send(p.sport, p.dport, F_ACK, p.snd_nxt, p.rcv_nxt, 0, buf + sent, n);
		p.snd_nxt += (uint32_t)n;
		sent += n;
		peer_drain(&p);
	}
	cr_assert_lt(sent, sizeof(buf), "echo took %zu bytes it could not send back: it must stop",
		     sent);
	cr_assert_eq(p.eng_una, p.snd_nxt, "the engine must ack what it accepted (no drops)");
	cr_assert_eq(p.eng_wnd, 0, "the engine's window should have closed (it is %u)", p.eng_wnd);
	/* a zero-window probe may carry one byte (RFC 9293 3.8.6.1), no more */
	cr_assert_leq(p.rxlen, 1, "the engine sent %zu bytes into a zero window", p.rxlen);

	/* open the window: everything accepted comes back */
	for (int i = 0; i < 20000 && p.rxlen < sent; i++) {
		peer_send(p.sport, p.dport, F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
		run_for(MSEC(1));
		peer_drain(&p);
	}
	cr_assert_eq(p.rxlen, sent, "echoed %zu of %zu bytes", p.rxlen, sent);
	cr_assert_arr_eq(p.rx, buf, sent);
	free(p.rx);
}

/* Memory: an idle echo connection that has exchanged data holds no buffer of the
 * service's own. The 16 KiB echo reads into exist only while data is in hand
 * (every idle connection held them, 17 KiB of engine RSS per connection with
 * 10 000 of them), and the receive queue read empty is given back; what stays is
 * the socket and its send queue's first allocation, about 3.5 KiB. */
Test(services, echo_idle_connections_hold_no_buffer)
{
	enum { NCONN = 200 };
	static struct peer ps[NCONN];
	static const char msg[64] = "sixty-four bytes, then idle";
	size_t m0, m1;
	double per;

	m0 = mallinfo2().uordblks;
	for (int i = 0; i < NCONN; i++) {
		struct peer *p = &ps[i];

		peer_connect(p, (uint16_t)(41000 + i), 7);
		run_for(MSEC(1));
		peer_data(p, msg, sizeof(msg));
		run_for(MSEC(1));
		peer_drain(p);
		cr_assert_eq(p->rxlen, sizeof(msg), "connection %d: echoed %zu bytes", i, p->rxlen);
		peer_send(p->sport, p->dport, F_ACK, p->snd_nxt, p->rcv_nxt, 65535, NULL, 0);
		run_for(MSEC(1));
		cr_assert_eq(peer_drain(p), 0, "connection %d: not idle", i);
	}
	m1 = mallinfo2().uordblks;
	cr_assert_eq(sock_svc_conns(eng), NCONN);
	per = (double)(m1 - m0) / NCONN;
	cr_log_info("%.0f heap bytes per idle echo connection", per);
	cr_assert_lt(per, 5120.0, "an idle echo connection holds %.0f bytes", per);
	for (int i = 0; i < NCONN; i++)
		free(ps[i].rx);
}

Test(services, discard_acks_and_sends_nothing)
{
	struct peer p;
	static uint8_t buf[1000];

	memset(buf, 'x', sizeof(buf));
	peer_connect(&p, 40003, 9);
	for (int i = 0; i < 20; i++) {
		peer_data(&p, buf, sizeof(buf));
		if (i % 4 == 3) {
			run_for(MSEC(250));
			peer_drain(&p);
		}
	}
	run_for(MSEC(500));
	peer_drain(&p);
	cr_assert_eq(p.eng_una, p.snd_nxt, "discard did not acknowledge everything");
	cr_assert_eq(p.rxlen, 0, "discard sent %zu bytes", p.rxlen);
	/* the data was consumed: the engine's window is open again */
	cr_assert_geq(p.eng_wnd, 20000u, "window %u: discard did not read", p.eng_wnd);
	peer_send(p.sport, p.dport, F_FIN | F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
	p.snd_nxt++;
	run_for(MSEC(300));
	peer_drain(&p);
	cr_assert(p.got_fin, "discard did not close after the peer's FIN");
	cr_assert_eq(sock_svc_conns(eng), 0);
	free(p.rx);
}

Test(services, chargen_pattern_byte_function)
{
	/* RFC 864: line 0 holds characters 0..71 of the 95 printable ones, line 1
	 * characters 1..72, each followed by CR LF */
	char line0[75], line1[75];
	for (int i = 0; i < 74; i++) {
		line0[i] = sock_svc_chargen_byte((uint64_t)i);
		line1[i] = sock_svc_chargen_byte((uint64_t)(74 + i));
	}
	line0[74] = line1[74] = 0;
	cr_assert_str_eq(line0, " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n");
	cr_assert_str_eq(line1, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefgh\r\n");
	/* line 94 wraps round the ring; the stream repeats after 95 lines */
	cr_assert_eq(sock_svc_chargen_byte(94 * 74), '~');
	cr_assert_eq(sock_svc_chargen_byte(94 * 74 + 1), ' ');
	for (uint64_t i = 0; i < 300; i++)
		cr_assert_eq(sock_svc_chargen_byte(i), sock_svc_chargen_byte(i + SOCK_SVC_CHARGEN_CYCLE));
}

Test(services, chargen_sends_the_rfc_pattern_within_the_window)
{
	struct peer p;

	peer_connect(&p, 40004, 19);
	/* the peer offers 65535 bytes and never acks: the engine fills the window, no more */
	run_for(MSEC(100));
	peer_drain(&p);
	cr_assert_gt(p.rxlen, 0, "chargen sent nothing");
	cr_assert_leq(p.rxlen, 65535, "chargen sent %zu bytes past the peer's window", p.rxlen);
	/* ack as we go: the stream keeps coming, following the pattern */
	for (int i = 0; i < 50 && p.rxlen < 300000; i++) {
		peer_send(p.sport, p.dport, F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
		run_for(MSEC(5));
		peer_drain(&p);
	}
	cr_assert_geq(p.rxlen, 300000, "chargen sent only %zu bytes", p.rxlen);
	for (size_t i = 0; i < p.rxlen; i++)
		if (p.rx[i] != (uint8_t)sock_svc_chargen_byte(i))
			cr_assert_fail("byte %zu is %#x, want %#x", i, p.rx[i],
				       (uint8_t)sock_svc_chargen_byte(i));
	/* input is discarded, and the peer's FIN ends the service */
	peer_data(&p, "ignored", 7);
	peer_send(p.sport, p.dport, F_FIN | F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
	p.snd_nxt++;
	for (int i = 0; i < 50 && !p.got_fin; i++) {
		run_for(MSEC(5));
		peer_drain(&p);
		peer_send(p.sport, p.dport, F_ACK, p.snd_nxt, p.rcv_nxt, 65535, NULL, 0);
	}
	cr_assert(p.got_fin, "chargen did not close after the peer's FIN");
	cr_assert_eq(p.eng_una, p.snd_nxt);
	free(p.rx);
}

Test(services, syn_to_closed_port_is_reset)
{
	static struct out o;

	peer_send(40005, 8, F_SYN, 5000, 0, 65535, NULL, 0);
	cr_assert(engine_out(&o), "no answer to a SYN to a closed port");
	/* RFC 9293 3.10.7.1: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> */
	cr_assert_eq(o.flags & (F_RST | F_ACK | F_SYN), F_RST | F_ACK);
	cr_assert_eq(o.seq, 0);
	cr_assert_eq(o.ack, 5001);
}

Test(services, stop_closes_listeners)
{
	static struct out o;
	struct peer p;

	peer_connect(&p, 40006, 7);
	cr_assert_eq(sock_svc_conns(eng), 1);
	sock_svc_stop(eng, now);
	cr_assert_eq(sock_svc_conns(eng), 0);
	cr_assert_null(eng->svc);
	memlink_clear(lnk);
	peer_send(40007, 9, F_SYN, 7000, 0, 65535, NULL, 0);
	cr_assert(engine_out(&o));
	cr_assert(o.flags & F_RST, "a stopped service still answers SYNs");
	free(p.rx);
}
