/* test_csum.c - the Internet checksum against RFC 1071's example and a plain reference. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "netutil.h"

/* RFC 1071 as written: 16-bit big-endian words, 32-bit sum, carries folded. */
static uint16_t ref_sum(const uint8_t *p, size_t len, uint32_t seed)
{
	uint64_t s = seed;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

Test(csum, rfc1071_example)
{
	/* RFC 1071 section 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 */
	const uint8_t b[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	cr_assert_eq(csum_fold(csum_partial(b, 8, 0)), (uint16_t)~0xddf2);
	/* odd alignment gives the same sum */
	uint8_t shifted[9];
	memcpy(shifted + 1, b, 8);
	cr_assert_eq(csum_fold(csum_partial(shifted + 1, 8, 0)), (uint16_t)~0xddf2);
}

Test(csum, empty_and_single_byte)
{
	const uint8_t b[1] = { 0xab };

	cr_assert_eq(csum_fold(csum_partial(b, 0, 0)), 0xffff);
	cr_assert_eq(csum_fold(csum_partial(b, 1, 0)), (uint16_t)~0xab00);
}

Test(csum, random_every_length_and_offset)
{
	uint8_t *buf = malloc(2000 + 8);

	srand(1071);
	for (size_t i = 0; i < 2008; i++)
		buf[i] = (uint8_t)rand();
	for (size_t len = 0; len <= 2000; len++)
		for (size_t off = 0; off < 4; off++) {
			uint32_t seed = len & 4 ? (uint32_t)rand() : 0;
			uint16_t want = ref_sum(buf + off, len, seed);
			uint16_t got = csum_fold(csum_partial(buf + off, len, seed));

			cr_assert_eq(got, (uint16_t)~want, "len %zu off %zu seed %u: %04x != %04x",
				     len, off, seed, got, (uint16_t)~want);
		}
	free(buf);
}

Test(csum, all_ones_data)
{
	uint8_t buf[1500];

	memset(buf, 0xff, sizeof(buf));
	for (size_t len = 0; len <= sizeof(buf); len += 37)
		cr_assert_eq(csum_fold(csum_partial(buf, len, 0)),
			     (uint16_t)~ref_sum(buf, len, 0), "len %zu", len);
}

Test(csum, chained_partial_sums)
{
	uint8_t buf[1000];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31 + 7);
	/* summing in even-length pieces is the same as summing at once */
	uint32_t s = csum_partial(buf, 400, 0);
	s = csum_partial(buf + 400, 600, s);
	cr_assert_eq(csum_fold(s), csum_fold(csum_partial(buf, 1000, 0)));
}

Test(csum, verify_stored_checksum)
{
	uint8_t hdr[20] = { 0x45, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 64, 1, 0, 0, 10, 77, 0, 1, 10, 77, 0, 2 };

	put_be16(hdr + 10, csum_fold(csum_partial(hdr, 20, 0)));
	cr_assert_eq(csum_fold(csum_partial(hdr, 20, 0)), 0);
	hdr[8] ^= 1;
	cr_assert_neq(csum_fold(csum_partial(hdr, 20, 0)), 0);
}

Test(csum, pseudo_header)
{
	uint8_t ph[12];
	uint32_t s = htonl(0x0a4d0001), d = htonl(0xc0a80102);

	memcpy(ph, &s, 4);
	memcpy(ph + 4, &d, 4);
	ph[8] = 0;
	ph[9] = 6;
	put_be16(ph + 10, 1234);
	cr_assert_eq(csum_fold(csum_pseudo(s, d, 6, 1234)), (uint16_t)~ref_sum(ph, 12, 0));
	/* a transport checksum computed with it verifies */
	uint8_t seg[21];
	for (size_t i = 0; i < sizeof(seg); i++)
		seg[i] = (uint8_t)(i * 13);
	put_be16(seg + 16, 0);
	put_be16(seg + 16, csum_fold(csum_partial(seg, 21, csum_pseudo(s, d, 6, 21))));
	cr_assert_eq(csum_fold(csum_partial(seg, 21, csum_pseudo(s, d, 6, 21))), 0);
}
