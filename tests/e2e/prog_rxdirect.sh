#!/usr/bin/env bash
# prog_rxdirect.sh - socat on tapsock receives bulk from kernel senders, alone, two at once, and over a path that loses: every byte arrives, in order (SHA-256), while the engine reads frames straight into the program's receive ring (tapsock info rx_direct_in_place); not while another uid has a socket or the engine's echo service a connection, a capture running gets every frame whole, and tapsockd --no-direct-reads reads none so.
. "$(dirname "$0")/prog_lib.sh"
prog_init 78 prog_rxdirect socat
MB=${RXDIRECT_MB:-64}
head -c "${MB}M" /dev/urandom > "$WORK/in" || fail "no test data"
lossy=""
want=$(sha "$WORK/in")

in_place() {
	"$TAPSOCK" info --netns "$NS" | awk '$1 == "rx_direct_in_place" { print $2 }'
}

# receive N: socat on tapsock listens on port 72N0 and writes what it reads to out.N
receive() {
	bg tsk 100 socat -u TCP-LISTEN:72${1}0,reuseaddr CREATE:"$WORK/out.$1"
	RPID=$BG
	wait_listen tsk 72${1}0 $RPID
}
send() {
	kern 100 socat -u OPEN:"$WORK/in" TCP:"$EADDR":72${1}0 2> "$WORK/send.$1.err"
}
# got N: the receiver has ended and out.N is the input
got() {
	wait "$2" || cfail "the receiver on tapsock: $(status $?)"
	[ "$(sha "$WORK/out.$1")" = "$want" ] ||
		cfail "out.$1: $(stat -c %s "$WORK/out.$1") bytes of $((MB << 20)), not the bytes sent"
}
grew_in_place() {
	[ "$PROG_MODE" = tapsock ] || return 0
	local now
	now=$(in_place)
	[ -n "$now" ] || cfail "tapsock info has no rx_direct_in_place"
	[ "$now" -gt "$1" ] || cfail "no frame was read into a receive ring (rx_direct_in_place stayed $1)"
	say "frames read into the ring in place: $((now - $1))"
}

before=0
[ "$PROG_MODE" = tapsock ] && before=$(in_place)

check "one stream of $MB MB: socat on tapsock gets every byte"
receive 1
p1=$RPID
send 1 || cfail "the sender: $(cat "$WORK/send.1.err")"
got 1 "$p1"
grew_in_place "$before"
pass

check "two streams at once: each gets its own bytes"
[ "$PROG_MODE" = tapsock ] && before=$(in_place)
receive 2
p2=$RPID
receive 3
p3=$RPID
send 2 &
s2=$!
reap $s2
send 3 || cfail "the sender of stream 3: $(cat "$WORK/send.3.err")"
wait $s2 || cfail "the sender of stream 2: $(cat "$WORK/send.2.err")"
got 2 "$p2"
got 3 "$p3"
grew_in_place "$before"
pass

check "while a socket of another uid is open, no frame is read into a ring (its free room could hold that socket's bytes)"
if [ "$PROG_MODE" = tapsock ]; then
	command -v setpriv >/dev/null || skip "no setpriv(1) to run a program as another user"
	bg tsk 100 setpriv --reuid=65534 --regid=65534 --clear-groups socat -u TCP-LISTEN:7290 -
	other=$BG
	wait_listen tsk 7290 $other
	before=$(in_place)
	receive 5
	p5=$RPID
	send 5 || cfail "the sender: $(cat "$WORK/send.5.err")"
	got 5 "$p5"
	[ "$(in_place)" = "$before" ] || cfail "rx_direct_in_place grew from $before to $(in_place)"
	kill "$other" 2>/dev/null
	wait "$other" 2>/dev/null
	pass "$MB MB received the usual way"
else
	pass "nothing to check on the kernel"
fi

check "a capture while frames are read directly: each frame in the file whole, none published in place"
if [ "$PROG_MODE" = tapsock ]; then
	"$TAPSOCK" capture "$WORK/c.pcap" --seconds 5 --netns "$NS" > "$WORK/cap.out" 2>&1 &
	cap=$!
	reap $cap
	for i in $(seq 50); do
		[ "$("$TAPSOCK" info --netns "$NS" | awk '$1 == "capture" { print $2 }')" != off ] && break
		sleep 0.1
	done
	before=$(in_place)
	receive 6
	p6=$RPID
	send 6 || cfail "the sender: $(cat "$WORK/send.6.err")"
	got 6 "$p6"
	[ "$(in_place)" = "$before" ] || cfail "payloads published in place while capturing: $before -> $(in_place)"
	wait $cap || cfail "tapsock capture: $(cat "$WORK/cap.out")"
	# the stream as captured: every payload is the input at its offset, and the
	# frames cover the whole input without a gap (a frame split at reading and not
	# made whole would be missing, or carry other bytes)
	"$PY" - "$WORK/c.pcap" "$WORK/in" 7260 <<'PY' || cfail "the capture does not hold the stream"
import struct, sys
pcap, data, port = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), int(sys.argv[3])
at, isn, spans = 24, None, {}
while at + 16 <= len(pcap):
    caplen = struct.unpack_from("<I", pcap, at + 8)[0]
    f = pcap[at + 16:at + 16 + caplen]
    at += 16 + caplen
    if len(f) < 54 or f[12:14] != b"\x08\x00" or f[23] != 6:
        continue
    ihl = (f[14] & 15) * 4
    t = 14 + ihl
    if struct.unpack_from(">H", f, t + 2)[0] != port:
        continue
    seq = struct.unpack_from(">I", f, t + 4)[0]
    if f[t + 13] & 2:
        isn = seq
        continue
    doff = (f[t + 12] >> 4) * 4
    n = struct.unpack_from(">H", f, 16)[0] - ihl - doff
    if n <= 0 or isn is None:
        continue
    off = (seq - isn - 1) % (1 << 32)
    got = f[t + doff:]
    assert data[off:off + len(got)] == got, "bytes at offset %d are not the input's" % off
    spans[off] = max(spans.get(off, 0), n)
assert isn is not None, "no SYN in the capture"
end = 0
for off in sorted(spans):
    assert off <= end, "no frame holds bytes %d-%d" % (end, off)
    end = max(end, off + spans[off])
assert end == len(data), "the frames end at %d of %d" % (end, len(data))
print("%d data frames cover the %d bytes" % (len(spans), len(data)))
PY
	pass
else
	pass "nothing to check on the kernel"
fi

check "a path that loses and reorders: every byte, in order"
# the kernel side's link towards the tapsock side: the TAP, or the veth of PROG_ON_KERNEL
dev=$E2E_TAP
[ "$PROG_MODE" = kernel ] && dev=tskv0
# netem where the kernel has it; else 1 % random loss with a netdev-family nftables
# filter on what the kernel sends (each loss leaves the segments behind it out of order)
if tc -n "$NS" qdisc add dev "$dev" root netem loss 0.5% reorder 2% delay 1ms 2> "$WORK/tc.err"; then
	undo="tc -n $NS qdisc del dev $dev root"
elif command -v nft >/dev/null &&
	printf 'table netdev rxdirect_loss {\n\tchain out { type filter hook egress device "%s" priority 0; numgen random mod 100 < 1 counter drop; }\n}\n' "$dev" |
	ip netns exec "$NS" nft -f - 2> "$WORK/nft.err"; then
	undo="ip netns exec $NS nft delete table netdev rxdirect_loss"
else
	undo=""
	lossy="neither netem ($(cat "$WORK/tc.err")) nor nftables ($(cat "$WORK/nft.err" 2>/dev/null)) to make the path lossy"
	pass "skipped: $lossy"
fi
if [ -n "$undo" ]; then
	[ "$PROG_MODE" = tapsock ] && before=$(in_place)
	receive 4
	p4=$RPID
	send 4 || cfail "the sender: $(cat "$WORK/send.4.err")"
	got 4 "$p4"
	grew_in_place "$before"
	ip netns exec "$NS" nft list ruleset 2>/dev/null | grep -o "counter packets [0-9]*"
	$undo
	pass
fi

# restart ARGS...: the engine again, in the same namespace, with these tapsockd arguments
restart() {
	"$TAPSOCK" down --netns "$NS" > /dev/null 2>&1 || cfail "tapsock down"
	"$TAPSOCK" up --netns "$NS" --addr "$EADDR/24" --log "$E2E_LOG" -- "$@" \
		> /dev/null 2> "$WORK/up.err" || cfail "tapsock up -- $*: $(cat "$WORK/up.err")"
	_prog_pin_cubic "$NS"
}

check "while a connection of the engine's own echo service is open, no frame is read into a ring"
if [ "$PROG_MODE" = tapsock ]; then
	restart --services echo
	bg kern 60 socat -u TCP:"$EADDR":7 STDOUT
	echo_cl=$BG
	for i in $(seq 50); do
		[ -n "$(ip netns exec "$NS" ss -Htn state established "dport = :7")" ] && break
		sleep 0.1
	done
	[ -n "$(ip netns exec "$NS" ss -Htn state established "dport = :7")" ] ||
		cfail "no connection to the echo service"
	before=$(in_place)
	receive 8
	p8=$RPID
	send 8 || cfail "the sender: $(cat "$WORK/send.8.err")"
	got 8 "$p8"
	[ "$(in_place)" = "$before" ] || cfail "rx_direct_in_place grew from $before to $(in_place)"
	kill "$echo_cl" 2>/dev/null
	wait "$echo_cl" 2>/dev/null
	pass "$MB MB received the usual way"
else
	pass "nothing to check on the kernel"
fi

check "tapsockd --no-direct-reads: the same stream, no frame read directly"
if [ "$PROG_MODE" = tapsock ]; then
	restart --no-direct-reads
	receive 7
	p7=$RPID
	send 7 || cfail "the sender: $(cat "$WORK/send.7.err")"
	got 7 "$p7"
	reads=$("$TAPSOCK" info --netns "$NS" | awk '$1 == "rx_direct_reads" { print $2 }')
	[ "$reads" = 0 ] || cfail "$reads frames read directly"
	pass
else
	pass "nothing to check on the kernel"
fi
[ -z "$lossy" ] || skip "$lossy"
echo PASS
