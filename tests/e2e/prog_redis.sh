#!/usr/bin/env bash
# prog_redis.sh - redis-server on tapsock under redis-benchmark from the kernel (requests counted), and redis-cli on tapsock against a kernel redis (values intact).
. "$(dirname "$0")/prog_lib.sh"
prog_init 73 prog_redis redis-server redis-cli redis-benchmark

# a throwaway server: no persistence, its files in the work dir
redis() {
	local side=$1 bind=$2 port=$3
	mkdir -p "$WORK/r$port"
	bg "$side" 55 redis-server --bind "$bind" --port "$port" --protected-mode no --save '' \
		--appendonly no --daemonize no --dir "$WORK/r$port" --logfile "$WORK/r$port/log"
}
# cmdstat CALLS of a command in INFO commandstats ("cmdstat_set:calls=2000,...")
calls() { sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p" "$2" | tr -d '\r'; }

# --- server on tapsock, kernel clients
redis tsk 0.0.0.0 6379 > "$WORK/tserver.out" 2>&1
tpid=$BG
wait_listen tsk 6379 $tpid
tsk_mark
check "redis-benchmark -n 2000 (SET, GET, 50 clients) from the kernel against redis on tapsock"
kern 50 redis-benchmark -h "$EADDR" -p 6379 -n 2000 -t set,get -q > "$WORK/bench.out" 2>&1 ||
	{ rc=$?; show "$WORK/bench.out" "$WORK/r6379/log"; cfail "redis-benchmark: $(status $rc)"; }
tr '\r' '\n' < "$WORK/bench.out" | grep -E '^(SET|GET):' | grep -v 'rps=' > "$WORK/bench.sum"
[ "$(grep -c 'requests per second' "$WORK/bench.sum")" -eq 2 ] ||
	{ show "$WORK/bench.out"; cfail "no result lines for SET and GET"; }
tsk_grew tcp_passive_opens 50
pass "$(tr '\n' ' ' < "$WORK/bench.sum")"
check "the server on tapsock counted exactly 2000 SET and 2000 GET"
kern 10 redis-cli -h "$EADDR" -p 6379 INFO commandstats > "$WORK/cmdstats" 2>&1 ||
	{ show "$WORK/cmdstats"; cfail "redis-cli INFO"; }
s=$(calls set "$WORK/cmdstats") g=$(calls get "$WORK/cmdstats")
[ "$s" = 2000 ] && [ "$g" = 2000 ] || { show "$WORK/cmdstats"; cfail "SET $s, GET $g"; }
pass

# --- kernel server, redis-cli on tapsock
redis kern "$KADDR" 6380 > "$WORK/kserver.out" 2>&1
kpid=$BG
wait_listen kern 6380 $kpid
head -c 300000 /dev/urandom | base64 -w0 > "$WORK/value"
tsk_mark
check "redis-cli on tapsock: SET and GET of a short and a 400 KB value on a kernel redis"
r1=$(tsk 10 redis-cli -h "$KADDR" -p 6380 SET greeting "hello from tapsock" 2>&1)
[ "$r1" = OK ] || cfail "SET answered '$r1'"
r2=$(tsk 10 redis-cli -h "$KADDR" -p 6380 GET greeting 2>&1)
[ "$r2" = "hello from tapsock" ] || cfail "GET answered '$r2'"
r3=$(tsk 10 redis-cli -h "$KADDR" -p 6380 -x SET big < "$WORK/value" 2>&1)
[ "$r3" = OK ] || cfail "SET big answered '${r3:0:200}'"
tsk 10 redis-cli -h "$KADDR" -p 6380 GET big > "$WORK/got" 2>&1 || cfail "GET big failed"
printf '\n' >> "$WORK/value"   # redis-cli ends its output with a newline
[ "$(sha "$WORK/got")" = "$(sha "$WORK/value")" ] ||
	cfail "GET big differs ($(stat -c %s "$WORK/got") bytes)"
tsk_grew tcp_active_opens 4
pass
check "the kernel redis holds what tapsock sent"
v=$(kern 10 redis-cli -h "$KADDR" -p 6380 STRLEN big)
[ "$v" = 400000 ] || cfail "STRLEN big = $v"
kern 10 redis-cli -h "$KADDR" -p 6380 INFO commandstats > "$WORK/kcmdstats" 2>&1
s=$(calls set "$WORK/kcmdstats")
[ "$s" = 2 ] || { show "$WORK/kcmdstats"; cfail "$s SETs counted"; }
pass
echo PASS
