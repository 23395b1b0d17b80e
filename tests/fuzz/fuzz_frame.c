/* fuzz_frame.c - libFuzzer target: byte streams of frames through eng_input() and eng_poll(). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/csum.h"
#include "base/time.h"
#include "eng.h"
#include "eth/arp.h"
#include "eth/eth.h"
#include "link/link.h"

/*
 * Input format (also that of corpus/frame/):
 *   byte 0          setup: bit 0 = the peer 10.77.0.1 is in the ARP cache,
 *                          bit 1 = eng_start() (gratuitous ARP)
 *   then records    ctl (1 byte), len (2 bytes big-endian), len bytes of frame
 *                   ctl bit 0 = LINK_RX_CSUM_OK; ctl >> 1 = advance the fake
 *                   clock by that many 100 ms and run eng_poll() first.
 *                   A short last record takes what is left.
 * After the last record the clock jumps past every timeout (ARP retries,
 * reassembly) and eng_poll() runs again.
 *
 * Besides the sanitizers, every frame the engine sends is checked: Ethernet
 * header present, no larger than the MTU, IPv4 headers with a right checksum
 * and a total length equal to the frame's, ARP frames of 42 bytes.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
unsigned long fuzz_frames_fed;   /* for the corpus replay test */

static void check_tx(struct link *link)
{
	struct memlink_frame *f;

	while ((f = memlink_pop(link))) {
		if (f->len < ETH_HLEN || f->len > ETH_HLEN + link->mtu)
			abort();
		uint16_t type = get_be16(f->data + 12);
		const uint8_t *ip = f->data + ETH_HLEN;
		if (type == ETH_TYPE_IPV4) {
			if (f->len < ETH_HLEN + 20 || ip[0] != 0x45)
				abort();
			if (csum_fold(csum_partial(ip, 20, 0)) != 0)
				abort();
			if (get_be16(ip + 2) != f->len - ETH_HLEN)
				abort();
		} else if (type == ETH_TYPE_ARP) {
			if (f->len != ETH_HLEN + 28)
				abort();
		} else {
			abort();
		}
		free(f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t peer_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
	struct eng_config cfg;
	struct link *link;
	struct eng *eng;
	uint64_t now = SEC(1000);

	if (size < 1)
		return 0;
	eng_config_default(&cfg);
	cfg.secret[0] = 1;
	cfg.secret[1] = 2;
	link = memlink_new(1500, 0);
	if (!link)
		return 0;
	eng = eng_new(&cfg, link, now);
	if (!eng) {
		link_destroy(link);
		return 0;
	}
	if (data[0] & 1)
		arp_insert(eng, cfg.gateway, peer_mac, now);
	if (data[0] & 2)
		eng_start(eng, now);
	size_t i = 1;
	while (i < size) {
		uint8_t ctl = data[i++];
		size_t len = 0;

		if (size - i >= 2) {
			len = get_be16(data + i);
			i += 2;
		}
		if (len > size - i)
			len = size - i;
		if (ctl >> 1) {
			now += MSEC(100) * (ctl >> 1);
			eng_poll(eng, now);
		}
		/* a copy of exactly len bytes, so ASan sees any read past it */
		uint8_t *frame = malloc(len ? len : 1);
		if (!frame)
			break;
		memcpy(frame, data + i, len);
		eng_input(eng, frame, len, ctl & 1 ? LINK_RX_CSUM_OK : 0, now);
		fuzz_frames_fed++;
		free(frame);
		i += len;
		check_tx(link);
	}
	eng_poll(eng, now + SEC(1));
	eng_poll(eng, now + SEC(2));
	eng_poll(eng, now + SEC(3));
	eng_poll(eng, now + SEC(31));
	eng_poll(eng, now + SEC(65));
	check_tx(link);
	eng_free(eng);
	link_destroy(link);
	return 0;
}
