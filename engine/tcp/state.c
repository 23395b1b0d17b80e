/* state.c - the one door for TCP state changes, and the state names (RFC 9293 3.3.2, Figure 5). */
#include "base/log.h"
#include "eng.h"
#include "tcp/tcb.h"

static const char *const rfc_names[] = {
	"CLOSED", "LISTEN", "SYN-SENT", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
	"FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
};
static const char *const ss_names[] = {
	"CLOSE", "LISTEN", "SYN-SENT", "SYN-RECV", "ESTAB", "FIN-WAIT-1",
	"FIN-WAIT-2", "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT",
};

static int state_index(int state)
{
	for (int i = 0; i < 11; i++)
		if (state == 1 << i)
			return i;
	return 0;
}

const char *tcp_state_name(int state) { return rfc_names[state_index(state)]; }
const char *tcp_state_ss_name(int state) { return ss_names[state_index(state)]; }

/* Every transition of every record kind goes through here: it is what `tapsock
 * trace` and the CNT_TCP_STATE_CHANGES counter see. */
void tcp_set_state(struct eng *eng, struct tcp_conn *c, int state)
{
	int from = c->state;

	if (from == state)
		return;
	c->state = (uint16_t)state;
	eng_count(eng, TCP_STATE_CHANGES);
	log_debug("tcp %u:%u -> %u: %s -> %s", c->lport, c->raddr, c->rport,
		  tcp_state_name(from), tcp_state_name(state));
	if (eng->tcp && eng->tcp->trace)
		eng->tcp->trace(eng, c, from, state, eng->tcp->trace_arg);
	if (c->kind == TCPK_SOCK)
		tcp_linger_check((struct tcp_sock *)c, false);
}

void tcp_set_trace(struct eng *eng,
		   void (*fn)(struct eng *, const struct tcp_conn *, int, int, void *), void *arg)
{
	eng->tcp->trace = fn;
	eng->tcp->trace_arg = arg;
}
