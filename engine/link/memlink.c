/* memlink.c - the in-memory link for tests: frames sent are kept in a FIFO. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "link/link.h"

struct memlink {
	struct link link;
	struct memlink_frame *head, **tail;
	size_t count;
	int fail;
};

static struct memlink *ml(struct link *l) { return (struct memlink *)l; }

static int memlink_tx(struct link *l, const struct pkt *p)
{
	struct memlink *m = ml(l);
	struct memlink_frame *f;

	if (m->fail)
		return m->fail;
	f = malloc(sizeof(*f) + p->len);
	if (!f)
		return -ENOMEM;
	f->next = NULL;
	f->off = p->off;
	f->len = p->len;
	/* LINK_F_TX_EXT (when a test asks for it): the payload spans follow the
	 * bytes at p->data and are copied now, as the TAP writes them now */
	memcpy(f->data, p->data, p->len - p->ext_len);
	for (uint32_t i = 0, at = p->len - p->ext_len; i < p->next; i++) {
		memcpy(f->data + at, p->ext[i].iov_base, p->ext[i].iov_len);
		at += (uint32_t)p->ext[i].iov_len;
	}
	*m->tail = f;
	m->tail = &f->next;
	m->count++;
	return 0;
}

static void memlink_destroy(struct link *l)
{
	memlink_clear(l);
	free(l);
}

static const struct link_ops memlink_ops = {
	.tx = memlink_tx,
	.flush = NULL,
	.destroy = memlink_destroy,
};

struct link *memlink_new(uint32_t mtu, uint32_t features)
{
	struct memlink *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->link.ops = &memlink_ops;
	strcpy(m->link.name, "mem0");
	m->link.mtu = mtu;
	m->link.features = features;
	m->tail = &m->head;
	return &m->link;
}

struct memlink_frame *memlink_pop(struct link *l)
{
	struct memlink *m = ml(l);
	struct memlink_frame *f = m->head;

	if (!f)
		return NULL;
	m->head = f->next;
	if (!m->head)
		m->tail = &m->head;
	m->count--;
	f->next = NULL;
	return f;
}

size_t memlink_count(const struct link *l) { return ((const struct memlink *)l)->count; }

void memlink_clear(struct link *l)
{
	struct memlink_frame *f;

	while ((f = memlink_pop(l)))
		free(f);
}

void memlink_fail(struct link *l, int err) { ml(l)->fail = err; }
