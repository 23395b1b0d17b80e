#!/usr/bin/env bash
# arping.sh - the engine answers ARP requests for its address (RFC 826) and the kernel
# side learns its MAC.
. "$(dirname "$0")/lib.sh"
e2e_init arping 33
command -v arping >/dev/null || skip "no arping command (apt-get install arping)"
e2e_up >/dev/null
mac=$("$TAPSOCK" info --netns "$E2E_NS" | awk '$1 == "mac" { print $2 }')
[ -n "$mac" ] || fail "tapsock info gives no mac"

# Two arpings exist: iputils (-I IF, "Unicast reply from") and Thomas Habets'
# (-i IF, "bytes from MAC (IP)"); count replies that carry the engine's MAC.
if arping -V 2>&1 | grep -qi iputils; then
	args=(-c 3 -w 5 -I "$E2E_TAP" "$E2E_EADDR")
else
	args=(-c 3 -w 5 -i "$E2E_TAP" "$E2E_EADDR")
fi
before=$(stat_get arp_tx_replies) || exit 1
check "arping ${args[*]} gets 3 replies from $mac"
out=$(in_ns arping "${args[@]}" 2>&1)
n=$(grep -ci "$mac" <<<"$out")
[ "$n" -eq 3 ] || { printf '%s\n' "$out" >&2; cfail "$n replies with the engine's MAC"; }
pass
check "the engine counted 3 ARP replies sent"
after=$(stat_get arp_tx_replies) || exit 1
[ $((after - before)) -ge 3 ] || cfail "arp_tx_replies grew by $((after - before))"
pass "+$((after - before))"

check "after traffic, 'ip neigh' has $E2E_EADDR at $mac"
ping_ok -c 1
out=$(in_ns ip neigh show "$E2E_EADDR" dev "$E2E_TAP")
grep -qi "lladdr $mac" <<<"$out" || cfail "ip neigh: $out"
pass "$out"

check "an ARP request for another address gets no answer"
out=$(in_ns arping "${args[@]:0:4}" "$E2E_NET.99" 2>&1)
! grep -qi "$mac" <<<"$out" || cfail "engine answered for $E2E_NET.99: $out"
pass

say "arping: all checks passed"
