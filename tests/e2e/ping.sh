#!/usr/bin/env bash
# ping.sh - ICMP echo through the TAP (RFC 792, RFC 1122 3.2.2.6): no loss at a fast
# rate, full-MTU echoes, and a 4000-byte echo fragmented both ways (RFC 791 reassembly).
. "$(dirname "$0")/lib.sh"
e2e_init ping 32
e2e_up >/dev/null
sleep 0.2   # let the TAP's own start-up chatter pass before counting drops
stats_snapshot "$E2E_TMP/start"

check "1000 pings at 2 ms intervals, 0% loss"
ping_ok -c 1000 -i 0.002
pass "$PING_RTT"

check "200 full-size pings (-s 1472: 1500-byte IP packets), 0% loss"
ping_ok -c 200 -i 0.002 -s 1472
pass "$PING_RTT"

check "the engine counted the echoes it answered"
req=$(stat_get icmp_rx_echo) || exit 1
rep=$(stat_get icmp_tx_echo_reply) || exit 1
[ "$req" -ge 1200 ] || cfail "icmp_rx_echo $req < 1200"
[ "$rep" -ge 1200 ] || cfail "icmp_tx_echo_reply $rep < 1200"
pass "requests $req, replies $rep"

# 4000 bytes of payload: the kernel fragments the request (3 fragments at MTU 1500);
# the engine must reassemble it and fragment its reply, which the kernel reassembles.
stats_snapshot "$E2E_TMP/before"
check "20 pings of 4000 bytes (fragmented both ways), 0% loss"
ping_ok -c 20 -i 0.05 -s 4000
pass "$PING_RTT"
stats_snapshot "$E2E_TMP/after"
check "the engine reassembled the 20 requests from their fragments"
d=$(stats_delta "$E2E_TMP/before" "$E2E_TMP/after" ip_reasm_ok) || exit 1
[ "$d" -eq 20 ] || cfail "ip_reasm_ok grew by $d"
f=$(stats_delta "$E2E_TMP/before" "$E2E_TMP/after" ip_frags_rx) || exit 1
[ "$f" -eq 60 ] || cfail "ip_frags_rx grew by $f (3 fragments per request expected)"
pass "ip_reasm_ok +$d, ip_frags_rx +$f"

check "no drops during the pings"
stats_snapshot "$E2E_TMP/end"
out=$(awk 'FNR == NR { b[$1] = $2; next } $1 ~ /^drop\./ && $2 != b[$1] { print $1, "+" $2 - b[$1] }' \
	"$E2E_TMP/start" "$E2E_TMP/end")
[ -z "$out" ] || cfail "$out"
pass

say "ping: all checks passed"
