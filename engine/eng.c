/* eng.c - the engine object: owns the layers, dispatches frames, runs their timers. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "eng.h"
#include "base/time.h"
#include "eth/arp.h"
#include "eth/eth.h"
#include "ip/ip.h"
#include "sock/services.h"
#include "tcp/tcp.h"

void eng_config_default(struct eng_config *cfg)
{
	static const struct tcp_params tcp = TCP_PARAMS_DEFAULT;

	memset(cfg, 0, sizeof(*cfg));
	/* locally administered unicast MAC */
	memcpy(cfg->mac, (uint8_t[]){ 0x02, 0x74, 0x73, 0x6b, 0x00, 0x02 }, 6);
	cfg->addr = htonl(0x0a4d0002);    /* 10.77.0.2 */
	cfg->netmask = htonl(0xffffff00); /* /24 */
	cfg->gateway = htonl(0x0a4d0001); /* 10.77.0.1 */
	cfg->arp_timeout = SEC(30);
	cfg->tcp = tcp;
}

struct eng *eng_new(const struct eng_config *cfg, struct link *link, uint64_t now)
{
	struct eng *eng = calloc(1, sizeof(*eng));

	if (!eng)
		return NULL;
	eng->now = now;
	eng->cfg = *cfg;
	eng->link = link;
	pkt_reset(&eng->tx);
	eng->arp = arp_new(eng);
	eng->ip = ip_new(eng);
	eng->tcp = tcp_new(eng);
	if (!eng->arp || !eng->ip || !eng->tcp) {
		eng_free(eng);
		return NULL;
	}
	return eng;
}

void eng_free(struct eng *eng)
{
	if (!eng)
		return;
	/* the built-in services hold sockets: close them before TCP goes */
	sock_svc_stop(eng, eng->now);
	tcp_free(eng->tcp);
	ip_free(eng->ip);
	arp_free(eng->arp);
	free(eng);
}

void eng_start(struct eng *eng, uint64_t now)
{
	eng->now = now;
	arp_announce(eng, now);
	/* the built-in services (sock/services.h); failures are logged there */
	sock_svc_start(eng, now);
}

void eng_input(struct eng *eng, const uint8_t *frame, size_t len, unsigned rxflags,
	       uint64_t now)
{
	eng->now = now;
	eng_count(eng, LINK_RX_FRAMES);
	eng->stats.cnt[CNT_LINK_RX_BYTES] += len;
	eng_drop(eng, eth_input(eng, frame, len, rxflags, now));
}

void eng_input_split(struct eng *eng, const uint8_t *frame, size_t len, size_t hlen,
		     const uint8_t *payload, unsigned rxflags, uint64_t now)
{
	eng->rx_split_at = frame + hlen;
	eng->rx_split_data = payload;
	eng_input(eng, frame, len, rxflags, now);
	eng->rx_split_at = eng->rx_split_data = NULL;
}

uint64_t eng_poll(struct eng *eng, uint64_t now)
{
	uint64_t next;

	eng->now = now;
	next = arp_poll(eng, now);
	next = time_min(next, ip_poll(eng, now));
	next = time_min(next, tcp_poll(eng, now));
	/* TCP timers may have sent to ourselves after ip_poll ran: come back now */
	if (ip_loopback_pending(eng))
		next = now;
	return next;
}

int eng_tx(struct eng *eng, struct pkt *p)
{
	int err;

	if (p->next && !(eng->link->features & LINK_F_TX_EXT))
		pkt_linearize(p);
	err = link_tx(eng->link, p);

	if (err < 0) {
		eng_count(eng, LINK_TX_ERRORS);
		return err;
	}
	eng_count(eng, LINK_TX_FRAMES);
	eng->stats.cnt[CNT_LINK_TX_BYTES] += p->len;
	return 0;
}
