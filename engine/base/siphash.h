/* siphash.h - SipHash-2-4 keyed hash (Aumasson & Bernstein 2012), as Linux uses for ISNs (RFC 6528),
 * ephemeral ports (RFC 6056) and SYN cookies (RFC 4987).
 *
 * The 128-bit key is two 64-bit words: k[0] is key bytes 0..7 read little-endian,
 * k[1] bytes 8..15 (the paper's key 00 01 .. 0f is {0x0706050403020100,
 * 0x0f0e0d0c0b0a0908}). eng_config.secret is such a key. */
#ifndef TSK_BASE_SIPHASH_H
#define TSK_BASE_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t siphash(const void *data, size_t len, const uint64_t key[2]);

/* Hash of 32-bit words (host order, hashed as their little-endian bytes), like
 * Linux siphash_4u32(); no alignment needed by the caller. */
uint64_t siphash_4u32(uint32_t a, uint32_t b, uint32_t c, uint32_t d, const uint64_t key[2]);

#endif
