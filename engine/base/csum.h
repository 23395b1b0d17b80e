/* csum.h - the Internet checksum (RFC 1071, with RFC 1624 incremental update).
 *
 * csum_partial() sums 16-bit big-endian words into a 32-bit accumulator (odd
 * lengths padded with a zero byte); csum_fold() folds and complements it. A
 * packet whose stored checksum is right sums (with it) to 0xffff, so
 * csum_fold(csum_partial(hdr, len, 0)) == 0 means "valid". */
#ifndef TSK_BASE_CSUM_H
#define TSK_BASE_CSUM_H

#include <stddef.h>
#include <stdint.h>

uint32_t csum_partial(const void *buf, size_t len, uint32_t sum);
uint16_t csum_fold(uint32_t sum);   /* ~(folded sum), in host order, store with put_be16 */
/* Sum of the IPv4 pseudo-header (addresses in network byte order). */
uint32_t csum_pseudo(uint32_t saddr_be, uint32_t daddr_be, uint8_t proto, uint16_t len);

#endif
