#!/usr/bin/env bash
# prog_run.sh - `tapsock run` itself: starts the engine (and its namespace) when none answers, runs the program there with LD_PRELOAD appended and its environment kept, passes its exit status, and says clearly what is wrong.
#
# The library here is libm (harmless to preload), so what is tested is the command,
# not the preload library: that is what the other prog_*.sh tests do.
. "$(dirname "$0")/lib.sh"
[ "${PROG_ON_KERNEL:-0}" = 1 ] && skip "tests tapsock run itself: there is no kernel variant"
e2e_init prog_run 78
on_exit "_e2e_teardown"
FAKE_LIB=$(ls /lib/*-linux-gnu/libm.so.6 /lib64/libm.so.6 /lib/libm.so.6 2>/dev/null | head -n 1)
[ -n "$FAKE_LIB" ] || skip "no libm.so.6 to stand in for the preload library"
FAKE_LIB=$(realpath "$FAKE_LIB")

check "tapsock run --help"
"$TAPSOCK" run --help > "$E2E_TMP/help" 2>&1 || cfail "exit $?"
grep -q 'usage: tapsock run' "$E2E_TMP/help" || cfail "no usage line"
pass

check "no program: usage error, exit 2"
"$TAPSOCK" run --netns "$E2E_NS" > "$E2E_TMP/out" 2>&1
rc=$?
[ $rc -eq 2 ] || cfail "exit $rc"
pass

check "no library: a clear error, exit 1, nothing started"
TAPSOCK_LIB=$E2E_TMP/missing.so "$TAPSOCK" run --netns "$E2E_NS" -- true > "$E2E_TMP/out" 2>&1
rc=$?
[ $rc -eq 1 ] || cfail "exit $rc"
grep -q 'TAPSOCK_LIB' "$E2E_TMP/out" || cfail "$(cat "$E2E_TMP/out")"
ip netns list | grep -qw "^$E2E_NS" && cfail "the namespace was created anyway"
pass "$(head -n 1 "$E2E_TMP/out")"

export TAPSOCK_LIB=$FAKE_LIB
check "no engine: run creates the namespace, starts the engine, runs the program in it"
LD_PRELOAD=/nonexistent-but-kept.so H10_MARK=kept \
	"$TAPSOCK" run --netns "$E2E_NS" --addr "$E2E_EADDR/24" --log "$E2E_LOG" -- \
	sh -c 'echo "preload=$LD_PRELOAD"; echo "engine=$TAPSOCK_ENGINE"; echo "mark=$H10_MARK";
	       ip -o -4 addr show; exit 3' > "$E2E_TMP/out" 2> "$E2E_TMP/err"
rc=$?
E2E_PID=$(engine_pid)
[ -n "$E2E_PID" ] || { cat "$E2E_TMP/err"; cfail "no engine answers in $E2E_NS"; }
[ $rc -eq 3 ] || { cat "$E2E_TMP/out" "$E2E_TMP/err"; cfail "exit status $rc, the program's was 3"; }
grep -qx "preload=/nonexistent-but-kept.so:$FAKE_LIB" "$E2E_TMP/out" ||
	cfail "LD_PRELOAD: $(grep preload= "$E2E_TMP/out")"
grep -qx "engine=default" "$E2E_TMP/out" || cfail "TAPSOCK_ENGINE: $(grep engine= "$E2E_TMP/out")"
grep -qx "mark=kept" "$E2E_TMP/out" || cfail "the environment was not kept"
grep -q "$E2E_KADDR/24" "$E2E_TMP/out" || cfail "the program did not run in $E2E_NS: $(cat "$E2E_TMP/out")"
grep -q "starting it" "$E2E_TMP/err" || cfail "no word that the engine was started"
pass "engine pid $E2E_PID"

check "the program's stdout holds only its own output"
[ "$(grep -vc -e '^preload=' -e '^engine=' -e '^mark=' -e ' inet ' "$E2E_TMP/out")" -eq 0 ] ||
	cfail "$(cat "$E2E_TMP/out")"
pass

check "engine running: run uses it (same pid), exit status passed"
"$TAPSOCK" run --netns "$E2E_NS" -- sh -c 'exit 0' 2> "$E2E_TMP/err" || cfail "exit $?"
[ "$(engine_pid)" = "$E2E_PID" ] || cfail "another engine answers"
grep -q "starting" "$E2E_TMP/err" && cfail "it started one again"
"$TAPSOCK" run --netns "$E2E_NS" -- sh -c 'kill -TERM $$' 2>/dev/null
rc=$?
[ $rc -eq 143 ] || cfail "killed by SIGTERM: exit $rc, expected 143"
pass

check "inside the namespace (ip netns exec), run finds the engine with no options"
ip netns exec "$E2E_NS" "$TAPSOCK" run -- sh -c 'echo "$TAPSOCK_ENGINE"' > "$E2E_TMP/out" 2> "$E2E_TMP/err" ||
	{ cat "$E2E_TMP/err"; cfail "exit $?"; }
grep -q starting "$E2E_TMP/err" && cfail "it started another engine"
pass

check "LD_PRELOAD already holding the library is not doubled"
LD_PRELOAD=$FAKE_LIB "$TAPSOCK" run --netns "$E2E_NS" -- sh -c 'echo "$LD_PRELOAD"' > "$E2E_TMP/out" 2>&1
[ "$(cat "$E2E_TMP/out")" = "$FAKE_LIB" ] || cfail "$(cat "$E2E_TMP/out")"
pass

check "a missing program: exit 127 and its name in the message"
"$TAPSOCK" run --netns "$E2E_NS" -- /nonexistent/prog > "$E2E_TMP/out" 2>&1
rc=$?
[ $rc -eq 127 ] || cfail "exit $rc"
grep -q '/nonexistent/prog' "$E2E_TMP/out" || cfail "$(cat "$E2E_TMP/out")"
pass

check "the engine cannot start (bad address): a clear error, the program is not run"
ns2="tske2e-prog_run2-$$"
on_exit "ip netns delete '$ns2'; rm -f '/run/tapsock/netns/$ns2'"
"$TAPSOCK" run --netns "$ns2" --addr 300.1.2.3/24 -- touch "$E2E_TMP/ran" > "$E2E_TMP/out" 2>&1
rc=$?
[ $rc -eq 1 ] || cfail "exit $rc"
[ -e "$E2E_TMP/ran" ] && cfail "the program ran"
grep -q 'failed to start' "$E2E_TMP/out" || cfail "$(cat "$E2E_TMP/out")"
ip netns list | grep -qw "^$ns2" && cfail "namespace $ns2 left behind"
pass "$(grep -m1 'failed to start' "$E2E_TMP/out")"
echo PASS
