/* test_ring.c - the growable byte ring: limits, growth, wrap-around, offsets, spans, shrink. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/ring.h"

static void fill(uint8_t *p, uint32_t n, uint32_t start)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)((start + i) * 7 + 3);
}

Test(ring, idle_ring_holds_no_memory)
{
	struct ring r;
	ring_init(&r, 1 << 20);
	cr_assert_null(r.buf);
	cr_assert_eq(r.cap, 0);
	cr_assert_eq(ring_len(&r), 0);
	cr_assert_eq(ring_space(&r), 1 << 20);
	uint8_t b[4];
	cr_assert_eq(ring_read(&r, b, 4), 0);
	ring_free(&r);
}

Test(ring, write_read_roundtrip)
{
	struct ring r;
	ring_init(&r, 4096);
	cr_assert_eq(ring_write(&r, "hello world", 11), 11);
	cr_assert_eq(ring_len(&r), 11);
	char out[16] = { 0 };
	cr_assert_eq(ring_read(&r, out, 5), 5);
	cr_assert_str_eq(out, "hello");
	cr_assert_eq(ring_len(&r), 6);
	memset(out, 0, sizeof(out));
	cr_assert_eq(ring_read(&r, out, sizeof(out)), 6);
	cr_assert_str_eq(out, " world");
	ring_free(&r);
}

Test(ring, write_stops_at_limit)
{
	struct ring r;
	ring_init(&r, 100);
	uint8_t src[150];
	fill(src, 150, 0);
	cr_assert_eq(ring_write(&r, src, 150), 100);
	cr_assert_eq(ring_space(&r), 0);
	cr_assert_eq(ring_write(&r, src, 1), 0);
	cr_assert_leq(r.cap, 100);
	uint8_t out[100];
	cr_assert_eq(ring_peek(&r, 0, out, 100), 100);
	cr_assert_arr_eq(out, src, 100);
	cr_assert_eq(ring_reserve(&r, 1), -ENOBUFS);
	ring_free(&r);
}

Test(ring, grows_on_demand_and_keeps_order)
{
	struct ring r;
	ring_init(&r, 1 << 20);
	cr_assert_eq(ring_write(&r, "x", 1), 1);
	cr_assert_eq(r.cap, RING_MIN_CAP, "a small write allocates only the minimum");
	/* wrap first, then grow: the data must come out in order */
	uint8_t big[RING_MIN_CAP];
	fill(big, sizeof(big), 0);
	cr_assert_eq(ring_write(&r, big, RING_MIN_CAP - 1), RING_MIN_CAP - 1);
	cr_assert_eq(ring_consume(&r, 1000), 1000);
	cr_assert_eq(ring_write(&r, big, 500), 500);   /* wraps */
	cr_assert_eq(r.cap, RING_MIN_CAP);
	uint8_t more[10000];
	fill(more, sizeof(more), 99);
	cr_assert_eq(ring_write(&r, more, sizeof(more)), (int)sizeof(more));
	cr_assert_geq(r.cap, ring_len(&r));
	uint32_t total = RING_MIN_CAP - 1000 + 500 + 10000;
	cr_assert_eq(ring_len(&r), total);
	uint8_t *out = malloc(total);
	cr_assert_eq(ring_read(&r, out, total), total);
	/* the 'x' and big[0..999) were consumed */
	cr_assert_arr_eq(out, big + 999, RING_MIN_CAP - 1 - 999);
	cr_assert_arr_eq(out + RING_MIN_CAP - 1000, big, 500);
	cr_assert_arr_eq(out + RING_MIN_CAP - 500, more, 10000);
	free(out);
	ring_free(&r);
}

Test(ring, peek_at_offset_across_the_wrap)
{
	struct ring r;
	ring_init(&r, RING_MIN_CAP);
	uint8_t src[RING_MIN_CAP];
	fill(src, sizeof(src), 0);
	cr_assert_eq(ring_write(&r, src, 1500), 1500);
	cr_assert_eq(ring_consume(&r, 1200), 1200);
	/* 300 bytes at [1200, 1500); append 1500 more: they wrap at the end */
	uint8_t src2[1500];
	fill(src2, sizeof(src2), 5000);
	cr_assert_eq(ring_write(&r, src2, 1500), 1500);
	cr_assert_eq(r.cap, RING_MIN_CAP, "no growth needed");
	uint8_t out[1800];
	/* retransmission read: [250, 250+1000) without consuming */
	cr_assert_eq(ring_peek(&r, 250, out, 1000), 1000);
	cr_assert_arr_eq(out, src + 1450, 50);
	cr_assert_arr_eq(out + 50, src2, 950);
	cr_assert_eq(ring_len(&r), 1800);
	/* past the end: clamped */
	cr_assert_eq(ring_peek(&r, 1700, out, 500), 100);
	cr_assert_eq(ring_peek(&r, 1800, out, 500), 0);

	struct iovec iov[2];
	int n = ring_spans(&r, 0, 1800, iov);
	cr_assert_eq(n, 2, "data straddles the end of the buffer");
	cr_assert_eq(iov[0].iov_len + iov[1].iov_len, 1800);
	cr_assert_arr_eq(iov[0].iov_base, src + 1200, 300 < iov[0].iov_len ? 300 : iov[0].iov_len);
	ring_free(&r);
}

Test(ring, free_spans_and_commit)
{
	struct ring r;
	ring_init(&r, RING_MIN_CAP);
	uint8_t src[RING_MIN_CAP];
	fill(src, sizeof(src), 1);
	ring_write(&r, src, 2000);
	ring_consume(&r, 1990);
	struct iovec iov[2];
	int n = ring_free_spans(&r, 100, iov);
	cr_assert_eq(n, 2);
	cr_assert_eq(iov[0].iov_len + iov[1].iov_len, 100);
	uint32_t done = 0;
	for (int i = 0; i < n; i++) {
		memcpy(iov[i].iov_base, src + done, iov[i].iov_len);
		done += (uint32_t)iov[i].iov_len;
	}
	ring_commit(&r, 100);
	cr_assert_eq(ring_len(&r), 110);
	uint8_t out[110];
	cr_assert_eq(ring_read(&r, out, 110), 110);
	cr_assert_arr_eq(out, src + 1990, 10);
	cr_assert_arr_eq(out + 10, src, 100);
	ring_free(&r);
}

Test(ring, shrink_only_when_empty)
{
	struct ring r;
	ring_init(&r, 65536);
	uint8_t src[30000];
	fill(src, sizeof(src), 0);
	ring_write(&r, src, sizeof(src));
	ring_shrink(&r);
	cr_assert_not_null(r.buf, "a ring with data keeps its memory");
	ring_consume(&r, sizeof(src));
	ring_shrink(&r);
	cr_assert_null(r.buf);
	cr_assert_eq(r.cap, 0);
	cr_assert_eq(ring_write(&r, "ab", 2), 2, "usable again after shrink");
	char out[2];
	cr_assert_eq(ring_read(&r, out, 2), 2);
	cr_assert_eq(out[1], 'b');
	ring_free(&r);
}

Test(ring, set_limit)
{
	struct ring r;
	ring_init(&r, 10);
	ring_write(&r, "0123456789", 10);
	cr_assert_eq(ring_set_limit(&r, 5), -EINVAL);
	cr_assert_eq(ring_set_limit(&r, 20), 0);
	cr_assert_eq(ring_write(&r, "abcdefghijklmnop", 16), 10);
	ring_free(&r);
}

/* many random writes/reads against a linear reference */
Test(ring, random_against_reference)
{
	struct ring r;
	ring_init(&r, 20000);
	uint8_t *ref = malloc(1 << 22);
	uint32_t ref_head = 0, ref_tail = 0, ctr = 0;
	srand(12345);
	uint8_t buf[5000], out[5000];
	for (int it = 0; it < 20000; it++) {
		uint32_t n = (uint32_t)rand() % 3000;
		if (rand() & 1) {
			fill(buf, n, ctr);
			int w = ring_write(&r, buf, n);
			cr_assert_geq(w, 0);
			uint32_t space = 20000 - (ref_tail - ref_head);
			cr_assert_eq((uint32_t)w, n < space ? n : space);
			memcpy(ref + ref_tail, buf, (uint32_t)w);
			ref_tail += (uint32_t)w;
			ctr += (uint32_t)w;
		} else {
			uint32_t off = (uint32_t)rand() % 100;
			uint32_t p = ring_peek(&r, off, out, n);
			uint32_t len = ref_tail - ref_head;
			uint32_t want = off >= len ? 0 : (len - off < n ? len - off : n);
			cr_assert_eq(p, want);
			cr_assert_arr_eq(out, ref + ref_head + off, p);
			uint32_t c = ring_consume(&r, n / 2);
			ref_head += c;
		}
		cr_assert_eq(ring_len(&r), ref_tail - ref_head);
		if (ref_tail > (1 << 21)) {
			memmove(ref, ref + ref_head, ref_tail - ref_head);
			ref_tail -= ref_head;
			ref_head = 0;
		}
	}
	free(ref);
	ring_free(&r);
}
