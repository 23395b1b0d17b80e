#!/usr/bin/env bash
# prog_halfclose.sh - netcat and socat half-close on tapsock, both roles: the client sends EOF (shutdown SHUT_WR) and still receives the whole reply (RFC 9293 3.6).
. "$(dirname "$0")/prog_lib.sh"
prog_init 75 prog_halfclose nc socat
# text the server can only answer after EOF: sort's output, 700 KB
head -c 512K /dev/urandom | base64 > "$WORK/in"
LC_ALL=C sort "$WORK/in" > "$WORK/sorted"
want_sum="$(sha "$WORK/in")  -"
want_sorted=$(sha "$WORK/sorted")
export LC_ALL=C

# sort and sha256sum servers: they answer after the client's FIN
bg kern 55 socat -t 10 TCP-LISTEN:7100,bind="$KADDR",reuseaddr,fork EXEC:sha256sum
wait_listen kern 7100 $BG
bg kern 55 socat -t 10 TCP-LISTEN:7101,bind="$KADDR",reuseaddr,fork EXEC:sort
wait_listen kern 7101 $BG

tsk_mark
check "nc -N on tapsock: sends 700 KB, EOF, then gets sha256sum's answer"
got=$(tsk 20 nc -N "$KADDR" 7100 < "$WORK/in" 2> "$WORK/nc.err") || { rc=$?; show "$WORK/nc.err"; cfail "nc: $(status $rc)"; }
[ "$got" = "$want_sum" ] || cfail "answer '$got'"
pass

check "nc -N on tapsock: sends 700 KB, EOF, then receives all 700 KB of sort's output"
tsk 20 nc -N "$KADDR" 7101 < "$WORK/in" > "$WORK/got1" 2> "$WORK/nc.err" || { rc=$?; show "$WORK/nc.err"; cfail "nc: $(status $rc)"; }
[ "$(sha "$WORK/got1")" = "$want_sorted" ] || cfail "$(stat -c %s "$WORK/got1") bytes, not sort's output"
pass

check "socat on tapsock as the client: the same, sort's output after EOF"
tsk 20 socat -t 10 - TCP:"$KADDR":7101 < "$WORK/in" > "$WORK/got2" 2> "$WORK/socat.err" || { rc=$?; show "$WORK/socat.err"; cfail "socat: $(status $rc)"; }
[ "$(sha "$WORK/got2")" = "$want_sorted" ] || cfail "$(stat -c %s "$WORK/got2") bytes, not sort's output"
tsk_grew tcp_active_opens 3
pass

# --- server on tapsock (socat forks a child per connection, which runs sort)
bg tsk 55 socat -t 10 TCP-LISTEN:7102,reuseaddr,fork EXEC:sort
wait_listen tsk 7102 $BG
tsk_mark
check "socat on tapsock as the server: a kernel nc -N sends 700 KB and EOF, receives sort's output"
kern 20 nc -N "$EADDR" 7102 < "$WORK/in" > "$WORK/got3" 2> "$WORK/knc.err" || { rc=$?; show "$WORK/knc.err"; cfail "nc: $(status $rc)"; }
[ "$(sha "$WORK/got3")" = "$want_sorted" ] || cfail "$(stat -c %s "$WORK/got3") bytes, not sort's output"
pass
check "twice more, at the same time"
kern 20 nc -N "$EADDR" 7102 < "$WORK/in" > "$WORK/got4" 2>&1 & p4=$!
kern 20 nc -N "$EADDR" 7102 < "$WORK/in" > "$WORK/got5" 2>&1
wait $p4
for f in got4 got5; do
	[ "$(sha "$WORK/$f")" = "$want_sorted" ] || cfail "$f: $(stat -c %s "$WORK/$f") bytes, not sort's output"
done
tsk_grew tcp_passive_opens 3
pass
echo PASS
