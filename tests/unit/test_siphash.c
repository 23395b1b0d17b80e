/* test_siphash.c - SipHash-2-4 against the reference vectors of the paper (key 00..0f, message 00..n-1). */
#include <criterion/criterion.h>

#include "base/siphash.h"

static const uint64_t key[2] = { 0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull };

/* vectors_sip64[] of the reference implementation, n = 0..32 */
static const uint64_t expect[33] = {
	0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
	0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
	0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
	0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
	0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
	0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
	0xb8ad50c6f649af94, 0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad,
	0xde4daaaca71dc9a5, 0xa6a2506687956571, 0xad87a3535c49ef28, 0x32d892fad841c342,
	0x7127512f72f27cce,
};

Test(siphash, paper_vectors)
{
	uint8_t msg[33];
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	for (unsigned n = 0; n <= 32; n++)
		cr_expect_eq(siphash(msg, n, key), expect[n], "length %u: %016llx", n,
			     (unsigned long long)siphash(msg, n, key));
}

Test(siphash, paper_appendix_example)
{
	/* Appendix A: 15-byte message 00..0e gives a129ca6149be45e5 */
	uint8_t msg[15];
	for (unsigned i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	cr_assert_eq(siphash(msg, 15, key), 0xa129ca6149be45e5ull);
}

Test(siphash, unaligned_input)
{
	uint8_t buf[40];
	for (unsigned i = 0; i < 32; i++)
		buf[3 + i] = (uint8_t)i;
	cr_assert_eq(siphash(buf + 3, 32, key), expect[32]);
}

Test(siphash, words_are_little_endian_bytes)
{
	/* siphash_4u32(0x03020100, ...) hashes the bytes 00..0f */
	cr_assert_eq(siphash_4u32(0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c, key), expect[16]);
}

Test(siphash, key_matters)
{
	const uint64_t other[2] = { key[0] ^ 1, key[1] };
	cr_assert_neq(siphash("abc", 3, key), siphash("abc", 3, other));
}
