/* pcap.h - a classic pcap writer (LINKTYPE_ETHERNET, microsecond timestamps,
 * snaplen 65535; https://www.tcpdump.org/manpages/pcap-savefile.5.html) and a
 * link wrapper that records every transmitted frame before passing it on.
 *
 * The wrapper can run without a writer (nothing recorded), so a capture can be
 * started and stopped at run time without touching the engine's link pointer.
 * Frames are recorded as they cross the TAP: with offloads on, TCP segments carry
 * partial checksums and may be TSO/GRO frames larger than the MTU (tcpdump shows
 * "incorrect cksum", as it does for any capture on an offloading interface). */
#ifndef TSK_LINK_PCAP_H
#define TSK_LINK_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link/link.h"

#define PCAP_SNAPLEN 65535u
#define PCAP_MAGIC_USEC 0xa1b2c3d4u
#define PCAP_LINKTYPE_ETHERNET 1u

struct pcap_writer;

/* Create (truncate) path and write the file header. 0 or -errno. */
int pcap_open(const char *path, struct pcap_writer **out);
/* Append one frame stamped ts_ns (ns since the epoch); frames over the snaplen
 * are cut, their original length kept. 0 or -errno. */
int pcap_write(struct pcap_writer *w, const uint8_t *frame, size_t len, uint64_t ts_ns);
uint64_t pcap_frames(const struct pcap_writer *w);
const char *pcap_path(const struct pcap_writer *w);
/* Flush and close. Returns 0 or the first write error seen (-errno). */
int pcap_close(struct pcap_writer *w);

/* Wrap inner: same mtu/features/name; tx records the frame, then queues it on inner.
 * destroy destroys inner and closes any writer. */
struct link *pcap_link_new(struct link *inner);
/* Install w (or NULL to stop recording); returns the previous writer (not closed). */
struct pcap_writer *pcap_link_set_writer(struct link *l, struct pcap_writer *w);
struct pcap_writer *pcap_link_writer(struct link *l);
/* A capture is running. */
bool pcap_link_on(const struct link *l);
/* Record a received frame (the loop calls this for every frame it reads). */
void pcap_link_rx(struct link *l, const uint8_t *frame, size_t len);

#endif
