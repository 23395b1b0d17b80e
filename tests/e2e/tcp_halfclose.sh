#!/usr/bin/env bash
# tcp_halfclose.sh - half-close (RFC 9293 3.6): the client sends, shuts down its side, and still reads everything echoed before EOF.
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 42 halfclose
tcp_engine_up --services echo
# 48 KB fits in the path (client send buffer, engine buffers) without reading, so
# the FIN reaches the engine while echo still owes the client data
for size in 1 1000 49152; do
	tcp_log "half-close with $size bytes"
	tcp_py 60 "$TCP_E2E_DIR/tcp_echo_client.py" "$EADDR" 7 "$size" --timeout 50 \
		--halfclose-pause 0.5 || tcp_fail "half-close with $size bytes"
done
# and the engine's side of those connections is gone (LAST-ACK done), not stuck
if [ -n "$TAPSOCK" ]; then
	for _ in $(seq 50); do
		tcp_tapsock ss > "$WORK/ss" 2>&1 || true
		grep -q "$KADDR:" "$WORK/ss" || break
		sleep 0.1
	done
	if grep -v TIME-WAIT "$WORK/ss" | grep -q "$KADDR:"; then
		cat "$WORK/ss"; tcp_fail "connections still open in the engine after the close"
	fi
fi
tcp_engine_alive
echo PASS
