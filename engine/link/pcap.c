/* pcap.c - classic pcap writer and the recording link wrapper (see pcap.h;
 * format: https://www.tcpdump.org/manpages/pcap-savefile.5.html). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "link/pcap.h"

struct pcap_writer {
	FILE *f;
	char *path;
	uint64_t frames;
	int err;
};

/* Native byte order with the magic written natively, as libpcap does: readers
 * detect the order from the magic. */
struct pcap_file_hdr {
	uint32_t magic;
	uint16_t version_major, version_minor;
	int32_t thiszone;
	uint32_t sigfigs;
	uint32_t snaplen;
	uint32_t linktype;
};
struct pcap_rec_hdr {
	uint32_t ts_sec, ts_usec, caplen, len;
};

int pcap_open(const char *path, struct pcap_writer **out)
{
	struct pcap_file_hdr fh = {
		.magic = PCAP_MAGIC_USEC, .version_major = 2, .version_minor = 4,
		.snaplen = PCAP_SNAPLEN, .linktype = PCAP_LINKTYPE_ETHERNET,
	};
	struct pcap_writer *w = calloc(1, sizeof(*w));
	int err;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->f = fopen(path, "we");
	if (!w->f || !w->path) {
		err = w->f ? -ENOMEM : -errno;
		goto fail;
	}
	if (fwrite(&fh, sizeof(fh), 1, w->f) != 1 || fflush(w->f) != 0) {
		err = errno ? -errno : -EIO;
		goto fail;
	}
	*out = w;
	return 0;
fail:
	if (w->f)
		fclose(w->f);
	free(w->path);
	free(w);
	return err;
}

int pcap_write(struct pcap_writer *w, const uint8_t *frame, size_t len, uint64_t ts_ns)
{
	struct pcap_rec_hdr rh = {
		.ts_sec = (uint32_t)(ts_ns / 1000000000ull),
		.ts_usec = (uint32_t)(ts_ns % 1000000000ull / 1000),
		.caplen = (uint32_t)(len > PCAP_SNAPLEN ? PCAP_SNAPLEN : len),
		.len = (uint32_t)len,
	};

	if (w->err)
		return w->err;
	if (fwrite(&rh, sizeof(rh), 1, w->f) != 1 || fwrite(frame, 1, rh.caplen, w->f) != rh.caplen) {
		w->err = errno ? -errno : -EIO;
		return w->err;
	}
	w->frames++;
	return 0;
}

uint64_t pcap_frames(const struct pcap_writer *w) { return w->frames; }
const char *pcap_path(const struct pcap_writer *w) { return w->path; }

int pcap_close(struct pcap_writer *w)
{
	int err;

	if (!w)
		return 0;
	err = w->err;
	if (fclose(w->f) != 0 && !err)
		err = -errno;
	free(w->path);
	free(w);
	return err;
}

/* ---- the recording link ---- */

struct pcap_link {
	struct link link;
	struct link *inner;
	struct pcap_writer *w;
};

static struct pcap_link *pl(struct link *l) { return (struct pcap_link *)l; }

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int pcap_link_tx(struct link *l, const struct pkt *p)
{
	struct pcap_link *c = pl(l);
	int r = link_tx(c->inner, p);

	/* record what the link took: a capture shows what crossed the TAP */
	if (!r && c->w) {
		if (p->next) {
			/* the payload is in spans: the record wants it in one piece */
			static struct pkt flat;

			flat.len = p->len - p->ext_len;
			flat.data = flat.buf;
			memcpy(flat.data, p->data, flat.len);
			flat.ext_len = p->ext_len;
			flat.next = p->next;
			memcpy(flat.ext, p->ext, sizeof(flat.ext));
			flat.len = p->len;
			pkt_linearize(&flat);
			pcap_write(c->w, flat.data, flat.len, wall_ns());
		} else {
			pcap_write(c->w, p->data, p->len, wall_ns());
		}
	}
	return r;
}

static int pcap_link_flush(struct link *l)
{
	struct pcap_link *c = pl(l);

	/* the file is flushed once per loop turn, not per frame */
	if (c->w)
		fflush(c->w->f);
	return link_flush(c->inner);
}

static void pcap_link_destroy(struct link *l)
{
	struct pcap_link *c = pl(l);

	pcap_close(c->w);
	link_destroy(c->inner);
	free(c);
}

static const struct link_ops pcap_link_ops = {
	.tx = pcap_link_tx,
	.flush = pcap_link_flush,
	.destroy = pcap_link_destroy,
};

struct link *pcap_link_new(struct link *inner)
{
	struct pcap_link *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->link.ops = &pcap_link_ops;
	memcpy(c->link.name, inner->name, sizeof(c->link.name));
	c->link.mtu = inner->mtu;
	c->link.features = inner->features;
	c->inner = inner;
	return &c->link;
}

struct pcap_writer *pcap_link_writer(struct link *l) { return pl(l)->w; }

struct pcap_writer *pcap_link_set_writer(struct link *l, struct pcap_writer *w)
{
	struct pcap_writer *old = pl(l)->w;

	if (old)
		fflush(old->f);
	pl(l)->w = w;
	return old;
}

bool pcap_link_on(const struct link *l) { return ((const struct pcap_link *)l)->w != NULL; }

void pcap_link_rx(struct link *l, const uint8_t *frame, size_t len)
{
	struct pcap_link *c = pl(l);

	if (c->w)
		pcap_write(c->w, frame, len, wall_ns());
}
