/* stats.h - named drop reasons and counters (Linux enum skb_drop_reason, OpenBSD tcpstat).
 *
 * One X-macro list generates the enum, the names and the counters. Input functions
 * return an enum drop_reason (DROP_NONE when the frame was consumed); the engine
 * counts it. `tapsock stats` prints every counter by name.
 *
 * Adding a reason: one line in DROP_REASONS, in the section of its layer. Names are
 * lower-case in `tapsock stats` output (DROP_IP_BAD_CSUM -> drop.ip_bad_csum). */
#ifndef TSK_BASE_STATS_H
#define TSK_BASE_STATS_H

#include <stdint.h>

#define DROP_REASONS(X)                                                          \
	/* link */                                                               \
	X(LINK_BAD_VNET_HDR,   "virtio-net header malformed or truncated")       \
	X(LINK_TOO_BIG,        "frame larger than the receive buffer")           \
	/* Ethernet */                                                           \
	X(ETH_TOO_SHORT,       "frame shorter than an Ethernet header")          \
	X(ETH_NOT_FOR_US,      "destination MAC is neither ours nor broadcast")  \
	X(ETH_UNKNOWN_TYPE,    "ethertype not handled (not IPv4 or ARP)")        \
	X(ETH_VLAN,            "802.1Q tagged frame")                            \
	/* ARP */                                                                \
	X(ARP_TOO_SHORT,       "ARP packet truncated")                           \
	X(ARP_BAD_FORMAT,      "ARP hardware/protocol type or lengths unsupported") \
	X(ARP_BAD_OP,          "ARP operation neither request nor reply")        \
	X(ARP_NOT_FOR_US,      "ARP target is not our address")                  \
	X(ARP_BAD_SENDER,      "ARP sender address invalid (broadcast/multicast)") \
	X(ARP_QUEUE_FULL,      "packet waiting for ARP resolution over the queue limit") \
	X(ARP_UNRESOLVED,      "packets dropped when ARP resolution failed")     \
	X(ARP_UNSOLICITED,     "ARP reply for no entry of ours (arp_accept=0)")  \
	/* IPv4 */                                                               \
	X(IP_TOO_SHORT,        "IPv4 packet shorter than its header")            \
	X(IP_BAD_VERSION,      "IP version is not 4")                            \
	X(IP_BAD_IHL,          "IPv4 header length under 20 bytes or past the packet") \
	X(IP_BAD_LENGTH,       "IPv4 total length inconsistent with the frame")  \
	X(IP_BAD_CSUM,         "IPv4 header checksum wrong")                     \
	X(IP_BAD_SRC,          "IPv4 source is multicast, broadcast or ours")    \
	X(IP_NOT_FOR_US,       "IPv4 destination is not our address")            \
	X(IP_TTL_ZERO,         "IPv4 TTL is zero")                               \
	X(IP_BAD_OPTIONS,      "IPv4 options malformed")                         \
	X(IP_UNKNOWN_PROTO,    "IP protocol not handled")                        \
	X(IP_FRAG_OVERLAP,     "IPv4 fragment overlaps inconsistently")          \
	X(IP_FRAG_TOO_BIG,     "reassembled IPv4 datagram over 65535 bytes")     \
	X(IP_FRAG_MEM,         "IPv4 reassembly memory limit reached")           \
	X(IP_FRAG_TIMEOUT,     "IPv4 fragments dropped by the reassembly timeout") \
	X(IP_NO_ROUTE,         "no route to the destination")                    \
	X(IP_BCAST,            "IPv4 broadcast/multicast destination: nothing listens (icmp_echo_ignore_broadcasts)") \
	X(IP_SOURCE_ROUTE,     "IPv4 source-routed packet (accept_source_route=0)") \
	X(IP_FRAG_DUP,         "IPv4 fragment duplicates data already queued")   \
	X(IP_FRAG_BAD,         "IPv4 fragment empty or inconsistent with the datagram's end") \
	X(IP_UDP_BAD,          "UDP datagram truncated or with a bad checksum")  \
	X(IP_UDP_NO_PORT,      "UDP datagram: no UDP socket (port unreachable sent)") \
	X(IP_LOOP_FULL,        "packet to ourselves over the loopback queue limit") \
	/* ICMP */                                                               \
	X(ICMP_TOO_SHORT,      "ICMP message truncated")                         \
	X(ICMP_BAD_CSUM,       "ICMP checksum wrong")                            \
	X(ICMP_UNKNOWN_TYPE,   "ICMP type not handled")                          \
	X(ICMP_BAD_INNER,      "ICMP error quotes a malformed or foreign packet") \
	X(ICMP_RATELIMIT,      "ICMP reply suppressed by the rate limit")        \
	/* TCP */                                                                \
	X(TCP_TOO_SHORT,       "TCP segment shorter than its header")            \
	X(TCP_BAD_OFFSET,      "TCP data offset under 5 or past the segment")    \
	X(TCP_BAD_CSUM,        "TCP checksum wrong")                             \
	X(TCP_BAD_OPTIONS,     "TCP options malformed")                          \
	X(TCP_BAD_FLAGS,       "TCP flag combination invalid")                   \
	X(TCP_NO_SOCKET,       "TCP segment for no connection or listener (RST sent)") \
	X(TCP_LISTEN_OVERFLOW, "SYN or ACK dropped: listen queue full")          \
	X(TCP_OLD_SEGMENT,     "TCP segment outside the receive window")         \
	X(TCP_PAWS,            "TCP segment rejected by PAWS (RFC 7323)")        \
	X(TCP_BAD_ACK,         "TCP ACK of unsent data")                         \
	X(TCP_BAD_RST,         "TCP RST outside the window (RFC 5961)")          \
	X(TCP_BAD_SYN,         "TCP SYN in a synchronized state (RFC 5961)")     \
	X(TCP_OFO_MEM,         "out-of-order segment over the reassembly limit") \
	X(TCP_RCVBUF_FULL,     "TCP data beyond the receive buffer")             \
	X(TCP_BAD_COOKIE,      "TCP ACK with an invalid SYN cookie")             \
	X(TCP_CLOSED,          "TCP segment for a closed or closing receiver")     \
	X(TCP_DEFER_ACCEPT,    "bare handshake ACK dropped: TCP_DEFER_ACCEPT waits for data")

enum drop_reason {
	DROP_NONE = 0,
#define X(name, desc) DROP_##name,
	DROP_REASONS(X)
#undef X
	DROP__MAX
};

/* Counters of things that happened (not drops). Same X-macro scheme. */
#define COUNTERS(X)                                                 \
	X(LINK_RX_FRAMES,     "frames received from the link")      \
	X(LINK_RX_BYTES,      "bytes received from the link")       \
	X(LINK_TX_FRAMES,     "frames sent to the link")            \
	X(LINK_TX_BYTES,      "bytes sent to the link")             \
	X(LINK_TX_ERRORS,     "frames the link failed to send")     \
	X(ARP_RX_REQUESTS,    "ARP requests received")              \
	X(ARP_RX_REPLIES,     "ARP replies received")               \
	X(ARP_TX_REQUESTS,    "ARP requests sent")                  \
	X(ARP_TX_REPLIES,     "ARP replies sent")                   \
	X(ARP_TX_GRATUITOUS,  "gratuitous ARP announcements sent")  \
	X(IP_RX_PACKETS,      "IPv4 packets received")              \
	X(IP_TX_PACKETS,      "IPv4 packets sent")                  \
	X(IP_RX_OPTIONS,      "IPv4 packets with options (skipped)") \
	X(IP_FRAGS_RX,        "IPv4 fragments received")            \
	X(IP_REASM_OK,        "IPv4 datagrams reassembled")         \
	X(ICMP_RX_ECHO,       "ICMP echo requests received")        \
	X(ICMP_TX_ECHO_REPLY, "ICMP echo replies sent")             \
	X(ICMP_RX_ERRORS,     "ICMP errors received")               \
	X(ICMP_TX_ERRORS,     "ICMP errors sent")                   \
	X(TCP_RX_SEGS,        "TCP segments received")              \
	X(TCP_TX_SEGS,        "TCP segments sent")                  \
	X(TCP_RETRANS_SEGS,   "TCP segments retransmitted")         \
	X(TCP_TX_RST,         "TCP resets sent")                    \
	X(TCP_ACTIVE_OPENS,   "TCP active opens (connect)")         \
	X(TCP_PASSIVE_OPENS,  "TCP passive opens (SYN to a listener)") \
	X(TCP_ESTAB_RESETS,   "TCP resets in ESTABLISHED or CLOSE-WAIT") \
	X(TCP_ATTEMPT_FAILS,  "TCP connection attempts failed")     \
	X(TCP_CHALLENGE_ACKS, "RFC 5961 challenge ACKs sent")       \
	X(TCP_SYNCOOKIES_SENT, "SYN cookies sent")                  \
	X(TCP_SYNCOOKIES_OK,  "SYN cookies validated")              \
	X(TCP_TIMEOUTS,       "TCP retransmission timeouts")        \
	X(TCP_FAST_RETRANS,   "TCP fast retransmits")               \
	X(TCP_KEEPALIVE_PROBES, "TCP keepalive probes sent")        \
	X(TCP_SACK_RECOVERY,  "TCP SACK loss recoveries (RFC 6675)") \
	X(TCP_DSACKS,         "TCP D-SACK blocks received (RFC 2883)") \
	X(TCP_LOSS_PROBES,    "TCP tail loss probes sent (RFC 8985)") \
	X(TCP_RCVBUF_GROWS,   "TCP receive buffers grown by autotuning") \
	X(TCP_STATE_CHANGES,  "TCP state transitions")

enum counter {
#define X(name, desc) CNT_##name,
	COUNTERS(X)
#undef X
	CNT__MAX
};

struct stats {
	uint64_t drop[DROP__MAX];
	uint64_t cnt[CNT__MAX];
};

extern const char *const drop_names[DROP__MAX];  /* "ip_bad_csum" */
extern const char *const drop_descs[DROP__MAX];
extern const char *const counter_names[CNT__MAX]; /* "ip_rx_packets" */
extern const char *const counter_descs[CNT__MAX];

/* Format every counter as "drop.NAME VALUE\n" / "NAME VALUE\n" lines into buf.
 * With all == 0, zero counters are left out. Returns the length written (may be
 * truncated at cap - 1), always NUL-terminated when cap > 0. */
size_t stats_format(const struct stats *s, int all, char *buf, size_t cap);

#endif
