#!/usr/bin/env bash
# tcp_ss.sh - `tapsock ss` shows what `ss -tan` would: LISTEN on the service ports 7/9/19 and an ESTAB echo connection with the kernel client's address and port.
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 46 ss
[ -n "$TAPSOCK" ] || tcp_fail "the tapsock command is needed (TAPSOCK)"
tcp_engine_up --services echo,discard,chargen
# a client that connects, proves the connection works, prints its port, then waits
mkfifo "$WORK/go"
ip netns exec "$NS" timeout 60 "$PY" - "$EADDR" "$WORK/port" "$WORK/go" <<'PY' &
import socket, sys
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
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
open(sys.argv[3]).read()   # until the test is done looking
s.close()
PY
client=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || tcp_fail "the echo client did not get its echo"
cport=$(cat "$WORK/port")
tcp_tapsock ss > "$WORK/ss" || { cat "$WORK/ss"; tcp_fail "tapsock ss failed"; }
echo "--- tapsock ss"; cat "$WORK/ss"
echo go > "$WORK/go"
wait $client || tcp_fail "the echo client failed"

# an address:port column, with the local address shown as ss shows it
addr_re() { printf '(^|[[:space:]])%s:%s([[:space:]]|$)' "$1" "$2"; }
for port in 7 9 19; do
	grep -E "^LISTEN" "$WORK/ss" | grep -Eq "$(addr_re '(0\.0\.0\.0|\*|'"${EADDR//./\\.}"')' "$port")" ||
		tcp_fail "no LISTEN socket on port $port"
done
grep -E "^ESTAB" "$WORK/ss" | grep -E "$(addr_re "${EADDR//./\\.}" 7)" |
	grep -Eq "$(addr_re "${KADDR//./\\.}" "$cport")" ||
	tcp_fail "no ESTAB line $EADDR:7 <-> $KADDR:$cport"
tcp_engine_alive
echo PASS
