# tcp_lib.sh - helpers of the TCP end-to-end tests (kernel peers against the engine, RFC 9293), on top of lib.sh.
#
# Sourced by tests/e2e/tcp_*.sh. lib.sh gives the skip rules, the namespace, the
# engine (tapsock up) and the cleanup on any exit; this adds what the TCP tests
# share. Each test has its own subnet 10.77.N.0/24, N in 40..59: the kernel side
# of the TAP is 10.77.N.1, the engine 10.77.N.2.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TCP_E2E_DIR=$E2E_DIR
if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=${PYTHON:-python3}; fi

tcp_skip() { skip "$@"; }
tcp_fail() { fail "$@"; }
tcp_log() { say "[$(date +%H:%M:%S)] $*"; }

# tcp_e2e_init N TESTNAME
tcp_e2e_init() {
	N=$1
	e2e_init "$2" "$1"
	command -v "$PY" >/dev/null || skip "no python3"
	NS=$E2E_NS NET=$E2E_NET KADDR=$E2E_KADDR EADDR=$E2E_EADDR WORK=$E2E_TMP
	TAP=$E2E_TAP
	ENGINE_PID=
	# a failed test keeps its capture for the reader (the work dir goes away)
	on_exit '_tcp_keep_pcap'
}

_tcp_keep_pcap() {
	# $rc is the exit status, from _run_cleanups (lib.sh)
	if [ "${rc:-0}" -ne 0 ] && [ "${rc:-0}" -ne 77 ] && [ -s "$WORK/engine.pcap" ]; then
		cp "$WORK/engine.pcap" "/tmp/$NS.pcap" && echo "capture kept: /tmp/$NS.pcap" >&2
	fi
}

# tcp_engine_up [--services L] [--pcap] [tapsockd options...]: the engine in the
# test's namespace; --pcap captures to $WORK/engine.pcap from the start.
tcp_engine_up() {
	local up=() daemon=()
	while [ $# -gt 0 ]; do
		case $1 in
		--services) up+=(--services "$2"); shift 2 ;;
		--pcap) up+=(--pcap "$WORK/engine.pcap"); shift ;;
		*) daemon+=("$1"); shift ;;
		esac
	done
	e2e_up "${up[@]}" -- -v "${daemon[@]}" >/dev/null
	ENGINE_PID=$E2E_PID
	# the kernel peer's sending behaviour is part of what we test: pin CUBIC
	# (this machine defaults to BBR). A namespace may only default to an
	# algorithm in tcp_allowed_congestion_control; the bulk clients also pin it
	# per socket (TCP_CONGESTION), which root may always do.
	in_ns sysctl -qw net.ipv4.tcp_congestion_control=cubic 2>/dev/null ||
		tcp_log "namespace default congestion control left as is; clients pin cubic per socket"
	tcp_log "engine $ENGINE_PID up at $EADDR on $TAP in $NS"
}

tcp_engine_alive() {
	kill -0 "$ENGINE_PID" 2>/dev/null || fail "the engine (pid $ENGINE_PID) died"
}

# the tapsock command for the test's engine
tcp_tapsock() {
	local cmd=$1; shift
	timeout 10 "$TAPSOCK" "$cmd" --netns "$NS" "$@"
}

# tcp_py LIMIT ARGS...: python3 inside the namespace, bounded in time
tcp_py() {
	local limit=$1; shift
	in_ns timeout -k 5 "$limit" "$PY" "$@"
}

# value of one counter of `tapsock stats -a`; v=$(tcp_stat NAME) || exit 1
tcp_stat() { stat_get "$1"; }

# A kernel client on the engine's echo service that proves the connection works
# ("ping" echoed), then holds it open until the test writes to $WORK/go (at most
# 60 s). Sets client (its pid, killed on exit) and cport (its port); the check
# "a kernel client talks to echo" fails when no echo came back.
tcp_held_echo_client() {
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
open(sys.argv[3]).read()   # until the test is done with it
s.close()
PY
	client=$!
	check "a kernel client talks to echo"
	for _ in $(seq 100); do [ -s "$WORK/port" ] && break; sleep 0.1; done
	[ -s "$WORK/port" ] || cfail "the echo client did not get its echo"
	cport=$(cat "$WORK/port")
	pass "client port $cport"
}
