#!/usr/bin/env bash
# tcp_keepalive.sh - service keepalive (RFC 1122 4.2.3.6): a silent dead peer is probed and the engine drops the connection after idle + intvl * cnt.
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 43 keepalive
[ -n "$TAPSOCK" ] || tcp_fail "the tapsock command is needed (TAPSOCK)"
IDLE=2 INTVL=1 CNT=3 SLACK=4
tcp_engine_up --services echo --svc-keepalive "$IDLE,$INTVL,$CNT"

mkfifo "$WORK/go"
ip netns exec "$NS" timeout 60 "$PY" - "$EADDR" "$WORK/port" "$WORK/go" <<'PY' &
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
open(sys.argv[3]).read()
s.close()
PY
client=$!
for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
[ -s "$WORK/port" ] || tcp_fail "the echo client did not get its echo"
t0=$(date +%s.%N)
cport=$(cat "$WORK/port")
peer_re="(^|[[:space:]])${KADDR//./\\.}:$cport([[:space:]]|$)"
probes0=$(tcp_stat tcp_keepalive_probes)

# the peer goes silent: nothing from the kernel side reaches the engine any more
if command -v nft >/dev/null; then
	ip netns exec "$NS" nft -f - <<NFT || tcp_fail "nft: cannot install the drop rule"
table netdev tcpe2e_ka {
	chain out { type filter hook egress device "$TAP" priority 0; counter drop; }
}
NFT
	tcp_log "kernel -> engine traffic dropped (nft egress on $TAP)"
else
	tcp_log "no nft: taking $TAP down on the kernel side instead"
	ip -n "$NS" link set "$TAP" down
fi

# before idle is over the connection must still be there
sleep 1
tcp_tapsock ss > "$WORK/ss0"
grep -E "^ESTAB" "$WORK/ss0" | grep -Eq "$peer_re" ||
	{ cat "$WORK/ss0"; tcp_fail "connection gone before the keepalive idle time"; }

limit=$((IDLE + INTVL * CNT + SLACK))
gone=
while :; do
	now=$(date +%s.%N)
	el=$(echo "$now - $t0" | bc -l 2>/dev/null || "$PY" -c "print($now - $t0)")
	tcp_tapsock ss > "$WORK/ss1"
	if ! grep -Eq "$peer_re" "$WORK/ss1"; then gone=$el; break; fi
	if "$PY" -c "import sys; sys.exit(0 if $el > $limit else 1)"; then break; fi
	sleep 0.5
done
echo "--- tapsock ss at the end"; cat "$WORK/ss1"
[ -n "$gone" ] || tcp_fail "connection still in tapsock ss after ${limit}s (idle $IDLE + $CNT x $INTVL + $SLACK slack)"
tcp_log "connection gone after ${gone}s"
"$PY" -c "import sys; sys.exit(0 if $gone >= $IDLE + $INTVL * ($CNT - 1) else 1)" ||
	tcp_fail "connection dropped after ${gone}s: sooner than idle + intvl * (cnt - 1)"
probes1=$(tcp_stat tcp_keepalive_probes)
tcp_log "tcp_keepalive_probes $probes0 -> $probes1"
[ "$probes1" -ge $((probes0 + CNT)) ] || tcp_fail "expected at least $CNT keepalive probes, counted $((probes1 - probes0))"
echo go > "$WORK/go"
wait $client
tcp_engine_alive
echo PASS
