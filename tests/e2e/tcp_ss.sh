#!/usr/bin/env bash
# tcp_ss.sh - `tapsock ss` shows what `ss -tan` would: LISTEN on the service ports 7/9/19 and an ESTAB echo connection with the kernel client's address and port.
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 46 tcp_ss
tcp_engine_up --services echo,discard,chargen
# a client holds an echo connection open until the test has looked
tcp_held_echo_client
tcp_tapsock ss > "$WORK/ss" 2>&1 || { cat "$WORK/ss"; fail "tapsock ss failed"; }
echo "--- tapsock ss"; cat "$WORK/ss"
echo go > "$WORK/go"
wait $client || fail "the echo client failed"

# lines of STATE with an address:port column matching each regex given
has_line() {
	local state=$1; shift
	awk -v st="$state" -v a="$1" -v b="${2:-}" '
		$1 == st {
			fa = 0; fb = (b == "")
			for (i = 2; i <= NF; i++) { if ($i ~ a) fa = 1; if (b != "" && $i ~ b) fb = 1 }
			if (fa && fb) found = 1
		}
		END { exit !found }' "$WORK/ss"
}
e=${EADDR//./\\.} k=${KADDR//./\\.}
for port in 7 9 19; do
	check "LISTEN on port $port"
	has_line LISTEN "^(0\\.0\\.0\\.0|\\*|$e):$port\$" || cfail "no LISTEN line for port $port"
	pass
done
check "ESTAB $EADDR:7 <-> $KADDR:$cport"
has_line ESTAB "^$e:7\$" "^$k:$cport\$" || cfail "no such ESTAB line"
pass
tcp_engine_alive
echo PASS
