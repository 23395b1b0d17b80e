#!/usr/bin/env bash
# prog_rxdirect.sh - socat on tapsock receives bulk from kernel senders, alone, two at once, and over a path that loses: every byte arrives, in order (SHA-256), while the engine reads frames straight into the program's receive ring (tapsock info rx_direct_in_place).
. "$(dirname "$0")/prog_lib.sh"
prog_init 78 prog_rxdirect socat
MB=${RXDIRECT_MB:-64}
head -c "${MB}M" /dev/urandom > "$WORK/in" || fail "no test data"
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
send 2 & s2=$!
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
	skip "neither netem ($(cat "$WORK/tc.err")) nor nftables ($(cat "$WORK/nft.err" 2>/dev/null)) to make the path lossy"
fi
[ "$PROG_MODE" = tapsock ] && before=$(in_place)
receive 4
p4=$RPID
send 4 || cfail "the sender: $(cat "$WORK/send.4.err")"
got 4 "$p4"
grew_in_place "$before"
ip netns exec "$NS" nft list ruleset 2>/dev/null | grep -o "counter packets [0-9]*"
$undo
pass
echo PASS
