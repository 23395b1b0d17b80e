# prog_lib.sh - helpers of the real-program end-to-end tests: unmodified programs on tapsock (`tapsock run`) against kernel peers (RFC 9293 for what they see).
#
# Sourced by tests/e2e/prog_*.sh, on top of lib.sh. Each test has its own subnet
# 10.77.N.0/24, N in 70..89. Two sides:
#   the kernel side   10.77.N.1  in namespace $NS          run with: kern LIMIT CMD...
#   the tapsock side  10.77.N.2  programs on the engine    run with: tsk LIMIT CMD...
# PROG_ON_KERNEL=1 runs the very same test with the "tapsock side" programs on the
# kernel instead: in a second namespace $TNS joined to $NS by a veth pair, same
# addresses. That proves a test itself right, independently of tapsock.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

if [ -x /usr/bin/python3 ]; then PY=/usr/bin/python3; else PY=${PYTHON:-python3}; fi

# prog_init N NAME PROGRAM...: skip unless root, TUN and every PROGRAM are there;
# then the namespaces, and the engine (tapsock mode) or the veth peer (kernel mode).
prog_init() {
	local n=$1 name=$2 p
	shift 2
	for p in "$@"; do
		command -v "$p" >/dev/null ||
			skip "$p is not installed (tools/deps.sh installs the test programs)"
	done
	e2e_init "$name" "$n"
	NS=$E2E_NS KADDR=$E2E_KADDR EADDR=$E2E_EADDR WORK=$E2E_TMP
	chmod 755 "$WORK"
	if [ "${PROG_ON_KERNEL:-0}" = 1 ]; then
		PROG_MODE=kernel
		_prog_kernel_peer "$name"
	else
		PROG_MODE=tapsock
		e2e_up >/dev/null
		_prog_pin_cubic "$NS"
		# the library must load into a program before anything else is worth trying
		check "tapsock run starts a program on the engine"
		local out
		out=$(timeout -k 2 20 "$TAPSOCK" run --netns "$NS" -- /bin/true 2>&1) ||
			cfail "$(printf '%s' "$out" | tail -n 3)"
		pass
	fi
	say "mode: $PROG_MODE (tapsock side $EADDR, kernel side $KADDR)"
}

# The namespace default congestion control: this machine's kernel defaults to BBR,
# the reference is CUBIC.
_prog_pin_cubic() {
	ip netns exec "$1" sysctl -qw net.ipv4.tcp_congestion_control=cubic >/dev/null 2>&1 || true
}

_prog_kernel_peer() {
	TNS="tske2e-$1-k-$$"
	ip netns add "$NS" || fail "ip netns add $NS"
	on_exit "ip netns delete '$NS'"
	ip netns add "$TNS" || fail "ip netns add $TNS"
	on_exit "ip netns delete '$TNS'"
	ip netns exec "$NS" ip link set lo up
	ip netns exec "$TNS" ip link set lo up
	ip netns exec "$NS" ip link add tskv0 type veth peer name tskv1 netns "$TNS" ||
		fail "cannot create a veth pair"
	ip netns exec "$NS" ip addr add "$KADDR/24" dev tskv0
	ip netns exec "$NS" ip link set tskv0 up
	ip netns exec "$TNS" ip addr add "$EADDR/24" dev tskv1
	ip netns exec "$TNS" ip link set tskv1 up
	_prog_pin_cubic "$NS"
	_prog_pin_cubic "$TNS"
	local i
	for i in $(seq 50); do
		ip netns exec "$NS" ping -c 1 -W 1 "$EADDR" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "the veth peer $EADDR does not answer"
}

# kern LIMIT CMD...: on the kernel side, at most LIMIT seconds
kern() {
	local limit=$1
	shift
	ip netns exec "$NS" timeout -k 3 "$limit" "$@"
}

# tsk LIMIT CMD...: on the tapsock side (tapsock run), at most LIMIT seconds
tsk() {
	local limit=$1
	shift
	if [ "$PROG_MODE" = kernel ]; then
		ip netns exec "$TNS" timeout -k 3 "$limit" "$@"
	else
		timeout -k 3 "$limit" "$TAPSOCK" run --netns "$NS" -- "$@"
	fi
}

# bg SIDE LIMIT CMD...: start CMD in the background on that side (kern or tsk);
# its pid in BG, and it is killed at exit. Redirections of the call apply to CMD.
# (Not `kern ... &`: that backgrounds a subshell whose pid is not the program's.)
bg() {
	local side=$1 limit=$2
	shift 2
	if [ "$side" = kern ]; then
		ip netns exec "$NS" timeout -k 3 "$limit" "$@" &
	elif [ "$PROG_MODE" = kernel ]; then
		ip netns exec "$TNS" timeout -k 3 "$limit" "$@" &
	else
		timeout -k 3 "$limit" "$TAPSOCK" run --netns "$NS" -- "$@" &
	fi
	BG=$!
	reap $BG
}

# reap PID: kill that process at exit (the test started it; a server)
reap() { on_exit "_prog_kill $1"; }
_prog_kill() {
	kill -TERM "$1" 2>/dev/null || return 0
	local i
	for i in $(seq 20); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$1" 2>/dev/null
}

# wait_listen SIDE PORT [PID]: until something listens on PORT on that side
# (kern or tsk), at most 10 s; fails at once if PID (the server) is gone.
wait_listen() {
	local side=$1 port=$2 pid=${3:-} i
	for i in $(seq 100); do
		if [ "$side" = kern ]; then
			[ -n "$(ip netns exec "$NS" ss -Htln "sport = :$port")" ] && return 0
		elif [ "$PROG_MODE" = kernel ]; then
			[ -n "$(ip netns exec "$TNS" ss -Htln "sport = :$port")" ] && return 0
		else
			"$TAPSOCK" ss --netns "$NS" 2>/dev/null |
				awk -v p=":$port" '$1 == "LISTEN" && substr($4, length($4) - length(p) + 1) == p { f = 1 } END { exit !f }' &&
				return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			fail "the $side server (pid $pid) exited before listening on port $port"
		fi
		sleep 0.1
	done
	fail "nothing listens on port $port on the $side side after 10 s"
}

# tsk_mark: remember the engine's counters; tsk_grew NAME MIN: NAME grew by at
# least MIN since (the traffic really went through the engine). Kernel mode: no-op.
tsk_mark() {
	[ "$PROG_MODE" = tapsock ] || return 0
	stats_snapshot "$WORK/stats.mark"
}
tsk_grew() {
	[ "$PROG_MODE" = tapsock ] || return 0
	local d
	stats_snapshot "$WORK/stats.now"
	d=$(stats_delta "$WORK/stats.mark" "$WORK/stats.now" "$1") || exit 1
	[ "$d" -ge "$2" ] || cfail "engine counter $1 grew by $d, expected at least $2 (did the program bypass tapsock?)"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# status RC: a command's exit status in words (timeout(1) gives 124, or 137 after -k)
status() {
	case $1 in
	124 | 137) echo "timed out" ;;
	*) echo "exit status $1" ;;
	esac
}

# show FILE...: a file's tail, for a failing check
show() {
	local f
	for f in "$@"; do
		[ -e "$f" ] || continue
		printf -- '--- %s\n' "$f" >&2
		tail -n 20 "$f" >&2
	done
}
