/* test_pcap.c - the pcap writer and recording link (engine/link/pcap.h): the file
 * read back byte by byte, and by tcpdump when it is installed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link/link.h"
#include "link/pcap.h"

static char path[128];

static void setup(void)
{
	snprintf(path, sizeof(path), "/tmp/tsk-test-pcap-%d.pcap", (int)getpid());
}
static void teardown(void) { unlink(path); }

static uint8_t *slurp(size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = malloc(1 << 20);

	cr_assert_not_null(f);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static uint32_t u32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t u16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

Test(pcap, header_and_records, .init = setup, .fini = teardown)
{
	struct pcap_writer *w;
	uint8_t f1[60], f2[1514];
	size_t len;

	for (size_t i = 0; i < sizeof(f1); i++)
		f1[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(f2); i++)
		f2[i] = (uint8_t)(255 - i);
	cr_assert_eq(pcap_open(path, &w), 0);
	cr_assert_eq(pcap_write(w, f1, sizeof(f1), 1700000000123456789ull), 0);
	cr_assert_eq(pcap_write(w, f2, sizeof(f2), 1700000001000001999ull), 0);
	cr_assert_eq(pcap_frames(w), 2);
	cr_assert_eq(pcap_close(w), 0);

	uint8_t *b = slurp(&len);
	cr_assert_eq(len, 24 + 16 + 60 + 16 + 1514);
	cr_assert_eq(u32(b), 0xa1b2c3d4u, "microsecond magic");
	cr_assert_eq(u16(b + 4), 2);
	cr_assert_eq(u16(b + 6), 4);
	cr_assert_eq(u32(b + 16), 65535, "snaplen");
	cr_assert_eq(u32(b + 20), 1, "LINKTYPE_ETHERNET");
	const uint8_t *r = b + 24;
	cr_assert_eq(u32(r), 1700000000u);
	cr_assert_eq(u32(r + 4), 123456u, "microseconds, truncated");
	cr_assert_eq(u32(r + 8), 60);
	cr_assert_eq(u32(r + 12), 60);
	cr_assert_eq(memcmp(r + 16, f1, 60), 0);
	r += 16 + 60;
	cr_assert_eq(u32(r), 1700000001u);
	cr_assert_eq(u32(r + 4), 1u);
	cr_assert_eq(u32(r + 8), 1514);
	cr_assert_eq(memcmp(r + 16, f2, 1514), 0);
	free(b);
}

Test(pcap, long_frames_cut_at_snaplen, .init = setup, .fini = teardown)
{
	struct pcap_writer *w;
	size_t big = 65536 + 14, len;
	uint8_t *f = calloc(1, big);

	cr_assert_eq(pcap_open(path, &w), 0);
	cr_assert_eq(pcap_write(w, f, big, 0), 0);
	cr_assert_eq(pcap_close(w), 0);
	uint8_t *b = slurp(&len);
	cr_assert_eq(u32(b + 24 + 8), 65535, "caplen is the snaplen");
	cr_assert_eq(u32(b + 24 + 12), big, "original length kept");
	cr_assert_eq(len, 24 + 16 + 65535);
	free(b);
	free(f);
}

Test(pcap, open_fails_cleanly)
{
	struct pcap_writer *w = (void *)1;

	cr_assert_lt(pcap_open("/nonexistent-dir/x.pcap", &w), 0);
	cr_assert_null(w);
}

Test(pcap, link_wrapper_records_tx_and_rx, .init = setup, .fini = teardown)
{
	struct link *mem = memlink_new(1500, LINK_F_TX_CSUM);
	struct link *l = pcap_link_new(mem);
	struct pcap_writer *w;
	static struct pkt p;
	size_t len;

	cr_assert_eq(l->mtu, 1500);
	cr_assert_eq(l->features, LINK_F_TX_CSUM);
	pkt_reset(&p);
	memset(pkt_put(&p, 100), 0xab, 100);
	/* not recording: the frame still goes through */
	cr_assert_eq(link_tx(l, &p), 0);
	cr_assert_eq(memlink_count(mem), 1);
	cr_assert_eq(pcap_open(path, &w), 0);
	cr_assert_null(pcap_link_set_writer(l, w));
	cr_assert_eq(link_tx(l, &p), 0);
	pcap_link_rx(l, (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x08\x00", 14);
	cr_assert_eq(memlink_count(mem), 2);
	/* a failing inner link: nothing recorded for that frame */
	memlink_fail(mem, -ENOBUFS);
	cr_assert_eq(link_tx(l, &p), -ENOBUFS);
	cr_assert_eq(pcap_frames(w), 2);
	cr_assert_eq(pcap_link_set_writer(l, NULL), w);
	cr_assert_eq(pcap_close(w), 0);
	uint8_t *b = slurp(&len);
	cr_assert_eq(len, 24 + 16 + 100 + 16 + 14);
	cr_assert_eq(b[24 + 16], 0xab);
	cr_assert_eq(b[24 + 16 + 100 + 16], 0x01);
	free(b);
	link_destroy(l);   /* destroys the memory link too */
}

Test(pcap, tcpdump_reads_it, .init = setup, .fini = teardown)
{
	/* an ARP request, as tcpdump would print it */
	static const uint8_t arp[42] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x74, 0x73, 0x6b, 0x00, 0x02, 0x08, 0x06,
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x74, 0x73, 0x6b, 0x00, 0x02,
		10, 77, 0, 2, 0, 0, 0, 0, 0, 0, 10, 77, 0, 1,
	};
	struct pcap_writer *w;
	char cmd[256], line[512] = "";
	FILE *p;

	if (system("command -v tcpdump >/dev/null 2>&1") != 0)
		cr_skip_test("tcpdump is not installed: reading the file back with it is skipped");
	cr_assert_eq(pcap_open(path, &w), 0);
	cr_assert_eq(pcap_write(w, arp, sizeof(arp), 1700000000000000000ull), 0);
	cr_assert_eq(pcap_close(w), 0);
	snprintf(cmd, sizeof(cmd), "tcpdump -n -r %s 2>&1", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t got = fread(line, 1, sizeof(line) - 1, p);
	line[got] = '\0';
	cr_assert_eq(pclose(p), 0, "tcpdump failed: %s", line);
	cr_assert(strstr(line, "Request who-has 10.77.0.1 tell 10.77.0.2"), "tcpdump said: %s", line);
}
