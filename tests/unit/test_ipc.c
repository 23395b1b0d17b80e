/* test_ipc.c - the control protocol (engine/ipc/ipc.h): parse of malformed and
 * truncated messages, request dispatch, and a whole request/reply over a socket
 * pair, multi-part replies included. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "eng.h"
#include "ipc/ipc.h"
#include "ipc/ipc_server.h"

static size_t emit_req(uint8_t *buf, uint16_t type, const void *pl, uint32_t len)
{
	struct ipc_hdr h = { .type = type, .seq = 7, .len = len };
	int n = ipc_emit(buf, IPC_MSG_MAX, &h, pl);

	cr_assert_gt(n, 0);
	return (size_t)n;
}

Test(ipc_parse, roundtrip)
{
	uint8_t buf[IPC_MSG_MAX];
	struct ipc_hdr h;
	const uint8_t *pl;
	size_t n = emit_req(buf, IPC_CAPTURE_START, "/tmp/x.pcap", 11);

	cr_assert_eq(n, IPC_HDR_LEN + 11);
	cr_assert_eq(memcmp(buf, "TSK1", 4), 0, "magic reads TSK1 on the wire");
	cr_assert_eq(ipc_parse(buf, n, &h, &pl), 0);
	cr_assert_eq(h.type, IPC_CAPTURE_START);
	cr_assert_eq(h.seq, 7);
	cr_assert_eq(h.len, 11);
	cr_assert_eq(memcmp(pl, "/tmp/x.pcap", 11), 0);
}

Test(ipc_parse, rejects_truncated_and_garbage)
{
	uint8_t buf[IPC_MSG_MAX];
	struct ipc_hdr h;
	const uint8_t *pl;
	size_t n = emit_req(buf, IPC_PING, "abcd", 4);

	/* every truncation of a valid message is refused, never read past */
	for (size_t cut = 0; cut < n; cut++)
		cr_assert_eq(ipc_parse(buf, cut, &h, &pl), -EINVAL, "cut at %zu", cut);
	/* trailing bytes the header does not announce */
	cr_assert_eq(ipc_parse(buf, n + 1, &h, &pl), -EINVAL);
	/* a length that claims more than the datagram */
	struct ipc_hdr big = { .magic = IPC_MAGIC, .type = IPC_PING, .len = 0xffffffffu };
	memcpy(buf, &big, sizeof(big));
	cr_assert_eq(ipc_parse(buf, IPC_HDR_LEN, &h, &pl), -EINVAL);
	/* wrong magic */
	n = emit_req(buf, IPC_PING, NULL, 0);
	buf[0] ^= 0x20;
	cr_assert_eq(ipc_parse(buf, n, &h, &pl), -EINVAL);
	cr_assert_eq(ipc_parse(NULL, 0, &h, &pl), -EINVAL);
}

Test(ipc_parse, emit_refuses_overflow)
{
	uint8_t buf[64];
	struct ipc_hdr h = { .type = IPC_INFO, .len = 100 };
	char pl[100] = { 0 };

	cr_assert_eq(ipc_emit(buf, sizeof(buf), &h, pl), -EMSGSIZE);
	cr_assert_eq(ipc_emit(buf, 10, &(struct ipc_hdr){ .type = IPC_PING }, NULL), -EMSGSIZE);
}

Test(ipc_parse, abstract_address)
{
	struct sockaddr_un sa;
	int n = ipc_addr("default", &sa);

	cr_assert_gt(n, 0);
	cr_assert_eq(sa.sun_path[0], '\0', "abstract namespace");
	cr_assert_eq(memcmp(sa.sun_path + 1, "tapsock/default", 15), 0);
	cr_assert_eq((size_t)n, offsetof(struct sockaddr_un, sun_path) + 16);
	cr_assert_lt(ipc_addr("", &sa), 0);
	cr_assert_lt(ipc_addr("a/b", &sa), 0);
	char longname[200];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	cr_assert_eq(ipc_addr(longname, &sa), -ENAMETOOLONG);
}

/* ---- the server's dispatch, with a fake daemon behind it ---- */

static struct fake {
	char path[256];
	int starts, stops, quits;
	size_t info_len;   /* how much text info returns */
} fk;

static size_t fake_info(void *arg, char *buf, size_t cap)
{
	(void)arg;
	size_t n = fk.info_len < cap ? fk.info_len : cap - 1;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + i % 26);
	buf[n] = '\0';
	return n;
}
static int fake_start(void *arg, const char *path)
{
	(void)arg;
	snprintf(fk.path, sizeof(fk.path), "%s", path);
	fk.starts++;
	return 0;
}
static int fake_stop(void *arg, char *buf, size_t cap, size_t *outlen)
{
	(void)arg;
	fk.stops++;
	*outlen = (size_t)snprintf(buf, cap, "frames %d\n", 12);
	return 0;
}
static void fake_quit(void *arg) { (void)arg; fk.quits++; }

static const struct ipc_server_ops fake_ops = {
	.info = fake_info, .capture_start = fake_start, .capture_stop = fake_stop,
	.quit = fake_quit,
};

static struct eng fake_eng;
static struct ipc_server *srv;
static char out[1 << 20];

static void setup(void)
{
	char name[64];

	memset(&fk, 0, sizeof(fk));
	memset(&fake_eng, 0, sizeof(fake_eng));
	snprintf(name, sizeof(name), "unit-%d", (int)getpid());
	cr_assert_eq(ipc_server_open(name, &fake_eng, &fake_ops, &srv), 0);
}
static void teardown(void) { ipc_server_close(srv); }

static int dispatch(uint16_t type, const void *pl, uint32_t len, int admin, size_t *outlen)
{
	struct ipc_hdr h = { .magic = IPC_MAGIC, .type = type, .len = len };
	return ipc_server_dispatch(srv, &h, pl, admin, out, sizeof(out), outlen);
}

Test(ipc_dispatch, stats_text, .init = setup, .fini = teardown)
{
	size_t n;
	uint32_t all = 1;

	fake_eng.stats.cnt[CNT_LINK_RX_FRAMES] = 42;
	fake_eng.stats.drop[DROP_IP_BAD_CSUM] = 3;
	cr_assert_eq(dispatch(IPC_STATS, NULL, 0, 0, &n), 0);
	cr_assert_eq(n, strlen(out));
	cr_assert(strstr(out, "link_rx_frames 42\n"));
	cr_assert(strstr(out, "drop.ip_bad_csum 3\n"));
	cr_assert_null(strstr(out, "link_tx_frames"), "zero counters left out");
	cr_assert_eq(dispatch(IPC_STATS, &all, sizeof(all), 0, &n), 0);
	cr_assert(strstr(out, "link_tx_frames 0\n"), "all=1 lists zero counters");
	cr_assert_eq(dispatch(IPC_STATS, "xy", 2, 0, &n), -EINVAL);
}

Test(ipc_dispatch, admin_requests_need_privilege, .init = setup, .fini = teardown)
{
	size_t n;

	cr_assert_eq(dispatch(IPC_CAPTURE_START, "/tmp/a.pcap", 11, 0, &n), -EPERM);
	cr_assert_eq(dispatch(IPC_CAPTURE_STOP, NULL, 0, 0, &n), -EPERM);
	cr_assert_eq(dispatch(IPC_QUIT, NULL, 0, 0, &n), -EPERM);
	cr_assert_eq(fk.starts + fk.stops + fk.quits, 0);
	cr_assert_eq(dispatch(IPC_CAPTURE_START, "/tmp/a.pcap", 11, 1, &n), 0);
	cr_assert_str_eq(fk.path, "/tmp/a.pcap");
	cr_assert_eq(dispatch(IPC_CAPTURE_START, "/tmp/b.pcap", 12, 1, &n), 0, "trailing NUL ok");
	cr_assert_str_eq(fk.path, "/tmp/b.pcap");
	cr_assert_eq(dispatch(IPC_CAPTURE_STOP, NULL, 0, 1, &n), 0);
	cr_assert_eq(fk.stops, 1);
	cr_assert_str_eq(out, "frames 12\n", "the stop reply describes the capture");
	cr_assert_eq(n, 10);
}

Test(ipc_dispatch, malformed_payloads, .init = setup, .fini = teardown)
{
	size_t n;

	cr_assert_eq(dispatch(IPC_CAPTURE_START, NULL, 0, 1, &n), -EINVAL, "empty path");
	cr_assert_eq(dispatch(IPC_CAPTURE_START, "/tmp\0/x", 7, 1, &n), -EINVAL, "NUL inside");
	cr_assert_eq(dispatch(IPC_PING, "x", 1, 0, &n), -EINVAL);
	cr_assert_eq(dispatch(IPC_INFO, "x", 1, 0, &n), -EINVAL);
	cr_assert_eq(dispatch(IPC_QUIT, "x", 1, 1, &n), -EINVAL);
	cr_assert_eq(dispatch(999, NULL, 0, 1, &n), -ENOSYS, "unknown type");
	cr_assert_eq(dispatch(IPC_SOCK_FIRST, NULL, 0, 1, &n), -ENOSYS);
	cr_assert_eq(fk.starts, 0);
}

/* ---- over a real SOCK_SEQPACKET pair: client library against the server ---- */

struct srv_thread { int slot; int requests; };

static void *serve(void *arg)
{
	struct srv_thread *st = arg;
	int fd = ipc_server_client_fd(srv, st->slot);

	for (int i = 0; i < st->requests; i++) {
		uint8_t *buf = ipc_server_client_buf(srv, st->slot);
		ssize_t n = recv(fd, buf, IPC_MSG_MAX, 0);
		if (n <= 0)
			break;
		ipc_server_request(srv, st->slot, buf, (size_t)n);
	}
	return NULL;
}

static int pair_with_server(struct srv_thread *st, pthread_t *th, int requests)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	st->slot = ipc_server_add_client(srv, sv[1]);
	cr_assert_geq(st->slot, 0);
	st->requests = requests;
	cr_assert_eq(pthread_create(th, NULL, serve, st), 0);
	return sv[0];
}

Test(ipc_wire, ping_and_multipart_reply, .init = setup, .fini = teardown)
{
	struct srv_thread st;
	struct ipc_reply rep;
	pthread_t th;
	int fd = pair_with_server(&st, &th, 3);

	cr_assert_eq(ipc_request(fd, IPC_PING, NULL, 0, &rep, 5000), 0);
	cr_assert_eq(rep.status, 0);
	cr_assert_eq(rep.len, 0);
	ipc_reply_free(&rep);

	/* 40000 bytes do not fit one datagram: three parts, reassembled in order */
	fk.info_len = 40000;
	cr_assert_eq(ipc_request(fd, IPC_INFO, NULL, 0, &rep, 5000), 0);
	cr_assert_eq(rep.status, 0);
	cr_assert_eq(rep.len, 40000);
	for (size_t i = 0; i < rep.len; i++)
		cr_assert_eq(rep.data[i], (char)('a' + i % 26), "byte %zu", i);
	ipc_reply_free(&rep);

	cr_assert_eq(ipc_request(fd, 4242, NULL, 0, &rep, 5000), 0);
	cr_assert_eq(rep.status, -ENOSYS);
	ipc_reply_free(&rep);
	pthread_join(th, NULL);
	close(fd);
}

Test(ipc_wire, garbage_gets_einval_not_a_crash, .init = setup, .fini = teardown)
{
	struct srv_thread st;
	pthread_t th;
	int fd = pair_with_server(&st, &th, 3);
	uint8_t buf[IPC_MSG_MAX];
	struct ipc_hdr h;
	const uint8_t *pl;
	ssize_t n;

	/* shorter than a header */
	cr_assert_eq(send(fd, "TSK", 3, 0), 3);
	n = recv(fd, buf, sizeof(buf), 0);
	cr_assert_eq(ipc_parse(buf, (size_t)n, &h, &pl), 0);
	cr_assert_eq(h.status, -EINVAL);
	/* a header announcing more payload than was sent */
	struct ipc_hdr lie = { .magic = IPC_MAGIC, .type = IPC_PING, .seq = 9, .len = 100 };
	memcpy(buf, &lie, sizeof(lie));
	cr_assert_eq(send(fd, buf, sizeof(lie) + 10, 0), (ssize_t)sizeof(lie) + 10);
	n = recv(fd, buf, sizeof(buf), 0);
	cr_assert_eq(ipc_parse(buf, (size_t)n, &h, &pl), 0);
	cr_assert_eq(h.status, -EINVAL);
	cr_assert_eq(h.seq, 9, "the reply still names the request");
	/* and the server still answers properly afterwards */
	struct ipc_reply rep;
	cr_assert_eq(ipc_request(fd, IPC_PING, NULL, 0, &rep, 5000), 0);
	cr_assert_eq(rep.status, 0);
	ipc_reply_free(&rep);
	pthread_join(th, NULL);
	close(fd);
}

Test(ipc_wire, second_server_of_a_name_is_refused, .init = setup, .fini = teardown)
{
	char name[64];
	struct ipc_server *again;

	snprintf(name, sizeof(name), "unit-%d", (int)getpid());
	cr_assert_eq(ipc_server_open(name, NULL, NULL, &again), -EADDRINUSE);
	/* and a client finds the running one by name */
	int fd = ipc_connect(name);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_lt(ipc_connect("no-such-engine-here"), 0);
}
