/* rtt.c - RTO estimation as Linux tcp_rtt_estimator / tcp_set_rto (RFC 6298; see rtt.h). */
#include "base/seq.h"
#include "tcp/rtt.h"

void tcp_rtt_init(struct tcp_rtt *r, uint64_t rto_initial, uint64_t rto_min, uint64_t rto_max)
{
	*r = (struct tcp_rtt){
		.rto_base = rto_initial, .rto_min = rto_min, .rto_max = rto_max,
	};
}

static void rtt_set_rto(struct tcp_rtt *r)
{
	/* Linux __tcp_set_rto: srtt + rttvar, rttvar already floored by rto_min;
	 * tcp_bound_rto: RFC 6298 (2.5) "A maximum value MAY be placed on RTO" */
	uint64_t rto = (r->srtt8 >> 3) + r->rttvar4;
	r->rto_base = rto > r->rto_max ? r->rto_max : rto;
}

void tcp_rtt_sample(struct tcp_rtt *r, uint64_t rtt, uint32_t snd_una, uint32_t snd_nxt)
{
	int64_t m = rtt ? (int64_t)rtt : 1;

	r->last_rtt = (uint64_t)m;
	if (r->min_rtt == 0 || (uint64_t)m < r->min_rtt)
		r->min_rtt = (uint64_t)m;

	if (r->srtt8 != 0) {
		int64_t srtt8 = (int64_t)r->srtt8;
		int64_t mdev4 = (int64_t)r->mdev4;
		m -= srtt8 >> 3;          /* m is now the error in the estimate */
		srtt8 += m;               /* RFC 6298 (2.3): SRTT = 7/8 SRTT + 1/8 R' */
		if (m < 0) {
			m = -m;
			m -= mdev4 >> 2;
			/* A falling RTT moves the deviation with 1/32 gain, not 1/4
			 * (Linux: like Eifel, keeps the RTO from collapsing) */
			if (m > 0)
				m >>= 3;
		} else {
			m -= mdev4 >> 2;
		}
		mdev4 += m;               /* RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R'| */
		r->mdev4 = (uint64_t)mdev4;
		if (r->mdev4 > r->mdev_max4) {
			r->mdev_max4 = r->mdev4;
			if (r->mdev_max4 > r->rttvar4)
				r->rttvar4 = r->mdev_max4;
		}
		/* once per window of data: let rttvar decay towards the window's max */
		if (seq_gt(snd_una, r->rtt_seq)) {
			if (r->mdev_max4 < r->rttvar4)
				r->rttvar4 -= (r->rttvar4 - r->mdev_max4) >> 2;
			r->rtt_seq = snd_nxt;
			r->mdev_max4 = r->rto_min;
		}
		r->srtt8 = srtt8 > 0 ? (uint64_t)srtt8 : 1;
	} else {
		/* RFC 6298 (2.2): SRTT <- R, RTTVAR <- R/2 (so RTO = 3R) */
		r->srtt8 = (uint64_t)m << 3;
		r->mdev4 = (uint64_t)m << 1;
		r->rttvar4 = r->mdev4 > r->rto_min ? r->mdev4 : r->rto_min;
		r->mdev_max4 = r->rttvar4;
		r->rtt_seq = snd_nxt;
	}
	rtt_set_rto(r);
	r->backoff = 0;
}

uint64_t tcp_rtt_rto(const struct tcp_rtt *r)
{
	uint64_t rto = r->rto_base;
	for (unsigned i = 0; i < r->backoff && rto < r->rto_max; i++)
		rto <<= 1;
	return rto > r->rto_max ? r->rto_max : rto;
}

void tcp_rtt_backoff(struct tcp_rtt *r)
{
	/* RFC 6298 (5.5): RTO <- RTO * 2, bounded by rto_max (2.5) */
	if (r->backoff < 64)
		r->backoff++;
}

void tcp_rtt_syn_fallback(struct tcp_rtt *r)
{
	if (r->srtt8 == 0 && r->rto_base < TCP_RTO_FALLBACK) {
		r->rto_base = TCP_RTO_FALLBACK;
		r->backoff = 0;
	}
}
