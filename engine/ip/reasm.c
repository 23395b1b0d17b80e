/* reasm.c - IPv4 fragment reassembly (RFC 791 3.2, RFC 815, RFC 1122 3.3.2; overlaps as RFC 5722 / Linux). */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/bytes.h"
#include "base/csum.h"
#include "base/time.h"
#include "eng.h"
#include "ip/icmp.h"
#include "ip/ip.h"
#include "ip/ip_priv.h"

/*
 * Linux's defaults: ipfrag_time 30 s from the first fragment, ipfrag_high_thresh
 * 4 MB for all queues together (over it, every fragment is dropped until
 * timeouts free memory, as inet_frag_find does), datagrams up to 65535 bytes.
 *
 * Fragments are kept per datagram in a list sorted by offset. As Linux's
 * inet_frag_queue_insert (after the FragmentSmack fixes): a fragment lying
 * entirely inside data already queued is a duplicate and dropped alone; any
 * other overlap discards the whole datagram (RFC 5722 does this for IPv6; it
 * closes the overlapping-fragment attacks for IPv4 as well).
 */
#define REASM_TIMEOUT    SEC(30)
#define REASM_MEM_HIGH   (4u << 20)
#define REASM_HASH_SIZE  64

struct frag {
	struct frag *next;
	uint32_t off, end;       /* payload bytes [off, end) of the datagram */
	uint8_t data[];
};

struct fq {
	struct fq *hnext;                /* hash chain */
	struct fq *older, *newer;        /* age list: timeouts fire oldest first */
	uint32_t src, dst;
	uint16_t id;
	uint8_t proto;
	bool first_in, last_in;
	uint64_t deadline;
	struct frag *frags;
	unsigned nfrags;
	uint32_t len;                    /* datagram payload length (known once last_in) */
	uint32_t meat;                   /* payload bytes received */
	size_t mem;
	uint8_t hdr[60];                 /* the first fragment's header, options included */
	uint8_t hdr_len;
};

struct ip_reasm {
	struct fq *hash[REASM_HASH_SIZE];
	struct fq *oldest, *newest;
	size_t mem, limit;
};

struct ip_reasm *ip__reasm_new(void)
{
	struct ip_reasm *r = calloc(1, sizeof(*r));

	if (r)
		r->limit = REASM_MEM_HIGH;
	return r;
}

size_t ip__reasm_mem(const struct ip_reasm *r) { return r->mem; }

static unsigned fq_hash(uint32_t src, uint32_t dst, uint16_t id, uint8_t proto)
{
	uint32_t h = src * 2654435761u ^ dst * 40503u ^ (uint32_t)id << 8 ^ proto;

	return (h ^ h >> 16) % REASM_HASH_SIZE;
}

static void fq_kill(struct ip_reasm *r, struct fq *q)
{
	struct fq **pp = &r->hash[fq_hash(q->src, q->dst, q->id, q->proto)];
	struct frag *f;

	while (*pp && *pp != q)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = q->hnext;
	if (q->older)
		q->older->newer = q->newer;
	else
		r->oldest = q->newer;
	if (q->newer)
		q->newer->older = q->older;
	else
		r->newest = q->older;
	while ((f = q->frags)) {
		q->frags = f->next;
		free(f);
	}
	r->mem -= q->mem;
	free(q);
}

void ip__reasm_free(struct ip_reasm *r)
{
	if (!r)
		return;
	while (r->oldest)
		fq_kill(r, r->oldest);
	free(r);
}

static struct fq *fq_find(struct ip_reasm *r, const struct ip_hdr *h, uint64_t now,
			  bool create)
{
	unsigned b = fq_hash(h->src, h->dst, h->id, h->proto);
	struct fq *q;

	/* RFC 791: fragments belong together when source, destination,
	 * protocol and identification match. */
	for (q = r->hash[b]; q; q = q->hnext)
		if (q->src == h->src && q->dst == h->dst && q->id == h->id && q->proto == h->proto)
			return q;
	if (!create)
		return NULL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->src = h->src;
	q->dst = h->dst;
	q->id = h->id;
	q->proto = h->proto;
	q->deadline = now + REASM_TIMEOUT;
	q->mem = sizeof(*q);
	r->mem += q->mem;
	q->hnext = r->hash[b];
	r->hash[b] = q;
	q->older = r->newest;
	if (r->newest)
		r->newest->newer = q;
	else
		r->oldest = q;
	r->newest = q;
	return q;
}

/* Where [off, end) goes: 0 (insert after *prev), 1 duplicate, -1 overlap. */
static int fq_place(struct fq *q, uint32_t off, uint32_t end, struct frag ***at)
{
	struct frag **pp = &q->frags;
	uint32_t run_start = 0, run_end = 0;
	bool in_run = false;

	/* Walk the sorted fragments grouped in contiguous runs (as Linux's
	 * fragrun): containment in a run is a duplicate, any other
	 * intersection an overlap. */
	for (struct frag *f = q->frags; f; f = f->next) {
		if (!in_run || f->off != run_end) {
			run_start = f->off;
			in_run = true;
		}
		run_end = f->end;
		/* the run may continue; decide once it cannot grow past us */
		bool run_done = !f->next || f->next->off != run_end;
		if (run_done && off < run_end && end > run_start)
			return (off >= run_start && end <= run_end) ? 1 : -1;
	}
	while (*pp && (*pp)->off < off)
		pp = &(*pp)->next;
	*at = pp;
	return 0;
}

static enum drop_reason fq_complete(struct eng *eng, struct fq *q, uint64_t now)
{
	size_t total = (size_t)q->hdr_len + q->len;
	uint8_t *buf = malloc(total);
	enum drop_reason why;
	struct ip_hdr h;

	if (!buf) {
		eng->stats.drop[DROP_IP_FRAG_MEM] += q->nfrags;
		fq_kill(eng->ip->reasm, q);
		return DROP_NONE;
	}
	memcpy(buf, q->hdr, q->hdr_len);
	for (struct frag *f = q->frags; f; f = f->next)
		memcpy(buf + q->hdr_len + f->off, f->data, f->end - f->off);
	/* the first fragment's header becomes the datagram's: whole length, no
	 * fragment fields, checksum redone */
	put_be16(buf + 2, (uint16_t)total);
	put_be16(buf + 6, 0);
	put_be16(buf + 10, 0);
	put_be16(buf + 10, csum_fold(csum_partial(buf, q->hdr_len, 0)));
	fq_kill(eng->ip->reasm, q);
	eng_count(eng, IP_REASM_OK);
	why = ip_parse(buf, total, &h);
	if (why == DROP_NONE)
		/* no receive checksum flag: it spoke for one fragment only */
		why = ip__deliver(eng, buf, &h, 0, now);
	free(buf);
	return why;
}

enum drop_reason ip__reasm_input(struct eng *eng, const uint8_t *pkt, const struct ip_hdr *h,
				 uint64_t now)
{
	struct ip_reasm *r = eng->ip->reasm;
	uint32_t off = (uint32_t)(h->frag & IP_OFFMASK) * 8;
	uint32_t n = (uint32_t)h->total_len - h->ihl;
	uint32_t end = off + n;
	bool more = h->frag & IP_MF;
	struct frag **at = NULL, *f;
	struct fq *q;

	/* Linux: over ipfrag_high_thresh, every fragment is refused */
	if (r->mem + sizeof(*f) + n > r->limit)
		return DROP_IP_FRAG_MEM;
	/* RFC 791: at most 65535 bytes, header included ("ping of death") */
	if (h->ihl + end > IP_MAXPACKET) {
		q = fq_find(r, h, now, false);
		if (q) {
			eng->stats.drop[DROP_IP_FRAG_TOO_BIG] += q->nfrags;
			fq_kill(r, q);
		}
		return DROP_IP_FRAG_TOO_BIG;
	}
	q = fq_find(r, h, now, true);
	if (!q)
		return DROP_IP_FRAG_MEM;
	if (!more) {
		/* the last fragment fixes the length: it must cover what came and
		 * agree with an earlier last fragment (Linux ip_frag_queue) */
		if (end < q->len || (q->last_in && end != q->len))
			goto bad;
		q->last_in = true;
		q->len = end;
	} else {
		/* every fragment but the last carries a multiple of 8 bytes; Linux
		 * trims a longer one rather than dropping it */
		end &= ~7u;
		n = end > off ? end - off : 0;
		if (end > q->len) {
			if (q->last_in)
				goto bad;
			q->len = end;
		}
	}
	if (end <= off)
		goto bad;
	int place = fq_place(q, off, end, &at);
	if (place > 0)
		return DROP_IP_FRAG_DUP;
	if (place < 0) {
		eng->stats.drop[DROP_IP_FRAG_OVERLAP] += q->nfrags;
		fq_kill(r, q);
		return DROP_IP_FRAG_OVERLAP;
	}
	f = malloc(sizeof(*f) + n);
	if (!f)
		return DROP_IP_FRAG_MEM;
	f->off = off;
	f->end = end;
	memcpy(f->data, pkt + h->ihl, n);
	f->next = *at;
	*at = f;
	q->nfrags++;
	q->meat += n;
	q->mem += sizeof(*f) + n;
	r->mem += sizeof(*f) + n;
	if (off == 0) {
		q->first_in = true;
		memcpy(q->hdr, pkt, h->ihl);
		q->hdr_len = h->ihl;
	}
	if (q->first_in && q->last_in && q->meat == q->len)
		return fq_complete(eng, q, now);
	return DROP_NONE;

bad:
	eng->stats.drop[DROP_IP_FRAG_BAD] += q->nfrags;
	fq_kill(r, q);
	return DROP_IP_FRAG_BAD;
}

uint64_t ip__reasm_poll(struct eng *eng, uint64_t now)
{
	struct ip_reasm *r = eng->ip->reasm;
	struct fq *q;

	while ((q = r->oldest) && q->deadline <= now) {
		/* RFC 1122 3.3.2 / RFC 792: time exceeded (fragment reassembly time
		 * exceeded, code 1) when the first fragment was seen, as Linux
		 * ip_expire; it quotes that fragment. */
		if (q->first_in && q->frags && q->frags->off == 0) {
			uint8_t quote[ICMP_ERROR_MAX];
			size_t n = q->frags->end;

			if (n > sizeof(quote) - q->hdr_len)
				n = sizeof(quote) - q->hdr_len;
			memcpy(quote, q->hdr, q->hdr_len);
			memcpy(quote + q->hdr_len, q->frags->data, n);
			icmp_send_error(eng, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, quote,
					q->hdr_len + n, now);
		}
		eng->stats.drop[DROP_IP_FRAG_TIMEOUT] += q->nfrags;
		fq_kill(r, q);
	}
	return r->oldest ? r->oldest->deadline : TIME_NEVER;
}
