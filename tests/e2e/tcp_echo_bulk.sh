#!/usr/bin/env bash
# tcp_echo_bulk.sh - 100 MB through the engine's echo service (RFC 862) from a kernel client: what comes back is what was sent (SHA-256).
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 40 tcp_echo_bulk
MB=${TCP_ECHO_BULK_MB:-100}
tcp_engine_up --services echo
tcp_log "sending $MB MB through echo"
tcp_py 600 "$TCP_E2E_DIR/tcp_echo_client.py" "$EADDR" 7 $((MB * 1000000)) --timeout 580 ||
	tcp_fail "echo transfer of $MB MB failed"
tcp_engine_alive
echo PASS
