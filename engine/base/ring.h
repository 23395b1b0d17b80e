/* ring.h - growable byte ring for socket send and receive queues (no RFC; RFC 9293 3.8 for how TCP uses them).
 *
 * A ring starts with no memory at all (an idle connection costs nothing here) and
 * grows on demand, doubling, up to `limit` bytes (SO_SNDBUF / SO_RCVBUF). Bytes
 * are addressed by their offset from the head (the oldest byte), so the sender
 * can read [off, off+n) for a retransmission without consuming it, and consume
 * once the bytes are acknowledged. ring_shrink() gives the memory back when the
 * ring is empty. Spans expose the bytes in place (at most two, because of the
 * wrap) for scatter/gather I/O without a copy.
 *
 * All functions return a byte count or -errno (-ENOMEM if the allocator fails). */
#ifndef TSK_BASE_RING_H
#define TSK_BASE_RING_H

#include <stdint.h>
#include <sys/uio.h>

#define RING_MIN_CAP 2048u   /* first allocation; doubles from there up to limit */

struct ring {
	uint8_t *buf;    /* NULL until the first write */
	uint32_t cap;    /* bytes allocated */
	uint32_t head;   /* index of the oldest byte in buf */
	uint32_t len;    /* bytes stored */
	uint32_t limit;  /* most bytes the ring may ever hold */
};

/* Empty ring that may grow to `limit` bytes. Allocates nothing. */
void ring_init(struct ring *r, uint32_t limit);
/* Free the memory; the ring is empty afterwards and may be reused. */
void ring_free(struct ring *r);
/* Change the limit (setsockopt). Never below the bytes stored: returns -EINVAL then. */
int ring_set_limit(struct ring *r, uint32_t limit);

static inline uint32_t ring_len(const struct ring *r) { return r->len; }
/* Bytes that may still be written before the limit. */
static inline uint32_t ring_space(const struct ring *r) { return r->limit - r->len; }
static inline int ring_empty(const struct ring *r) { return r->len == 0; }

/* Make sure n more bytes fit without another allocation (n <= ring_space()).
 * Returns 0, -ENOBUFS if n is over the space left, -ENOMEM. */
int ring_reserve(struct ring *r, uint32_t n);

/* Append up to n bytes; returns the count appended (less than n only when the
 * limit is reached, 0 when full) or -ENOMEM. */
int ring_write(struct ring *r, const void *src, uint32_t n);
/* Copy up to n bytes starting `off` bytes after the head, without consuming.
 * Returns the count copied (0 if off >= len). */
uint32_t ring_peek(const struct ring *r, uint32_t off, void *dst, uint32_t n);
/* Copy out and consume up to n bytes from the head. Returns the count. */
uint32_t ring_read(struct ring *r, void *dst, uint32_t n);
/* Drop up to n bytes from the head (acknowledged data). Returns the count. */
uint32_t ring_consume(struct ring *r, uint32_t n);

/* The stored bytes [off, off+n) in place, as 0 to 2 spans (clamped to len).
 * Returns the number of iovecs filled. Valid until the next write/grow/shrink. */
int ring_spans(const struct ring *r, uint32_t off, uint32_t n, struct iovec iov[2]);
/* Free room for up to n more bytes, in place, as 0 to 2 spans (grows first, up
 * to the limit). Fill them, then ring_commit() what was written. Returns the
 * number of iovecs, or -ENOMEM. */
int ring_free_spans(struct ring *r, uint32_t n, struct iovec iov[2]);
/* Account n bytes written into the spans of ring_free_spans(). */
void ring_commit(struct ring *r, uint32_t n);

/* Give the memory back if the ring is empty (idle connection). */
void ring_shrink(struct ring *r);

#endif
