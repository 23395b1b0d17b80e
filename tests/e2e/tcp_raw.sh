#!/usr/bin/env bash
# tcp_raw.sh - hand-made segments from an AF_PACKET socket: the engine answers as RFC 9293 3.10.7 says (RST rules, SYN-ACK, FIN, RST in window).
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 44 tcp_raw
tcp_engine_up --services echo --pcap
# 10.77.44.3 is not the kernel's: the kernel neither answers for it nor resets
# what the engine sends to it; the script plays that host itself
tcp_py 120 "$TCP_E2E_DIR/tcp_raw.py" "$TAP" "$EADDR" "$NET.3" "$TAPSOCK" ||
	tcp_fail "the engine's answers differ from RFC 9293 (capture kept in /tmp/$NS.pcap)"
tcp_engine_alive
echo PASS
