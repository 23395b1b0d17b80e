# lib.sh - shared helpers of the end-to-end tests: skip rules, namespaces, cleanup, checks.
#
# Sourced by every tests/e2e/*.sh. Environment (set by tests/e2e/meson.build):
#   TAPSOCK   the tapsock command        TAPSOCKD  the tapsockd daemon (tapsock up uses it)
# Each test calls e2e_init NAME SUBNET: its namespace is tske2e-NAME-$$, its addresses
# 10.77.SUBNET.1 (kernel side of the TAP) and 10.77.SUBNET.2 (the engine). Everything a
# test creates is removed by the EXIT trap, also when a check fails.
# Exit codes: 0 pass, 1 fail (first failing check), 77 skip (meson shows SKIP).

set -uo pipefail

: "${TAPSOCK:?TAPSOCK must point at the tapsock command}"
: "${TAPSOCKD:?TAPSOCKD must point at the tapsockd daemon}"
export TAPSOCKD

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_cleanups=()

say()  { printf '%s\n' "$*"; }
skip() { printf 'SKIP: %s\n' "$*" >&2; exit 77; }
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	_dump_engine_log
	exit 1
}
# check DESCRIPTION: announce what is being checked (the next fail names it)
check() { _checking=$*; printf 'check: %s ... ' "$*"; }
pass()  { printf 'ok%s\n' "${1:+ ($1)}"; }
# Also used when a check fails after check(): finish the line, then fail.
cfail() { printf 'FAILED\n'; fail "${_checking:-}: $*"; }

on_exit() { _cleanups+=("$*"); }
_run_cleanups() {
	local rc=$? i
	trap - EXIT INT TERM
	for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_cleanups[i]}" >/dev/null 2>&1 || true
	done
	exit "$rc"
}
trap _run_cleanups EXIT
trap 'exit 130' INT TERM

_dump_engine_log() {
	if [ -n "${E2E_LOG:-}" ] && [ -s "$E2E_LOG" ]; then
		printf -- '--- engine log (last 30 lines of %s) ---\n' "$E2E_LOG" >&2
		tail -n 30 "$E2E_LOG" >&2
	fi
}

# Skip rules: the things an end-to-end test cannot do without.
e2e_require() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (CAP_NET_ADMIN for TAP and namespaces)"
	[ -c /dev/net/tun ] || skip "no /dev/net/tun (TUN/TAP driver missing)"
	command -v ip >/dev/null || skip "no 'ip' command (iproute2)"
	[ -x "$TAPSOCK" ] || fail "TAPSOCK=$TAPSOCK is not executable"
	[ -x "$TAPSOCKD" ] || fail "TAPSOCKD=$TAPSOCKD is not executable"
	local probe="tske2e-probe-$$"
	ip netns add "$probe" 2>/dev/null || skip "cannot create network namespaces (ip netns add failed)"
	ip netns delete "$probe" 2>/dev/null
	(: <>/dev/net/tun) 2>/dev/null || skip "cannot open /dev/net/tun"
}

# e2e_init NAME SUBNET
e2e_init() {
	E2E_TEST=$1
	E2E_NET=10.77.$2
	E2E_NS="tske2e-$1-$$"
	E2E_KADDR=$E2E_NET.1
	E2E_EADDR=$E2E_NET.2
	E2E_TAP=tsk0
	e2e_require
	E2E_TMP=$(mktemp -d "/tmp/tske2e-$1.XXXXXX") || fail "mktemp"
	on_exit "rm -rf '$E2E_TMP'"
	E2E_LOG=$E2E_TMP/engine.log
	say "== e2e $E2E_TEST: namespace $E2E_NS, kernel $E2E_KADDR, engine $E2E_EADDR"
}

# in_ns CMD...: run in the test's namespace
in_ns() { ip netns exec "$E2E_NS" "$@"; }

# pid_alive PID: running (a zombie that nobody reaped yet counts as gone: the
# daemon is reparented to whatever init this machine has)
pid_alive() {
	local st
	st=$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# The engine's pid, if one answers in the test namespace.
engine_pid() { "$TAPSOCK" info --netns "$E2E_NS" 2>/dev/null | awk '$1 == "pid" { print $2 }'; }

# e2e_up [tapsock up args...]: start the engine in a new namespace, as users do.
# Cleanup: tapsock down, then anything left (pid by number, the namespace).
e2e_up() {
	local out
	on_exit "_e2e_teardown"
	if ! out=$("$TAPSOCK" up --netns "$E2E_NS" --addr "$E2E_EADDR/24" --log "$E2E_LOG" "$@" 2>&1); then
		printf '%s\n' "$out" >&2
		fail "tapsock up --netns $E2E_NS failed"
	fi
	printf '%s\n' "$out"
	E2E_PID=$(engine_pid)
	[ -n "$E2E_PID" ] || fail "engine does not answer tapsock info after up"
	# The kernel's IPv6 chatter (router solicitations, MLD) on the TAP would show up
	# in the engine's drop counters and blur exact counts: switch IPv6 off here.
	in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
		>/dev/null 2>&1 || true
}

_e2e_teardown() {
	if ip netns list 2>/dev/null | grep -qw "^$E2E_NS"; then
		"$TAPSOCK" down --netns "$E2E_NS" >/dev/null 2>&1
	fi
	# whatever survived: only the pid this test started, and its namespace
	if [ -n "${E2E_PID:-}" ] && pid_alive "$E2E_PID"; then
		kill -KILL "$E2E_PID" 2>/dev/null
	fi
	ip netns delete "$E2E_NS" 2>/dev/null
	rm -f "/run/tapsock/netns/$E2E_NS"
}

# stat_get NAME: one counter from `tapsock stats -a` (fails when the engine lacks it).
# Used as v=$(stat_get NAME) || exit 1.
stat_get() {
	local v
	v=$("$TAPSOCK" stats -a --netns "$E2E_NS" 2>&1 | awk -v k="$1" '$1 == k { print $2 }')
	[ -n "$v" ] || fail "counter '$1' not in 'tapsock stats -a'"
	printf '%s\n' "$v"
}

# stats_snapshot FILE: all counters, to compare with stats_delta
stats_snapshot() {
	"$TAPSOCK" stats -a --netns "$E2E_NS" >"$1" 2>&1 || fail "tapsock stats -a failed: $(cat "$1")"
}
# stats_delta BEFORE AFTER NAME: how much NAME grew; d=$(stats_delta ...) || exit 1
stats_delta() {
	awk -v k="$3" '
		FNR == NR { if ($1 == k) b = $2; next }
		$1 == k { a = $2; found = 1 }
		END { if (!found) exit 1; print a - b }' "$1" "$2" ||
		fail "counter '$3' not in 'tapsock stats -a'"
}

# ping_ok ARGS...: ping the engine from the kernel side, require 0% loss; the
# rtt summary is left in PING_RTT. (Not for $(...): fail must end the test.)
ping_ok() {
	local out loss
	out=$(in_ns ping -n -q -W 2 "$@" "$E2E_EADDR" 2>&1)
	loss=$(printf '%s\n' "$out" | sed -n 's/.* \([0-9.]*\)% packet loss.*/\1/p')
	if [ "$loss" != "0" ]; then
		printf '%s\n' "$out" >&2
		cfail "${loss:-?}% loss"
	fi
	PING_RTT=$(printf '%s\n' "$out" | sed -n 's/^rtt \(.*\)/\1/p')
}
