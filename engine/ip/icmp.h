/* icmp.h - ICMP for IPv4 (RFC 792, RFC 1122 3.2.2): echo, errors received and sent. */
#ifndef TSK_IP_ICMP_H
#define TSK_IP_ICMP_H

#include <stddef.h>
#include <stdint.h>

#include "base/stats.h"

struct eng;
struct ip_info;

#define ICMP_HLEN            8
#define ICMP_ECHOREPLY       0
#define ICMP_DEST_UNREACH    3
#define ICMP_SOURCE_QUENCH   4
#define ICMP_REDIRECT        5
#define ICMP_ECHO            8
#define ICMP_TIME_EXCEEDED   11
#define ICMP_PARAMETERPROB   12
/* codes of ICMP_DEST_UNREACH */
#define ICMP_NET_UNREACH     0
#define ICMP_HOST_UNREACH    1
#define ICMP_PROT_UNREACH    2
#define ICMP_PORT_UNREACH    3
#define ICMP_FRAG_NEEDED     4
/* codes of ICMP_TIME_EXCEEDED */
#define ICMP_EXC_TTL         0
#define ICMP_EXC_FRAGTIME    1

/* Linux quotes as much of the offending datagram as fits in 576 bytes. */
#define ICMP_ERROR_MAX       576

/* Wire format of the ICMP header. `rest` is the 4 bytes after the checksum
 * (id and sequence of an echo, the pointer of a parameter problem, the next-hop
 * MTU of "fragmentation needed"), host order. */
struct icmp_hdr {
	uint8_t type, code;
	uint16_t csum;
	uint32_t rest;
};
/* 0, or -EINVAL when len < ICMP_HLEN. The checksum is not verified. */
int icmp_parse(const uint8_t *msg, size_t len, struct icmp_hdr *h);
/* Emit the header with a zero checksum (the caller sums header + data). */
void icmp_emit(uint8_t *at, const struct icmp_hdr *h);

/* An ICMP message from IPv4 (msg at the ICMP header). */
enum drop_reason icmp_input(struct eng *eng, const struct ip_info *ip, const uint8_t *msg,
			    size_t len, uint64_t now);

/* Send an ICMP error about the datagram orig_ip (its IP header first, len bytes
 * of it available) to its source, following RFC 1122 3.2.2: never about an ICMP
 * error, a broadcast or multicast, a non-first fragment or an invalid source;
 * rate-limited per destination as Linux (icmp_ratelimit 1 s, burst 6) and
 * globally (icmp_msgs_per_sec 1000, burst 50). Returns 0, -EPERM when the rules
 * forbid it, -EAGAIN when rate-limited, or ip_output's error. orig_ip must not
 * point into eng->tx. */
int icmp_send_error(struct eng *eng, uint8_t type, uint8_t code, const uint8_t *orig_ip,
		    size_t len, uint64_t now);
/* Same with the 4 "rest" bytes given (parameter problem pointer << 24,
 * next-hop MTU for fragmentation needed). */
int icmp_send_error_info(struct eng *eng, uint8_t type, uint8_t code, uint32_t info,
			 const uint8_t *orig_ip, size_t len, uint64_t now);

#endif
