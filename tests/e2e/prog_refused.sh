#!/usr/bin/env bash
# prog_refused.sh - programs on tapsock that connect to a closed port print "Connection refused" (ECONNREFUSED from the RST, RFC 9293 3.10.7.3).
. "$(dirname "$0")/prog_lib.sh"
prog_init 76 prog_refused curl wget nc

# refused CMD...: runs on tapsock, must fail and say "Connection refused"
refused() {
	local out
	out=$(tsk 20 "$@" 2>&1) && cfail "exited 0: $out"
	printf '%s\n' "$out" | grep -q 'Connection refused' || cfail "no 'Connection refused' in: $out"
	pass "$(printf '%s\n' "$out" | grep -m1 'Connection refused' | sed 's/^\* //')"
}
tsk_mark
check "curl -v to a closed port"
refused curl -sSv "http://$KADDR:9/"
check "curl's exit status is 7 (could not connect)"
tsk 20 curl -sS "http://$KADDR:9/" > /dev/null 2>&1
rc=$?
[ "$rc" -eq 7 ] || cfail "exit status $rc"
pass
check "wget to a closed port"
refused wget -O /dev/null "http://$KADDR:9/"
check "nc -v to a closed port"
refused nc -v "$KADDR" 9
check "python: ConnectionRefusedError (errno ECONNREFUSED)"
refused "$PY" -c "import socket; socket.create_connection(('$KADDR', 9), timeout=10)"
tsk_grew tcp_attempt_fails 4
echo PASS
