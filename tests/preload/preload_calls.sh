#!/bin/bash
# preload_calls.sh - runs prog_calls under LD_PRELOAD against a kernel echo server, then
# checks engine death: a blocked recv fails with ECONNRESET instead of hanging.
# Env: TAPSOCK, TAPSOCKD, LIBTAPSOCK, PROG_CALLS, PYTHON. Subnet 10.77.81.0/24. 77 = skip.
set -uo pipefail
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (TAP, namespaces)"; exit 77; }
[ -c /dev/net/tun ] || { echo "SKIP: no /dev/net/tun"; exit 77; }
NS=tskpl-calls-$$
ip netns add "$NS.probe" 2>/dev/null || { echo "SKIP: cannot create namespaces"; exit 77; }
ip netns delete "$NS.probe"
TMP=$(mktemp -d /tmp/tskpl.XXXXXX)
ECHO_PID=
cleanup() {
	[ -n "$ECHO_PID" ] && kill "$ECHO_PID" 2>/dev/null
	"$TAPSOCK" down --netns "$NS" >/dev/null 2>&1
	ip netns delete "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
export TAPSOCKD
"$TAPSOCK" up --netns "$NS" --addr 10.77.81.2/24 --log "$TMP/engine.log" >/dev/null || { echo "FAIL: tapsock up"; exit 1; }
cat >"$TMP/echo.py" <<'PY'
import socket, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("10.77.81.1", 7007)); s.listen(64)
def serve(c):
    while True:
        d = c.recv(65536)
        if not d: break
        c.sendall(d)
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
ip netns exec "$NS" "$PYTHON" "$TMP/echo.py" & ECHO_PID=$!
for _ in $(seq 50); do ip netns exec "$NS" ss -ltn | grep -q ':7007' && break; sleep 0.1; done
rc=0
ip netns exec "$NS" env LD_PRELOAD="$LIBTAPSOCK" timeout 60 "$PROG_CALLS" 10.77.81.1 7007 7008 || rc=1

# engine death: a recv blocked on a tapsock socket returns ECONNRESET
cat >"$TMP/death.py" <<'PY'
import socket, sys, errno
s = socket.create_connection(("10.77.81.1", 7007))
print("connected", flush=True)
try:
    d = s.recv(10)
    print("recv returned", d, flush=True); sys.exit(1)
except OSError as e:
    print("recv failed:", errno.errorcode.get(e.errno), flush=True)
    sys.exit(0 if e.errno == errno.ECONNRESET else 1)
PY
ip netns exec "$NS" env LD_PRELOAD="$LIBTAPSOCK" timeout 20 "$PYTHON" "$TMP/death.py" >"$TMP/death.out" 2>&1 &
DP=$!
for _ in $(seq 50); do grep -q connected "$TMP/death.out" && break; sleep 0.1; done
EPID=$("$TAPSOCK" info --netns "$NS" | awk '$1 == "pid" { print $2 }')
kill -KILL "$EPID"
if wait "$DP"; then echo "ok engine_death_recv_econnreset"; else echo "FAIL engine_death_recv_econnreset: $(cat "$TMP/death.out")"; rc=1; fi
# and a new socket fails with a clear message
out=$(ip netns exec "$NS" env LD_PRELOAD="$LIBTAPSOCK" "$PYTHON" -c 'import socket; socket.socket()' 2>&1)
if printf '%s' "$out" | grep -q "no engine running"; then echo "ok no_engine_message"; else echo "FAIL no_engine_message: $out"; rc=1; fi
[ $rc -eq 0 ] || { echo "--- engine log"; tail -20 "$TMP/engine.log"; }
exit $rc
