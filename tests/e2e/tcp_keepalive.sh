#!/usr/bin/env bash
# tcp_keepalive.sh - service keepalive (RFC 1122 4.2.3.6): a peer gone silent is probed, and the engine drops the connection after idle + intvl * cnt.
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 43 tcp_keepalive
IDLE=2 INTVL=1 CNT=3 SLACK=4
tcp_engine_up --services echo --svc-keepalive "$IDLE,$INTVL,$CNT"
command -v nft >/dev/null || tcp_log "no nft (nftables): the kernel side of the TAP goes down instead"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

tcp_held_echo_client
t0=$(now_ms)
probes0=$(tcp_stat tcp_keepalive_probes) || exit 1

# is the connection to the client in `tapsock ss`? (state in $1 or any)
conn_listed() {
	tcp_tapsock ss > "$WORK/ss" 2>&1 || { cat "$WORK/ss"; fail "tapsock ss failed"; }
	awk -v peer="$KADDR:$cport" -v st="${1:-}" '
		{ for (i = 2; i <= NF; i++) if ($i == peer && (st == "" || $1 == st)) f = 1 }
		END { exit !f }' "$WORK/ss"
}

# the peer goes silent: nothing from the kernel side reaches the engine any more
check "the kernel side goes silent"
if command -v nft >/dev/null; then
	in_ns nft -f - <<NFT || cfail "nft: cannot install the drop rule"
table netdev tcpe2e_ka {
	chain out { type filter hook egress device "$TAP" priority 0; counter drop; }
}
NFT
	pass "nft drops every frame from the kernel to the engine on $TAP"
else
	in_ns ip link set "$TAP" down || cfail "ip link set $TAP down"
	pass "$TAP down"
fi

check "the connection is still there before the idle time is over"
sleep 1
conn_listed ESTAB || { cat "$WORK/ss"; cfail "gone after $(( $(now_ms) - t0 )) ms"; }
pass

limit=$(( (IDLE + INTVL * CNT + SLACK) * 1000 ))
check "the engine drops it within idle + intvl * cnt + ${SLACK}s slack"
gone=
while :; do
	el=$(( $(now_ms) - t0 ))
	if ! conn_listed; then gone=$el; break; fi
	[ "$el" -gt "$limit" ] && break
	sleep 0.25
done
[ -n "$gone" ] || { cat "$WORK/ss"; cfail "still in tapsock ss after $el ms"; }
pass "gone after $gone ms"
check "not before idle + intvl * (cnt - 1)"
[ "$gone" -ge $(( (IDLE + INTVL * (CNT - 1)) * 1000 )) ] || cfail "dropped after $gone ms"
pass

check "at least $CNT keepalive probes counted"
probes1=$(tcp_stat tcp_keepalive_probes) || exit 1
[ "$probes1" -ge $((probes0 + CNT)) ] || cfail "tcp_keepalive_probes $probes0 -> $probes1"
pass "tcp_keepalive_probes $probes0 -> $probes1"
echo go > "$WORK/go"
wait $client
client=
tcp_engine_alive
echo PASS
