/* csum.c - the Internet checksum, RFC 1071 (computation), RFC 1624 (folding), RFC 793 pseudo-header. */
#include <arpa/inet.h>
#include <string.h>

#include "base/csum.h"

/* Fold a 64-bit one's complement accumulator to 16 bits (end-around carry). */
static inline uint32_t fold64(uint64_t s)
{
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffffffffu) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

/*
 * RFC 1071 section 2 (B) "byte order independence": summing the buffer as native
 * (little-endian) 16-bit words gives the byte-swapped sum of the big-endian words.
 * So the hot loop adds 32-bit native words into a 64-bit accumulator (carries
 * pile up in the top half, at most 2^32 additions before they could overflow,
 * which a 64 KB packet is far from) and one byte swap at the end restores the
 * network-order sum. Loads go through memcpy, so any alignment is fine; an odd
 * start address does not change the words summed, only how they are loaded.
 */
uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;
	uint64_t acc = 0;
	uint32_t w32;
	uint16_t w16;

	while (len >= 32) {
		uint64_t a, b, c, d;

		memcpy(&a, p, 8);
		memcpy(&b, p + 8, 8);
		memcpy(&c, p + 16, 8);
		memcpy(&d, p + 24, 8);
		/* add the 32-bit halves: each term < 2^33, no overflow for 2^30 rounds */
		acc += (a & 0xffffffffu) + (a >> 32) + (b & 0xffffffffu) + (b >> 32) +
		       (c & 0xffffffffu) + (c >> 32) + (d & 0xffffffffu) + (d >> 32);
		p += 32;
		len -= 32;
	}
	while (len >= 4) {
		memcpy(&w32, p, 4);
		acc += w32;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		acc += w16;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* the odd last byte is the high byte of a big-endian word padded with
		 * zero (RFC 1071 1(2)); in native little-endian terms, the low byte */
		uint8_t pad[2] = { p[0], 0 };

		memcpy(&w16, pad, 2);
		acc += w16;
	}
	uint32_t folded = fold64(acc);
	/* back to network order: bytes of the native word sum are swapped */
	folded = ntohs((uint16_t)folded);
	return fold64((uint64_t)folded + sum);
}

uint16_t csum_fold(uint32_t sum)
{
	return (uint16_t)~fold64(sum);
}

/* RFC 793 3.1 / RFC 9293 3.1: the TCP (and UDP) pseudo-header: source, destination,
 * zero, protocol, transport length. */
uint32_t csum_pseudo(uint32_t saddr_be, uint32_t daddr_be, uint8_t proto, uint16_t len)
{
	uint32_t s = ntohl(saddr_be), d = ntohl(daddr_be);
	uint64_t acc = (uint64_t)(s >> 16) + (s & 0xffff) + (d >> 16) + (d & 0xffff) +
		       proto + len;

	return fold64(acc);
}
