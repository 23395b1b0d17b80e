/* pktscript.c - the packetdrill-like script runner (see pktscript.h; RFC 9293 for what the scripts check). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pktscript.h"
#include "tcph.h"

#define MAXFD 64

struct script {
	const char *path;
	int line;
	uint64_t t0, last;       /* start and the previous line's time */
	struct tcp_sock *fd[MAXFD];
	int next_fd;
	bool have_iss;
	uint8_t payload[65536];
};

#define fail(sc, ...) cr_assert_fail("%s:%d: %s", (sc)->path, (sc)->line, fmtmsg(__VA_ARGS__))

static const char *fmtmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *fmtmsg(const char *fmt, ...)
{
	static char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static const struct { const char *name; int v; } names[] = {
	{ "EINPROGRESS", EINPROGRESS }, { "EAGAIN", EAGAIN }, { "ECONNREFUSED", ECONNREFUSED },
	{ "ECONNRESET", ECONNRESET }, { "ETIMEDOUT", ETIMEDOUT }, { "EPIPE", EPIPE },
	{ "ENOTCONN", ENOTCONN }, { "EISCONN", EISCONN }, { "EALREADY", EALREADY },
	{ "EINVAL", EINVAL }, { "EADDRINUSE", EADDRINUSE }, { "EHOSTUNREACH", EHOSTUNREACH },
	{ "SHUT_RD", SHUT_RD }, { "SHUT_WR", SHUT_WR }, { "SHUT_RDWR", SHUT_RDWR },
	{ "TCP_NODELAY", TCP_NODELAY }, { "TCP_CORK", TCP_CORK }, { "TCP_KEEPIDLE", TCP_KEEPIDLE },
	{ "TCP_KEEPINTVL", TCP_KEEPINTVL }, { "TCP_KEEPCNT", TCP_KEEPCNT },
	{ "TCP_LINGER2", TCP_LINGER2 }, { "TCP_QUICKACK", TCP_QUICKACK },
	{ "TCP_MAXSEG", TCP_MAXSEG }, { "SO_KEEPALIVE", SO_KEEPALIVE },
	{ "SO_REUSEADDR", SO_REUSEADDR }, { "SO_LINGER", SO_LINGER }, { "SO_ERROR", SO_ERROR },
	{ "SO_RCVBUF", SO_RCVBUF }, { "SO_SNDBUF", SO_SNDBUF },
};

static long num(struct script *sc, const char *s)
{
	char *end;
	long v;

	s = trim((char *)s);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i].name))
			return names[i].v;
	v = strtol(s, &end, 0);
	if (end == s || *trim(end))
		fail(sc, "not a number or known name: '%s'", s);
	return v;
}

static struct tcp_sock *sock_of(struct script *sc, const char *arg)
{
	long fd = num(sc, arg);

	if (fd < 0 || fd >= MAXFD || !sc->fd[fd])
		fail(sc, "no socket with fd %ld", fd);
	return sc->fd[fd];
}

static void addr_port(struct script *sc, const char *arg, uint32_t *addr, uint16_t *port)
{
	char buf[64], *colon;

	snprintf(buf, sizeof(buf), "%s", arg);
	colon = strrchr(trim(buf), ':');
	if (!colon)
		fail(sc, "address:port expected, got '%s'", arg);
	*colon = 0;
	*port = (uint16_t)num(sc, colon + 1);
	if (!strcmp(trim(buf), "0.0.0.0") || !strcmp(trim(buf), "*"))
		*addr = 0;
	else if (inet_pton(AF_INET, trim(buf), addr) != 1)
		fail(sc, "bad address '%s'", buf);
}

/* Any segment we sent that no line asked for fails the script. */
static void no_unexpected(struct script *sc, const char *when)
{
	const struct tcp_seg *o = pop_out();

	if (o)
		fail(sc, "unexpected outbound segment %s: flags 0x%x seq %u ack %u len %u", when,
		     o->flags, o->seq - F.iss, o->ack - PISS, o->len);
}

static void learn_port(struct tcp_sock *s)
{
	if (s->c.lport)
		F.lport = s->c.lport;
}

/* --- calls -------------------------------------------------------------------- */

static int split_args(char *s, char **argv, int max)
{
	int n = 0;

	if (!*trim(s))
		return 0;
	for (char *p = s; n < max;) {
		char *c = strchr(p, ',');
		argv[n++] = trim(p);
		if (!c)
			break;
		*c = 0;
		p = c + 1;
	}
	return n;
}

static long do_call(struct script *sc, const char *name, char **a, int n)
{
	uint64_t now = F.now;

	if (!strcmp(name, "socket")) {
		if (sc->next_fd >= MAXFD)
			fail(sc, "too many sockets");
		sc->fd[sc->next_fd] = tcp_sock_new(F.eng);
		return sc->next_fd++;
	}
	if (n < 1)
		fail(sc, "%s: arguments missing", name);
	struct tcp_sock *s = sock_of(sc, a[0]);
	if (!strcmp(name, "bind") && n == 2) {
		uint32_t addr;
		uint16_t port;
		addr_port(sc, a[1], &addr, &port);
		long r = tcp_bind(s, addr, port);
		learn_port(s);
		return r;
	}
	if (!strcmp(name, "listen") && n == 2)
		return tcp_listen(s, (int)num(sc, a[1]));
	if (!strcmp(name, "connect") && n == 2) {
		uint32_t addr;
		uint16_t port;
		addr_port(sc, a[1], &addr, &port);
		F.rport = port;
		long r = tcp_connect(s, addr, port, now);
		learn_port(s);
		return r;
	}
	if (!strcmp(name, "accept")) {
		struct tcp_sock *c;
		long r = tcp_accept(s, &c);
		if (r < 0)
			return r;
		sc->fd[sc->next_fd] = c;
		return sc->next_fd++;
	}
	if (!strcmp(name, "close")) {
		long fd = num(sc, a[0]);
		sc->fd[fd] = NULL;
		return tcp_close(s, now);
	}
	if (!strcmp(name, "shutdown") && n == 2)
		return tcp_shutdown(s, (int)num(sc, a[1]), now);
	if ((!strcmp(name, "write") || !strcmp(name, "send")) && n >= 2) {
		long len = num(sc, a[1]);
		if (len < 0 || len > (long)sizeof(sc->payload))
			fail(sc, "bad length");
		return tcp_send(s, sc->payload, (size_t)len, n > 2 ? (int)num(sc, a[2]) : 0, now);
	}
	if ((!strcmp(name, "read") || !strcmp(name, "recv")) && n == 2) {
		static uint8_t buf[65536];
		long len = num(sc, a[1]);
		if (len < 0 || len > (long)sizeof(buf))
			fail(sc, "bad length");
		return tcp_recv(s, buf, (size_t)len, 0, now);
	}
	if (!strcmp(name, "setsockopt") && n == 3) {
		int opt = (int)num(sc, a[1]), v = (int)num(sc, a[2]);
		int level = (!strncmp(a[1], "SO_", 3)) ? SOL_SOCKET : IPPROTO_TCP;
		if (opt == SO_LINGER && level == SOL_SOCKET) {
			struct linger lg = { v >= 0, v >= 0 ? v : 0 };
			return tcp_setsockopt(s, level, opt, &lg, sizeof(lg), now);
		}
		return tcp_setsockopt(s, level, opt, &v, sizeof(v), now);
	}
	if (!strcmp(name, "getsockopt") && n == 2) {
		int opt = (int)num(sc, a[1]), v = 0;
		int level = (!strncmp(a[1], "SO_", 3)) ? SOL_SOCKET : IPPROTO_TCP;
		socklen_t l = sizeof(v);
		long r = tcp_getsockopt(s, level, opt, &v, &l);
		return r < 0 ? r : v;
	}
	fail(sc, "unknown call %s with %d arguments", name, n);
	return 0;
}

static void call(struct script *sc, char *text)
{
	char *open = strchr(text, '('), *close = strrchr(text, ')'), *eq;
	char *argv[8];
	long want, got;
	int n;

	if (!open || !close || close < open)
		fail(sc, "cannot parse call '%s'", text);
	eq = strchr(close, '=');
	if (!eq)
		fail(sc, "call without '= result': '%s'", text);
	*open = 0;
	*close = 0;
	n = split_args(open + 1, argv, 8);
	/* expected: N, -1 ENAME, or ENAME (getsockopt SO_ERROR) */
	{
		char *r = trim(eq + 1), *sp = strchr(r, ' ');
		if (sp && !strncmp(r, "-1", 2)) {
			want = -num(sc, sp + 1);
		} else {
			want = num(sc, r);
		}
	}
	if (!strcmp(trim(text), "socket"))
		n = 0;
	got = do_call(sc, trim(text), argv, n);
	if (got != want) {
		if (got < 0 && want < 0)
			fail(sc, "%s returned -%s, expected -%s", trim(text), strerrorname_np((int)-got),
			     strerrorname_np((int)-want));
		fail(sc, "%s returned %ld, expected %ld", trim(text), got, want);
	}
}

/* --- segments ------------------------------------------------------------------ */

struct segline {
	uint8_t flags;
	uint32_t start, end, len;
	bool has_ack, has_win, has_opts;
	uint32_t ack, win;
	unsigned opts;
	uint16_t mss;
	uint8_t ws;
	uint32_t tsval, tsecr;
};

static void parse_opts(struct script *sc, char *o, struct segline *sl)
{
	char *argv[16];
	int n = split_args(o, argv, 16);

	sl->has_opts = true;
	for (int i = 0; i < n; i++) {
		char *a = argv[i];
		if (!strcmp(a, "nop") || !*a)
			continue;
		if (!strncmp(a, "mss ", 4)) {
			sl->opts |= TCPOPT_F_MSS;
			sl->mss = (uint16_t)num(sc, a + 4);
		} else if (!strcmp(a, "sackOK")) {
			sl->opts |= TCPOPT_F_SACKOK;
		} else if (!strncmp(a, "wscale ", 7)) {
			sl->opts |= TCPOPT_F_WS;
			sl->ws = (uint8_t)num(sc, a + 7);
		} else if (!strncmp(a, "TS val ", 7)) {
			char *ecr = strstr(a, "ecr ");
			sl->opts |= TCPOPT_F_TS;
			if (!ecr)
				fail(sc, "TS without ecr");
			*(ecr - 1) = 0;
			sl->tsval = (uint32_t)num(sc, a + 7);
			sl->tsecr = (uint32_t)num(sc, ecr + 4);
		} else {
			fail(sc, "unknown option '%s'", a);
		}
	}
}

static void parse_seg(struct script *sc, char *t, struct segline *sl)
{
	char *o = strchr(t, '<'), *tok, *save = NULL;

	memset(sl, 0, sizeof(*sl));
	if (o) {
		char *e = strrchr(o, '>');
		if (!e)
			fail(sc, "options without '>'");
		*e = 0;
		*o = 0;
		parse_opts(sc, o + 1, sl);
	}
	tok = strtok_r(t, " \t", &save);
	if (!tok)
		fail(sc, "segment without flags");
	for (char *f = tok; *f; f++) {
		switch (*f) {
		case 'S': sl->flags |= TH_SYN; break;
		case 'F': sl->flags |= TH_FIN; break;
		case 'R': sl->flags |= TH_RST; break;
		case 'P': sl->flags |= TH_PSH; break;
		case '.': sl->flags |= TH_ACK; break;
		default: fail(sc, "unknown flag '%c'", *f);
		}
	}
	tok = strtok_r(NULL, " \t", &save);
	if (!tok || sscanf(tok, "%u:%u(%u)", &sl->start, &sl->end, &sl->len) != 3)
		fail(sc, "sequence 'start:end(len)' expected");
	if (sl->end - sl->start != sl->len)
		fail(sc, "end - start != len");
	while ((tok = strtok_r(NULL, " \t", &save))) {
		char *v = strtok_r(NULL, " \t", &save);
		if (!v)
			fail(sc, "'%s' without a value", tok);
		if (!strcmp(tok, "ack")) {
			sl->has_ack = true;
			sl->ack = (uint32_t)num(sc, v);
		} else if (!strcmp(tok, "win")) {
			sl->has_win = true;
			sl->win = (uint32_t)num(sc, v);
		} else {
			fail(sc, "unknown segment field '%s'", tok);
		}
	}
}

static void inbound(struct script *sc, char *t)
{
	struct segline sl;
	struct segspec sp;

	parse_seg(sc, t, &sl);
	no_unexpected(sc, "before an inbound segment");
	memset(&sp, 0, sizeof(sp));
	sp.flags = sl.flags;
	sp.seq = PISS + sl.start;
	if (sl.flags & TH_ACK) {
		if (!sc->have_iss)
			fail(sc, "an ACK before our ISN is known");
		sp.ack = F.iss + (sl.has_ack ? sl.ack : 0);
	}
	sp.win = (uint16_t)(sl.has_win ? sl.win : 65535);
	sp.sport = F.rport;
	sp.dport = F.lport;
	sp.opts = sl.opts;
	sp.mss = sl.mss;
	sp.ws = sl.ws;
	sp.tsval = sl.tsval;
	sp.tsecr = sl.tsecr;
	sp.data = sc->payload;
	sp.len = sl.len;
	if (sl.len > 2048)
		fail(sc, "inbound segments carry at most 2048 bytes here");
	seg_in(&sp);
}

static void outbound(struct script *sc, char *t)
{
	struct segline sl;
	const struct tcp_seg *o;
	unsigned have;

	parse_seg(sc, t, &sl);
	o = pop_out();
	if (!o)
		fail(sc, "expected an outbound segment, none sent");
	if ((o->flags & TH_SYN) && !sc->have_iss) {
		F.iss = o->seq;
		F.lport = o->sport;
		sc->have_iss = true;
	}
	if (o->flags != sl.flags)
		fail(sc, "outbound flags 0x%x, expected 0x%x (seq %u ack %u len %u)", o->flags,
		     sl.flags, o->seq - F.iss, o->ack - PISS, o->len);
	if (o->seq - F.iss != sl.start || o->len != sl.len)
		fail(sc, "outbound %u:%u(%u), expected %u:%u(%u)", o->seq - F.iss,
		     o->seq - F.iss + o->len, o->len, sl.start, sl.end, sl.len);
	if (sl.has_ack && o->ack - PISS != sl.ack)
		fail(sc, "outbound ack %u, expected %u", o->ack - PISS, sl.ack);
	if (sl.has_win && o->win != sl.win)
		fail(sc, "outbound win %u, expected %u", o->win, sl.win);
	if (sl.has_opts) {
		have = o->opts & (TCPOPT_F_MSS | TCPOPT_F_SACKOK | TCPOPT_F_WS | TCPOPT_F_TS);
		if (have != sl.opts)
			fail(sc, "outbound options 0x%x, expected 0x%x", have, sl.opts);
		if ((sl.opts & TCPOPT_F_MSS) && o->mss != sl.mss)
			fail(sc, "outbound mss %u, expected %u", o->mss, sl.mss);
		if ((sl.opts & TCPOPT_F_WS) && o->ws != sl.ws)
			fail(sc, "outbound wscale %u, expected %u", o->ws, sl.ws);
	}
}

/* --- lines ---------------------------------------------------------------------- */

static uint64_t parse_time(struct script *sc, char **p)
{
	char *s = *p, *end;
	bool rel = false;
	double v;

	if (*s == '+') {
		rel = true;
		s++;
	}
	v = strtod(s, &end);
	if (end == s || v < 0)
		fail(sc, "a time expected at the start of the line");
	*p = end;
	return (rel ? sc->last : sc->t0) + (uint64_t)(v * 1e9 + 0.5);
}

static void run_line(struct script *sc, char *line)
{
	uint64_t when = parse_time(sc, &line);
	char *save = NULL, *act;

	if (when < F.now)
		fail(sc, "time goes backwards");
	/* nothing may be sent before its time: stop 1 ms short and look */
	line = trim(line);
	if (when > F.now + MSEC(1)) {
		fx_advance(when - MSEC(1) - F.now);
		if (line[0] == '>')
			no_unexpected(sc, "earlier than the script says");
	}
	fx_advance(when - F.now);
	sc->last = when;
	for (act = strtok_r(line, ";", &save); act; act = strtok_r(NULL, ";", &save)) {
		act = trim(act);
		if (*act == '<')
			inbound(sc, act + 1);
		else if (*act == '>')
			outbound(sc, act + 1);
		else if (*act)
			call(sc, act);
	}
}

void pktscript_run(const char *path)
{
	struct script *sc = calloc(1, sizeof(*sc));
	char line[1024];
	FILE *f = fopen(path, "r");

	cr_assert(sc);
	cr_assert(f, "cannot open %s", path);
	sc->path = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	sc->t0 = sc->last = F.now;
	sc->next_fd = 3;
	for (size_t i = 0; i < sizeof(sc->payload); i++)
		sc->payload[i] = (uint8_t)('a' + i % 26);
	F.p_seq = PISS;
	while (fgets(line, sizeof(line), f)) {
		char *c, *l;

		sc->line++;
		if ((c = strstr(line, "//")))
			*c = 0;
		if ((c = strchr(line, '#')))
			*c = 0;
		l = trim(line);
		if (*l)
			run_line(sc, l);
	}
	fclose(f);
	no_unexpected(sc, "at the end of the script");
	free(sc);
}
