#!/usr/bin/env bash
# capture.sh - tapsock capture writes what crosses the TAP as a pcap file that
# tcpdump reads (pcap file format, link type Ethernet).
. "$(dirname "$0")/lib.sh"
e2e_init capture 35
e2e_up >/dev/null
pcap=$E2E_TMP/f.pcap

check "tapsock capture f.pcap --seconds 2 while pinging"
in_ns ping -n -q -c 30 -i 0.1 "$E2E_EADDR" >"$E2E_TMP/ping.out" 2>&1 &
ping_pid=$!
on_exit "kill $ping_pid"
sleep 0.2
cap_out=$("$TAPSOCK" capture "$pcap" --seconds 2 --netns "$E2E_NS" 2>&1) || cfail "exit $?: $cap_out"
wait "$ping_pid"
[ -s "$pcap" ] || cfail "$pcap missing or empty"
pass "$cap_out"

check "the pcap file starts with the pcap magic and has link type Ethernet"
magic=$(od -An -tx4 -N4 "$pcap" | tr -d ' ')
case $magic in a1b2c3d4|a1b23c4d) ;; *) cfail "magic $magic" ;; esac
linktype=$(od -An -tu4 -j20 -N4 "$pcap" | tr -d ' ')
[ "$linktype" = 1 ] || cfail "link type $linktype"
pass

check "tcpdump -r shows the echo requests and replies"
if ! command -v tcpdump >/dev/null; then
	printf 'SKIPPED (no tcpdump here: apt-get install tcpdump)\n'
else
	out=$(tcpdump -n -r "$pcap" 2>&1) || cfail "tcpdump -r failed: $out"
	req=$(grep -c "$E2E_KADDR > $E2E_EADDR: ICMP echo request" <<<"$out")
	rep=$(grep -c "$E2E_EADDR > $E2E_KADDR: ICMP echo reply" <<<"$out")
	# 2 s of pings at 100 ms: about 20 of each; allow for start and stop edges
	[ "$req" -ge 10 ] || cfail "$req echo requests in the capture"
	[ "$rep" -ge 10 ] || cfail "$rep echo replies in the capture"
	[ $((req - rep)) -le 1 ] && [ $((rep - req)) -le 1 ] || cfail "$req requests but $rep replies"
	pass "$req requests, $rep replies"
fi

check "the frame count tapsock reported matches the file"
n=$(sed -n 's/^\([0-9][0-9]*\) frames captured.*/\1/p' <<<"$cap_out")
if [ -z "$n" ]; then
	printf 'SKIPPED (the engine does not report a frame count)\n'
elif command -v tcpdump >/dev/null; then
	m=$(tcpdump -n -r "$pcap" 2>/dev/null | wc -l)
	[ "$n" -eq "$m" ] || cfail "tapsock said $n, tcpdump read $m"
	pass "$n frames"
else
	pass "$n frames (not compared: no tcpdump)"
fi

check "a second capture after the first one works too (start/stop is repeatable)"
out=$("$TAPSOCK" capture "$E2E_TMP/g.pcap" --seconds 0.5 --netns "$E2E_NS" 2>&1) || cfail "exit $?: $out"
[ -s "$E2E_TMP/g.pcap" ] || cfail "g.pcap missing"
pass

say "capture: all checks passed"
