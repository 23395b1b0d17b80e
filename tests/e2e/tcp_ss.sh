#!/usr/bin/env bash
# tcp_ss.sh - `tapsock ss` shows what `ss -tan` would: LISTEN on the service ports 7/9/19 and an ESTAB echo connection with the kernel client's address and port.
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 46 tcp_ss
tcp_engine_up --services echo,discard,chargen
# a client that connects, proves the connection works, writes its port, then
# waits until the test has looked
mkfifo "$WORK/go"
client=
on_exit '[ -n "$client" ] && kill "$client"'
in_ns timeout 60 "$PY" - "$EADDR" "$WORK/port" "$WORK/go" <<'PY' &
import os, socket, sys
s = socket.create_connection((sys.argv[1], 7), timeout=5)
s.sendall(b"ping\n")
got = b""
while len(got) < 5:
    d = s.recv(100)
    if not d:
        break
    got += d
assert got == b"ping\n", got
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
open(sys.argv[3]).read()   # until the test is done looking
s.close()
PY
client=$!
check "a kernel client talks to echo"
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || cfail "the echo client did not get its echo"
cport=$(cat "$WORK/port")
pass "client port $cport"
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
