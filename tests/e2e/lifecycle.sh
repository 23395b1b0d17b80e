#!/usr/bin/env bash
# lifecycle.sh - tapsock up/down in a namespace of its own: TAP, addresses, control
# channel, refusal of a second engine, clean removal; --help and bad options.
. "$(dirname "$0")/lib.sh"
e2e_init lifecycle 31

check "tapsock --help and --version"
"$TAPSOCK" --help | grep -q '^usage: tapsock' || cfail "no usage on --help"
"$TAPSOCK" --version | grep -q '^tapsock ' || cfail "no version"
pass

for cmd in up down stats info ss capture; do
	check "tapsock $cmd --help exits 0 with its usage"
	out=$("$TAPSOCK" $cmd --help 2>&1) || cfail "exit $?"
	grep -q "^usage: tapsock $cmd" <<<"$out" || cfail "no usage line: $out"
	pass
done

check "a bad option exits 2 with the usage"
out=$("$TAPSOCK" stats --no-such-option 2>&1); rc=$?
[ $rc -eq 2 ] || cfail "exit $rc"
grep -q '^usage: tapsock stats' <<<"$out" || cfail "no usage: $out"
pass

check "an unknown command exits 2 with the usage"
out=$("$TAPSOCK" frobnicate 2>&1); rc=$?
[ $rc -eq 2 ] || cfail "exit $rc"
grep -q '^usage: tapsock' <<<"$out" || cfail "no usage: $out"
pass

check "a command of later work (trace) says 'not implemented yet' and exits 2"
out=$("$TAPSOCK" trace 2>&1); rc=$?
[ $rc -eq 2 ] || cfail "exit $rc"
grep -q 'not implemented yet' <<<"$out" || cfail "message: $out"
pass

check "tapsock run without a program exits 2 with its usage"
out=$("$TAPSOCK" run 2>&1); rc=$?
[ $rc -eq 2 ] || cfail "exit $rc"
grep -q '^usage: tapsock run' <<<"$out" || cfail "message: $out"
pass

check "tapsock down with no engine says so and exits 1"
out=$("$TAPSOCK" down --netns "$E2E_NS" 2>&1); rc=$?
[ $rc -eq 1 ] || cfail "exit $rc"
grep -qi 'no .*namespace\|not running\|no engine' <<<"$out" || cfail "message: $out"
pass

check "tapsock up --netns creates the namespace and starts the engine"
e2e_up >"$E2E_TMP/up.out"
ip netns list | grep -qw "^$E2E_NS" || cfail "namespace $E2E_NS missing"
grep -q "pid $E2E_PID" "$E2E_TMP/up.out" || cfail "summary lacks the pid: $(cat "$E2E_TMP/up.out")"
pass "pid $E2E_PID"

check "the TAP exists in the namespace, up, with $E2E_KADDR/24"
out=$(in_ns ip -o -4 addr show dev "$E2E_TAP" 2>&1) || cfail "no $E2E_TAP in $E2E_NS: $out"
grep -q "inet $E2E_KADDR/24" <<<"$out" || cfail "address: $out"
in_ns ip -o link show dev "$E2E_TAP" | grep -q '[<,]UP[,>]' || cfail "$E2E_TAP is not up"

check "the TAP queues 16384 frames towards the engine (a burst of 10 000 requests fits)"
in_ns ip -o link show dev "$E2E_TAP" | grep -q ' qlen 16384' ||
	cfail "qlen: $(in_ns ip -o link show dev "$E2E_TAP")"
pass

check "the TAP is not in the parent namespace"
if ip link show dev "$E2E_TAP" 2>/dev/null | grep -q .; then
	# another engine of the host may own a tsk0 there: only fail if it is ours
	[ "$(ip -o -4 addr show dev "$E2E_TAP" | grep -c "$E2E_KADDR/")" -eq 0 ] ||
		cfail "$E2E_TAP with $E2E_KADDR in the parent namespace"
fi
pass

check "lo is up in the new namespace"
in_ns ip -o link show dev lo | grep -q '[<,]UP[,>]' || cfail "lo down"
pass

check "tapsock info answers with pid, TAP and address"
out=$("$TAPSOCK" info --netns "$E2E_NS") || cfail "exit $?"
grep -q "^ifname $E2E_TAP\$" <<<"$out" || cfail "ifname: $out"
grep -q "^addr $E2E_EADDR/24\$" <<<"$out" || cfail "addr: $out"
pass

check "inside the namespace, tapsock finds the engine without options"
out=$(in_ns "$TAPSOCK" info) || cfail "exit $?"
grep -q "^pid $E2E_PID\$" <<<"$out" || cfail "$out"
pass

check "the engine answers a ping"
ping_ok -c 3 -i 0.2
pass "$PING_RTT"

check "tapsock stats shows the echo traffic (non-zero counters only)"
out=$("$TAPSOCK" stats --netns "$E2E_NS") || cfail "exit $?"
grep -q '^icmp_rx_echo  *[1-9]' <<<"$out" || cfail "icmp_rx_echo: $out"
! awk '$2 == "0"' <<<"$out" | grep -q . || cfail "zero counters without -a: $out"
out_all=$("$TAPSOCK" stats -a --netns "$E2E_NS") || cfail "exit $?"
[ "$(wc -l <<<"$out_all")" -gt "$(wc -l <<<"$out")" ] || cfail "-a shows no more than the default"
grep -q '^drop\.ip_bad_csum  *0$' <<<"$out_all" || cfail "-a lacks drop.ip_bad_csum 0"
pass

check "tapsock ss answers (or says it is not supported yet)"
out=$("$TAPSOCK" ss --netns "$E2E_NS" 2>&1); rc=$?
[ $rc -eq 0 ] || grep -q 'not supported by this engine yet' <<<"$out" || cfail "exit $rc: $out"
pass

check "a second tapsock up in the same namespace fails with 'already running'"
out=$("$TAPSOCK" up --netns "$E2E_NS" --addr "$E2E_EADDR/24" 2>&1); rc=$?
[ $rc -ne 0 ] || cfail "second up succeeded"
grep -q 'already running' <<<"$out" || cfail "message: $out"
pid_alive "$E2E_PID" || cfail "the first engine died"
pass

check "tapsock up inside the namespace also refuses a second engine"
out=$(in_ns "$TAPSOCK" up --addr "$E2E_EADDR/24" 2>&1); rc=$?
[ $rc -ne 0 ] || cfail "second up succeeded"
grep -q 'already running' <<<"$out" || cfail "message: $out"
pass

check "a second engine with another name but the same TAP name is refused"
out=$(in_ns "$TAPSOCK" up --name other --addr "$E2E_NET.3/24" 2>&1); rc=$?
[ $rc -ne 0 ] || { in_ns "$TAPSOCK" down --name other >/dev/null 2>&1; cfail "it started"; }
grep -q "'$E2E_TAP' already exists" <<<"$out" || cfail "message: $out"
pass

check "tapsock down stops the engine and deletes TAP and namespace"
out=$("$TAPSOCK" down --netns "$E2E_NS" 2>&1) || cfail "exit $?: $out"
pid_alive "$E2E_PID" && cfail "pid $E2E_PID still alive"
! ip netns list | grep -qw "^$E2E_NS" || cfail "namespace still there"
[ ! -e "/run/tapsock/netns/$E2E_NS" ] || cfail "marker left behind"
pass

check "tapsock down again exits 1 with a clear message"
out=$("$TAPSOCK" down --netns "$E2E_NS" 2>&1); rc=$?
[ $rc -eq 1 ] || cfail "exit $rc"
grep -q "no network namespace '$E2E_NS'" <<<"$out" || cfail "message: $out"
pass

check "after the engine is killed, up takes its namespace again and down removes it"
e2e_up >/dev/null
kill -KILL "$E2E_PID"
for _ in $(seq 50); do pid_alive "$E2E_PID" || break; sleep 0.1; done
pid_alive "$E2E_PID" && cfail "pid $E2E_PID survived SIGKILL"
# the TAP goes with the engine's last fd
for _ in $(seq 50); do in_ns ip link show dev "$E2E_TAP" >/dev/null 2>&1 || break; sleep 0.1; done
out=$("$TAPSOCK" up --netns "$E2E_NS" --addr "$E2E_EADDR/24" 2>&1) || cfail "up after a crash: $out"
E2E_PID=$(engine_pid)
ping_ok -c 2 -i 0.2
kill -KILL "$E2E_PID"
for _ in $(seq 50); do pid_alive "$E2E_PID" || break; sleep 0.1; done
out=$("$TAPSOCK" down --netns "$E2E_NS" 2>&1); rc=$?
[ $rc -eq 1 ] || cfail "down of a dead engine exited $rc"
grep -q 'no engine' <<<"$out" || cfail "message: $out"
! ip netns list | grep -qw "^$E2E_NS" || cfail "namespace left behind"
pass

check "up in an existing namespace that tapsock did not create is refused"
ip netns add "$E2E_NS" || cfail "ip netns add"
out=$("$TAPSOCK" up --netns "$E2E_NS" 2>&1); rc=$?
[ $rc -ne 0 ] || cfail "it started"
grep -q 'already exists' <<<"$out" || cfail "message: $out"
pass
check "... and down leaves that namespace alone"
"$TAPSOCK" down --netns "$E2E_NS" >/dev/null 2>&1
ip netns list | grep -qw "^$E2E_NS" || cfail "down deleted a namespace it did not create"
ip netns delete "$E2E_NS"
pass

say "lifecycle: all checks passed"
