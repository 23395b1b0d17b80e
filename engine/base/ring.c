/* ring.c - growable byte ring for socket queues (see ring.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/ring.h"

void ring_init(struct ring *r, uint32_t limit)
{
	*r = (struct ring){ .limit = limit };
}

void ring_free(struct ring *r)
{
	free(r->buf);
	r->buf = NULL;
	r->cap = r->head = r->len = 0;
}

int ring_set_limit(struct ring *r, uint32_t limit)
{
	if (limit < r->len)
		return -EINVAL;
	r->limit = limit;
	return 0;
}

/* Reallocate to exactly `cap` bytes, unwrapping the data to index 0. */
static int ring_resize(struct ring *r, uint32_t cap)
{
	uint8_t *nb = malloc(cap);
	if (!nb)
		return -ENOMEM;
	ring_peek(r, 0, nb, r->len);
	free(r->buf);
	r->buf = nb;
	r->cap = cap;
	r->head = 0;
	return 0;
}

int ring_reserve(struct ring *r, uint32_t n)
{
	if (n > ring_space(r))
		return -ENOBUFS;
	uint32_t need = r->len + n;
	if (need <= r->cap)
		return 0;
	uint64_t cap = r->cap ? r->cap : RING_MIN_CAP;
	while (cap < need)
		cap <<= 1;
	if (cap > r->limit)
		cap = r->limit;
	return ring_resize(r, (uint32_t)cap);
}

/* index in buf of the byte `off` after the head (off <= cap) */
static inline uint32_t ring_idx(const struct ring *r, uint32_t off)
{
	uint32_t i = r->head + off;
	return i >= r->cap ? i - r->cap : i;
}

int ring_free_spans(struct ring *r, uint32_t n, struct iovec iov[2])
{
	if (n > ring_space(r))
		n = ring_space(r);
	if (n == 0)
		return 0;
	int err = ring_reserve(r, n);
	if (err)
		return err;
	uint32_t at = ring_idx(r, r->len);
	uint32_t first = r->cap - at;
	if (first >= n) {
		iov[0] = (struct iovec){ r->buf + at, n };
		return 1;
	}
	iov[0] = (struct iovec){ r->buf + at, first };
	iov[1] = (struct iovec){ r->buf, n - first };
	return 2;
}

void ring_commit(struct ring *r, uint32_t n)
{
	r->len += n;
}

int ring_write(struct ring *r, const void *src, uint32_t n)
{
	struct iovec iov[2];
	int cnt = ring_free_spans(r, n, iov);
	if (cnt < 0)
		return cnt;
	uint32_t done = 0;
	for (int i = 0; i < cnt; i++) {
		memcpy(iov[i].iov_base, (const uint8_t *)src + done, iov[i].iov_len);
		done += (uint32_t)iov[i].iov_len;
	}
	ring_commit(r, done);
	return (int)done;
}

int ring_spans(const struct ring *r, uint32_t off, uint32_t n, struct iovec iov[2])
{
	if (off >= r->len)
		return 0;
	if (n > r->len - off)
		n = r->len - off;
	if (n == 0)
		return 0;
	uint32_t at = ring_idx(r, off);
	uint32_t first = r->cap - at;
	if (first >= n) {
		iov[0] = (struct iovec){ r->buf + at, n };
		return 1;
	}
	iov[0] = (struct iovec){ r->buf + at, first };
	iov[1] = (struct iovec){ r->buf, n - first };
	return 2;
}

uint32_t ring_peek(const struct ring *r, uint32_t off, void *dst, uint32_t n)
{
	struct iovec iov[2];
	int cnt = ring_spans(r, off, n, iov);
	uint32_t done = 0;
	for (int i = 0; i < cnt; i++) {
		memcpy((uint8_t *)dst + done, iov[i].iov_base, iov[i].iov_len);
		done += (uint32_t)iov[i].iov_len;
	}
	return done;
}

uint32_t ring_consume(struct ring *r, uint32_t n)
{
	if (n > r->len)
		n = r->len;
	r->head = ring_idx(r, n);
	r->len -= n;
	if (r->len == 0)
		r->head = 0;   /* keep the next write contiguous */
	return n;
}

uint32_t ring_read(struct ring *r, void *dst, uint32_t n)
{
	return ring_consume(r, ring_peek(r, 0, dst, n));
}

void ring_shrink(struct ring *r)
{
	if (r->len == 0)
		ring_free(r);
}
