/* services.c - built-in TCP services: echo (RFC 862), discard (RFC 863), chargen (RFC 864), on the socket API of RFC 9293 3.9.1.
 *
 * Each service is a listener whose callback accepts every queued connection; each
 * connection is driven by its own socket callback, never by polling. The services
 * are well-behaved servers: echo stops reading while the peer does not take what it
 * owes (tcp_send -EAGAIN) and resumes on POLLOUT, so its memory is one bounded
 * buffer per connection and nothing is ever dropped; the buffer exists only while
 * the connection has data in hand, so an idle connection holds none (10 000 idle
 * echo connections held 16 KiB each before); when the peer half-closes,
 * echo sends everything still owed, then closes its side (FIN after the data). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "eng.h"
#include "base/log.h"
#include "base/time.h"
#include "sock/services.h"
#include "tcp/tcp_sock.h"

enum svc_kind { SVC_ECHO, SVC_DISCARD, SVC_CHARGEN, SVC__MAX };

static const struct {
	const char *name;
	unsigned flag;
	uint16_t port;
} svc_desc[SVC__MAX] = {
	[SVC_ECHO] = { "echo", ENG_SVC_ECHO, SOCK_SVC_ECHO_PORT },
	[SVC_DISCARD] = { "discard", ENG_SVC_DISCARD, SOCK_SVC_DISCARD_PORT },
	[SVC_CHARGEN] = { "chargen", ENG_SVC_CHARGEN, SOCK_SVC_CHARGEN_PORT },
};

/* Echo holds at most this much received-but-not-yet-sent data per connection: it
 * reads again only when the previous read has been handed to tcp_send(). The
 * buffer is allocated at the first read and freed once everything read was sent
 * and nothing more is readable. It cannot be shared: tcp_recv() and tcp_send()
 * run other connections' callbacks before they return. */
#define SVC_BUF 16384u
/* Buffers of idle echo connections kept for the next reader, so that a
 * request/response connection does not allocate and free 16 KiB per exchange. */
#define SVC_POOL 16
/* Discard reads and chargen writes in chunks of one TSO frame: each tcp_send()
 * runs tcp_output(), so a 16 KiB chunk left the engine as a 16 KiB frame (a
 * quarter of what one TAP write can carry) and cost four TAP writes per 64 KiB;
 * with 64 KiB chunks the frames average 55 KB instead of 16 KB. */
#define SVC_CHUNK 65536u
#define SVC_BACKLOG 128

struct sock_services;

struct svc_conn {
	struct svc_conn *next, *prev;
	struct sock_services *svcs;
	struct tcp_sock *s;
	enum svc_kind kind;
	unsigned busy : 1;   /* inside our callback: a nested call only marks `again` */
	unsigned again : 1;
	unsigned closed : 1; /* tcp_close() done: free once the outermost call returns */
	uint32_t off, len;   /* echo: buf[off..len) received, not yet accepted by tcp_send */
	uint64_t pos;        /* chargen: bytes of the stream sent so far */
	uint8_t *buf;        /* echo: SVC_BUF bytes while data is in hand, else NULL */
};

struct svc_listener {
	struct sock_services *svcs;
	struct tcp_sock *s;
	enum svc_kind kind;
};

struct sock_services {
	struct eng *eng;
	struct svc_listener lis[SVC__MAX];
	struct svc_conn head;            /* list sentinel */
	unsigned nconns;
	uint8_t *pool[SVC_POOL];         /* free echo buffers */
	unsigned npool;
	uint8_t scratch[SVC_CHUNK];      /* discard and chargen read into it */
	/* the chargen cycle followed by SVC_CHUNK more bytes of it, so that any chunk
	 * of up to SVC_CHUNK bytes starting anywhere in the cycle is contiguous */
	char chargen[SOCK_SVC_CHARGEN_CYCLE + SVC_CHUNK];
};

char sock_svc_chargen_byte(uint64_t i)
{
	uint64_t line = i / (SOCK_SVC_CHARGEN_LINE + 2);
	unsigned col = (unsigned)(i % (SOCK_SVC_CHARGEN_LINE + 2));

	if (col == SOCK_SVC_CHARGEN_LINE)
		return '\r';
	if (col == SOCK_SVC_CHARGEN_LINE + 1)
		return '\n';
	/* RFC 864: the 95 printable ASCII characters, each line shifted by one */
	return (char)(' ' + (line + col) % 95);
}

/* The socket callbacks are not handed the time: use the time of the engine entry
 * point (eng_input, eng_poll, eng_start) that is running them. */
static uint64_t svc_now(const struct sock_services *svcs)
{
	return svcs->eng->now;
}

static void conn_close(struct svc_conn *c, const char *why, int err)
{
	if (c->closed)
		return;
	if (err)
		log_debug("%s: connection closed: %s: %s", svc_desc[c->kind].name, why,
			  strerror(-err));
	tcp_close(c->s, svc_now(c->svcs));
	c->closed = 1;
}

static uint8_t *buf_get(struct sock_services *svcs)
{
	return svcs->npool ? svcs->pool[--svcs->npool] : malloc(SVC_BUF);
}

static void buf_put(struct sock_services *svcs, uint8_t *b)
{
	if (b && svcs->npool < SVC_POOL)
		svcs->pool[svcs->npool++] = b;
	else
		free(b);
}

static void conn_free(struct svc_conn *c)
{
	c->prev->next = c->next;
	c->next->prev = c->prev;
	c->svcs->nconns--;
	buf_put(c->svcs, c->buf);
	free(c);
}

/* RFC 862: "Once a connection is established any data received is sent back. This
 * continues until the calling user terminates the connection." */
static void echo_step(struct svc_conn *c)
{
	uint64_t now = svc_now(c->svcs);
	ssize_t n;

	for (;;) {
		if (c->off < c->len) {
			n = tcp_send(c->s, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL, now);
			if (n == -EAGAIN || n == 0)
				return;         /* the peer is slow: read nothing more until POLLOUT */
			if (n < 0)
				{ conn_close(c, "send", (int)n); return; }
			c->off += (uint32_t)n;
			if (c->off == c->len)
				c->off = c->len = 0;
			continue;
		}
		if (!c->buf && !(c->buf = buf_get(c->svcs)))
			{ conn_close(c, "recv", -ENOMEM); return; }
		n = tcp_recv(c->s, c->buf, SVC_BUF, 0, now);
		if (n == -EAGAIN) {
			/* idle: nothing owed, nothing to read */
			buf_put(c->svcs, c->buf);
			c->buf = NULL;
			return;
		}
		if (n < 0)
			{ conn_close(c, "recv", (int)n); return; }
		if (n == 0)
			/* The peer's FIN, and everything before it is queued for sending:
			 * close our side; the engine sends the FIN after the data. */
			{ conn_close(c, "peer closed", 0); return; }
		c->len = (uint32_t)n;
		c->off = 0;
	}
}

/* Read and drop whatever is readable. Returns 0 while the connection goes on,
 * 1 after the peer's FIN, or -errno. */
static int drain(struct svc_conn *c)
{
	ssize_t n;

	for (;;) {
		n = tcp_recv(c->s, c->svcs->scratch, SVC_CHUNK, 0, svc_now(c->svcs));
		if (n == -EAGAIN)
			return 0;
		if (n <= 0)
			return n == 0 ? 1 : (int)n;
	}
}

/* RFC 863: "simply throws away any data it receives"; closes when the peer does. */
static void discard_step(struct svc_conn *c)
{
	int r = drain(c);

	if (r != 0)
		conn_close(c, r < 0 ? "recv" : "peer closed", r < 0 ? r : 0);
}

/* RFC 864: "Once a connection is established the server sends a stream of data.
 * Any data received is thrown away. The server sends data until the calling user
 * terminates the connection." The peer's FIN ends it here too. */
static void chargen_step(struct svc_conn *c)
{
	struct sock_services *svcs = c->svcs;
	uint64_t now = svc_now(svcs);
	int r = drain(c);
	ssize_t n;

	if (r != 0)
		{ conn_close(c, r < 0 ? "recv" : "peer closed", r < 0 ? r : 0); return; }
	for (;;) {
		size_t at = (size_t)(c->pos % SOCK_SVC_CHARGEN_CYCLE);

		n = tcp_send(c->s, svcs->chargen + at, SVC_CHUNK, MSG_NOSIGNAL, now);
		if (n == -EAGAIN || n == 0)
			return;                 /* as fast as the window allows: on POLLOUT */
		if (n < 0)
			{ conn_close(c, "send", (int)n); return; }
		c->pos += (uint64_t)n;
	}
}

static void conn_step(struct svc_conn *c, unsigned events)
{
	if (events & POLLERR) {
		int err = 0;
		socklen_t len = sizeof(err);

		/* a reset, a keepalive or retransmission timeout: nothing more to do */
		if (tcp_getsockopt(c->s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err)
			{ conn_close(c, "socket error", -err); return; }
	}
	switch (c->kind) {
	case SVC_ECHO: echo_step(c); break;
	case SVC_DISCARD: discard_step(c); break;
	case SVC_CHARGEN: chargen_step(c); break;
	default: break;
	}
}

static void conn_cb(struct tcp_sock *s, unsigned events, void *arg)
{
	struct svc_conn *c = arg;
	unsigned rounds = 0;

	(void)s;
	if (c->busy) {
		/* called back from inside our own tcp_send/tcp_recv: run again after */
		c->again = 1;
		return;
	}
	c->busy = 1;
	do {
		c->again = 0;
		conn_step(c, events);
		if (c->closed)
			break;
		events = tcp_sock_events(c->s);
	} while (c->again && ++rounds < 1000);
	c->busy = 0;
	if (c->closed)
		conn_free(c);
}

static void set_keepalive(struct svc_conn *c)
{
	const struct eng_config *cfg = &c->svcs->eng->cfg;
	uint64_t now = svc_now(c->svcs);
	int one = 1, v, err;

	if (!cfg->svc_keepalive.on)
		return;
	err = tcp_setsockopt(c->s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one), now);
	/* TCP_KEEPIDLE/INTVL take whole seconds, as on Linux; 0 keeps the default */
	if (!err && cfg->svc_keepalive.idle) {
		v = (int)(cfg->svc_keepalive.idle / SEC(1)) ?: 1;
		err = tcp_setsockopt(c->s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v), now);
	}
	if (!err && cfg->svc_keepalive.intvl) {
		v = (int)(cfg->svc_keepalive.intvl / SEC(1)) ?: 1;
		err = tcp_setsockopt(c->s, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v), now);
	}
	if (!err && cfg->svc_keepalive.cnt) {
		v = (int)cfg->svc_keepalive.cnt;
		err = tcp_setsockopt(c->s, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v), now);
	}
	if (err)
		log_debug("%s: keepalive not set: %s", svc_desc[c->kind].name, strerror(-err));
}

static void conn_new(struct svc_listener *l, struct tcp_sock *s)
{
	struct sock_services *svcs = l->svcs;
	struct svc_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		log_debug("%s: out of memory for a new connection: closing it",
			  svc_desc[l->kind].name);
		tcp_close(s, svc_now(svcs));
		return;
	}
	c->svcs = svcs;
	c->s = s;
	c->kind = l->kind;
	c->next = &svcs->head;
	c->prev = svcs->head.prev;
	c->prev->next = c;
	svcs->head.prev = c;
	svcs->nconns++;
	set_keepalive(c);
	tcp_sock_set_cb(s, conn_cb, c);
	/* data (even a FIN) may have arrived before the accept: look now */
	conn_cb(s, tcp_sock_events(s), c);
}

static void listener_cb(struct tcp_sock *s, unsigned events, void *arg)
{
	struct svc_listener *l = arg;
	struct tcp_sock *child;
	int err;

	(void)events;
	for (;;) {
		err = tcp_accept(s, &child);
		if (err == -EAGAIN)
			return;
		if (err < 0) {
			log_debug("%s: accept: %s", svc_desc[l->kind].name, strerror(-err));
			return;
		}
		conn_new(l, child);
	}
}

static int listener_start(struct sock_services *svcs, enum svc_kind k, uint64_t now)
{
	struct svc_listener *l = &svcs->lis[k];
	struct tcp_sock *s = tcp_sock_new(svcs->eng);
	int one = 1, err;

	if (!s)
		return -ENOMEM;
	l->svcs = svcs;
	l->kind = k;
	tcp_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one), now);
	/* INADDR_ANY, as inetd: every address of this host */
	err = tcp_bind(s, 0, svc_desc[k].port);
	if (!err)
		err = tcp_listen(s, SVC_BACKLOG);
	if (err) {
		log_warn("%s: cannot listen on port %u: %s", svc_desc[k].name,
			 svc_desc[k].port, strerror(-err));
		tcp_close(s, now);
		return err;
	}
	tcp_sock_set_cb(s, listener_cb, l);
	l->s = s;
	log_debug("%s: listening on port %u", svc_desc[k].name, svc_desc[k].port);
	return 0;
}

int sock_svc_start(struct eng *eng, uint64_t now)
{
	struct sock_services *svcs;
	int ret = 0, err;
	size_t i;

	if (eng->svc || !eng->cfg.services)
		return 0;
	svcs = calloc(1, sizeof(*svcs));
	if (!svcs)
		return -ENOMEM;
	svcs->eng = eng;
	svcs->head.next = svcs->head.prev = &svcs->head;
	for (i = 0; i < sizeof(svcs->chargen); i++)
		svcs->chargen[i] = sock_svc_chargen_byte(i);
	eng->svc = svcs;
	for (i = 0; i < SVC__MAX; i++) {
		if (!(eng->cfg.services & svc_desc[i].flag))
			continue;
		err = listener_start(svcs, (enum svc_kind)i, now);
		if (err && !ret)
			ret = err;
	}
	return ret;
}

void sock_svc_stop(struct eng *eng, uint64_t now)
{
	struct sock_services *svcs = eng->svc;
	size_t i;

	if (!svcs)
		return;
	for (i = 0; i < SVC__MAX; i++)
		if (svcs->lis[i].s)
			tcp_close(svcs->lis[i].s, now);
	while (svcs->head.next != &svcs->head) {
		struct svc_conn *c = svcs->head.next;

		conn_close(c, "stopping", 0);
		conn_free(c);
	}
	while (svcs->npool)
		free(svcs->pool[--svcs->npool]);
	free(svcs);
	eng->svc = NULL;
}

unsigned sock_svc_conns(const struct eng *eng)
{
	return eng->svc ? eng->svc->nconns : 0;
}
