#!/usr/bin/env bash
# tcp_halfclose.sh - half-close (RFC 9293 3.6): the client sends, shuts down its side, and still reads everything echoed before EOF.
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 42 tcp_halfclose
tcp_engine_up --services echo
# 48 KB fits in the path (client send buffer, engine buffers) without reading, so
# the FIN reaches the engine while echo still owes the client data
for size in 1 1000 49152; do
	check "half-close after $size bytes: everything echoed, then EOF"
	tcp_py 60 "$TCP_E2E_DIR/tcp_echo_client.py" "$EADDR" 7 "$size" --timeout 50 \
		--halfclose-pause 0.5 > "$WORK/client" 2>&1 || { cat "$WORK/client"; cfail "echo client"; }
	pass "$(tail -n 2 "$WORK/client" | head -n 1)"
done
# the engine's side of those connections ends (LAST-ACK, then closed): only
# TIME-WAIT records may stay, and those are the client's side, not the engine's
check "the engine holds no connection from the client any more"
for _ in $(seq 50); do
	tcp_tapsock ss > "$WORK/ss" 2>&1 || true
	awk -v p="$KADDR:" '$0 ~ p && $1 != "TIME-WAIT"' "$WORK/ss" > "$WORK/left"
	[ -s "$WORK/left" ] || break
	sleep 0.1
done
[ -s "$WORK/left" ] && { cat "$WORK/ss"; cfail "connections left: $(cat "$WORK/left")"; }
pass
tcp_engine_alive
echo PASS
