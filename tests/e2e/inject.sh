#!/usr/bin/env bash
# inject.sh - malformed and unusual frames from the kernel side of the TAP: each is
# dropped under its own named counter, exactly once, and never answered; valid IP
# options and fragments are answered. RFC 1122 3.2.1 (silently discard), RFC 791.
. "$(dirname "$0")/lib.sh"
e2e_init inject 34
PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || skip "no python3 for inject.py"
e2e_up >/dev/null
mac=$("$TAPSOCK" info --netns "$E2E_NS" | awk '$1 == "mac" { print $2 }')
[ -n "$mac" ] || fail "tapsock info gives no mac"
N=5   # frames of each kind

# kind                 counter that must grow by exactly N (a|b: their sum)
kinds=(
	eth_short          drop.eth_too_short
	eth_not_for_us     drop.eth_not_for_us
	eth_unknown_type   drop.eth_unknown_type
	eth_vlan           drop.eth_vlan
	arp_short          drop.arp_too_short
	arp_bad_format     drop.arp_bad_format
	arp_bad_op         drop.arp_bad_op
	arp_not_for_us     drop.arp_not_for_us
	ip_short           drop.ip_too_short
	ip_bad_version     drop.ip_bad_version
	ip_ihl_small       drop.ip_bad_ihl
	ip_ihl_past        drop.ip_bad_ihl
	ip_len_long        drop.ip_bad_length
	ip_len_short       'drop.ip_bad_length|drop.ip_bad_ihl'
	ip_bad_csum        drop.ip_bad_csum
	ip_not_for_us      drop.ip_not_for_us
	ip_bad_src         drop.ip_bad_src
	ip_unknown_proto   drop.ip_unknown_proto
	ip_bad_options     drop.ip_bad_options
	icmp_short         drop.icmp_too_short
	icmp_bad_csum      drop.icmp_bad_csum
	icmp_unknown_type  drop.icmp_unknown_type
	ip_options         ip_rx_options
	ip_fragments       ip_reasm_ok
)
# kinds whose echo must be answered (no drop at all)
answered=" ip_options ip_fragments "

# ARP for the engine is resolved before injecting, so that no ARP exchange of the
# kernel's own runs in the middle of a count.
ping_ok -c 2 -i 0.2

# All drops of received frames. drop.icmp_ratelimit is left out: it counts ICMP
# errors the engine chose not to send (RFC 1812 4.3.2.8 rate limit), not frames.
sum_drops() { awk '$1 ~ /^drop\./ && $1 != "drop.icmp_ratelimit" { s += $2 } END { print s + 0 }' "$1"; }
sum_of() { # FILE a|b|c
	local IFS='|' k s=0 v
	for k in $2; do
		v=$(awk -v k="$k" '$1 == k { print $2; f = 1 } END { if (!f) exit 1 }' "$1") ||
			fail "counter '$k' not in 'tapsock stats -a'"
		s=$((s + v))
	done
	echo "$s"
}
moved() { # BEFORE AFTER: the drop counters that changed
	awk 'FNR == NR { b[$1] = $2; next } $1 ~ /^drop\./ && $2 != b[$1] { printf "%s +%d ", $1, $2 - b[$1] }' "$1" "$2"
}

for ((i = 0; i < ${#kinds[@]}; i += 2)); do
	kind=${kinds[i]} counter=${kinds[i + 1]}
	check "$N x $kind -> $counter +$N"
	stats_snapshot "$E2E_TMP/before"
	out=$(in_ns "$PYTHON" "$E2E_DIR/inject.py" "$E2E_TAP" "$mac" "$E2E_EADDR" "$E2E_KADDR" "$kind" "$N" 2>&1)
	rc=$?
	if [ $rc -eq 3 ]; then
		# the kernel's packet socket refuses frames under the Ethernet header length
		printf 'SKIPPED (%s)\n' "$out"
		continue
	fi
	[ $rc -eq 0 ] || cfail "inject.py exit $rc: $out"
	sleep 0.05
	stats_snapshot "$E2E_TMP/after"
	b=$(sum_of "$E2E_TMP/before" "$counter") || exit 1
	a=$(sum_of "$E2E_TMP/after" "$counter") || exit 1
	replies=$(sed -n 's/^sent [0-9]* replies \([0-9]*\)$/\1/p' <<<"$out")
	[ $((a - b)) -eq "$N" ] || cfail "$counter grew by $((a - b)); drops that moved: $(moved "$E2E_TMP/before" "$E2E_TMP/after")"
	total=$(( $(sum_drops "$E2E_TMP/after") - $(sum_drops "$E2E_TMP/before") ))
	if [[ $answered == *" $kind "* ]]; then
		[ "$replies" = "$N" ] || cfail "$replies of $N echoes answered"
		[ "$total" -eq 0 ] || cfail "drops: $(moved "$E2E_TMP/before" "$E2E_TMP/after")"
		if [ "$kind" = ip_fragments ]; then
			f=$(stats_delta "$E2E_TMP/before" "$E2E_TMP/after" ip_frags_rx) || exit 1
			[ "$f" -eq $((2 * N)) ] || cfail "ip_frags_rx grew by $f, not $((2 * N))"
		fi
		pass "$N answered"
	else
		[ "$replies" = 0 ] || cfail "$replies answers to dropped frames"
		[ "$total" -eq "$N" ] || cfail "all drops grew by $total (each frame must be counted once): $(moved "$E2E_TMP/before" "$E2E_TMP/after")"
		pass
	fi
done

check "after all that, the engine still answers pings"
ping_ok -c 50 -i 0.005
pass "$PING_RTT"

say "inject: all checks passed"
