# tcp_lib.sh - shared set-up of the TCP end-to-end tests: a private namespace, an engine on a TAP in it, cleanup on any exit (RFC 9293 peers are the kernel's).
#
# Sourced by tests/e2e/tcp_*.sh. Each test picks its own subnet 10.77.N.0/24
# (N in 40..59): the kernel side of the TAP is 10.77.N.1, the engine 10.77.N.2.
# Binaries come from the environment set by tests/e2e/meson.build:
#   TAPSOCKD (the engine daemon), TAPSOCK (the tapsock command);
# or are looked up under TAPSOCK_BUILD (a build directory).
# Needs root, /dev/net/tun and network namespaces: without them, exit 77 (SKIP).

set -u
TCP_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=/usr/bin/python3

tcp_skip() { echo "SKIP: $*"; exit 77; }
tcp_fail() { echo "FAIL: $*" >&2; exit 1; }
tcp_log() { echo "[$(date +%H:%M:%S)] $*"; }

# tcp_e2e_init N TESTNAME: checks, names, traps
tcp_e2e_init() {
	N=$1
	TEST=$2
	[ "$(id -u)" -eq 0 ] || tcp_skip "needs root (creates a network namespace and a TAP)"
	[ -c /dev/net/tun ] || tcp_skip "no /dev/net/tun"
	command -v ip >/dev/null || tcp_skip "no ip(8) (iproute2)"
	[ -x "$PY" ] || tcp_skip "no $PY"
	local build=${TAPSOCK_BUILD:-}
	if [ -z "${TAPSOCKD:-}" ] && [ -n "$build" ]; then
		for c in "$build/engine/tapsockd" "$build/tapsockd"; do
			[ -x "$c" ] && TAPSOCKD=$c && break
		done
	fi
	if [ -z "${TAPSOCK:-}" ] && [ -n "$build" ]; then
		for c in "$build/tools/tapsock" "$build/tapsock"; do
			[ -x "$c" ] && TAPSOCK=$c && break
		done
	fi
	[ -n "${TAPSOCKD:-}" ] && [ -x "$TAPSOCKD" ] || tcp_fail "tapsockd not found (TAPSOCKD or TAPSOCK_BUILD)"
	TAPSOCK=${TAPSOCK:-}
	export TAPSOCKD TAPSOCK
	NS=tcpe2e-$TEST-$$
	TAP=tsk$N
	NET=10.77.$N
	KADDR=$NET.1
	EADDR=$NET.2
	WORK=$(mktemp -d "/tmp/$NS.XXXXXX")
	ENGINE_PID=
	export NS TAP NET KADDR EADDR WORK
	trap tcp_cleanup EXIT
	trap 'exit 1' INT TERM HUP
	ip netns add "$NS" || tcp_skip "cannot create a network namespace"
	ip -n "$NS" link set lo up
	# the kernel peer's sending behaviour is part of what we test: pin CUBIC
	# (this machine defaults to BBR). A namespace may only default to an
	# algorithm in tcp_allowed_congestion_control; the bulk clients also pin it
	# per socket (TCP_CONGESTION), which root may always do.
	ip netns exec "$NS" sysctl -qw net.ipv4.tcp_congestion_control=cubic 2>/dev/null ||
		tcp_log "namespace default congestion control left as is; clients pin cubic per socket"
}

tcp_cleanup() {
	local rc=$?
	if [ -n "${ENGINE_PID:-}" ] && kill -0 "$ENGINE_PID" 2>/dev/null; then
		kill "$ENGINE_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$ENGINE_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$ENGINE_PID" 2>/dev/null
	fi
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "${WORK:-}" ]; then
		echo "--- engine log ($WORK/engine.log, last 40 lines)"
		tail -n 40 "$WORK/engine.log" 2>/dev/null
		[ -f "$WORK/engine.pcap" ] && echo "--- capture kept: $WORK/engine.pcap"
	fi
	[ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null
	# keep the work dir (log, pcap) of a failed run for the reader
	if [ $rc -eq 0 ] || [ $rc -eq 77 ]; then
		[ -n "${WORK:-}" ] && rm -rf "$WORK"
	fi
	exit $rc
}

# tcp_engine_up [tapsockd options...]: start the engine in the namespace, wait until
# it answers on the control channel (or ping when there is no tapsock command).
tcp_engine_up() {
	ip netns exec "$NS" "$TAPSOCKD" -n default -i "$TAP" -a "$EADDR/24" \
		-l "$WORK/engine.log" --pidfile "$WORK/engine.pid" -d -v "$@" \
		> "$WORK/engine.out" 2>&1 ||
		{ cat "$WORK/engine.out"; tcp_fail "tapsockd did not start"; }
	ENGINE_PID=$(cat "$WORK/engine.pid" 2>/dev/null)
	[ -n "$ENGINE_PID" ] || tcp_fail "tapsockd wrote no pid file"
	local i
	for i in $(seq 100); do
		if ip netns exec "$NS" ping -c1 -W1 "$EADDR" >/dev/null 2>&1; then
			tcp_log "engine $ENGINE_PID up at $EADDR on $TAP in $NS"
			return 0
		fi
		kill -0 "$ENGINE_PID" 2>/dev/null || tcp_fail "tapsockd exited"
		sleep 0.1
	done
	tcp_fail "engine at $EADDR does not answer ping"
}

tcp_engine_alive() {
	kill -0 "$ENGINE_PID" 2>/dev/null || tcp_fail "the engine (pid $ENGINE_PID) died"
}

# the tapsock command inside the namespace (the control socket is per namespace)
tcp_tapsock() {
	[ -n "$TAPSOCK" ] || tcp_fail "the tapsock command is needed (TAPSOCK)"
	ip netns exec "$NS" timeout 10 "$TAPSOCK" "$@"
}

# run a python helper of ours inside the namespace, bounded in time
tcp_py() {
	local limit=$1; shift
	ip netns exec "$NS" timeout -k 5 "$limit" "$PY" "$@"
}

# value of one counter from `tapsock stats` (0 when absent)
tcp_stat() {
	tcp_tapsock stats 2>/dev/null | awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }'
}
