#!/usr/bin/env bash
# tcp_netem.sh - 20 MB through echo over a lossy path (loss, and reordering and delay where the kernel has netem): SHA-256 must match (RFC 9293 3.10.7.4, RFC 6298, RFC 5681).
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 45 tcp_netem
MB=${TCP_NETEM_MB:-20}
tcp_engine_up --services echo --pcap
command -v tc >/dev/null || tcp_skip "no tc(8)"
# kernel -> engine: netem on the kernel side of the TAP shapes what the kernel sends
if tc -n "$NS" qdisc add dev "$TAP" root netem loss 1% reorder 1% delay 1ms 2>"$WORK/tc.err"; then
	tcp_log "netem on $TAP: loss 1% reorder 1% delay 1ms (kernel -> engine)"
	shaped="netem"
else
	tcp_log "netem unavailable ($(cat "$WORK/tc.err")): loss only, with nftables"
	shaped=""
fi
# engine -> kernel (and kernel -> engine without netem): random loss with a
# netdev-family nftables filter on the TAP (ingress = frames from the engine)
if command -v nft >/dev/null; then
	if [ -n "$shaped" ]; then
		rules='chain in { type filter hook ingress device "'$TAP'" priority 0; numgen random mod 100 < 1 counter drop; }'
	else
		rules='chain in { type filter hook ingress device "'$TAP'" priority 0; numgen random mod 100 < 1 counter drop; }
	chain out { type filter hook egress device "'$TAP'" priority 0; numgen random mod 100 < 1 counter drop; }'
	fi
	printf 'table netdev tcpe2e_loss {\n\t%s\n}\n' "$rules" | ip netns exec "$NS" nft -f - ||
		tcp_fail "nft: cannot install the loss rules"
	shaped="$shaped nft-loss"
fi
[ -n "$shaped" ] || tcp_skip "neither netem (sch_netem) nor nft to make the path lossy"
tcp_log "impairments: $shaped; reordering and delay only with netem"
tcp_py 600 "$TCP_E2E_DIR/tcp_echo_client.py" "$EADDR" 7 $((MB * 1000000)) --timeout 580 ||
	{ ip netns exec "$NS" nft list ruleset 2>/dev/null; tcp_fail "echo of $MB MB over a lossy path failed"; }
ip netns exec "$NS" nft list ruleset 2>/dev/null | grep -E "chain|counter"
tcp_engine_alive
echo PASS
