#!/usr/bin/env bash
# prog_http.sh - curl, wget and python3 -m http.server on tapsock, both roles: a 10 MB file arrives intact (RFC 9293, RFC 9112).
. "$(dirname "$0")/prog_lib.sh"
prog_init 70 prog_http curl wget
mkdir -p "$WORK/www" "$WORK/got"
head -c 10M /dev/urandom > "$WORK/www/big" || fail "cannot make the test file"
want=$(sha "$WORK/www/big")

# --- tapsock clients, kernel server
bg kern 55 "$PY" -m http.server 8000 --bind "$KADDR" --directory "$WORK/www" \
	> "$WORK/kserver.log" 2>&1
kpid=$BG
wait_listen kern 8000 $kpid

tsk_mark
check "curl on tapsock fetches 10 MB from a kernel http.server"
tsk 30 curl -sS --fail -o "$WORK/got/curl" "http://$KADDR:8000/big" 2> "$WORK/curl.err" ||
	{ rc=$?; show "$WORK/curl.err"; cfail "curl: $(status $rc)"; }
[ "$(sha "$WORK/got/curl")" = "$want" ] ||
	cfail "sha256 differs ($(stat -c %s "$WORK/got/curl") bytes received)"
tsk_grew tcp_active_opens 1
pass "sha256 ok"

check "wget on tapsock fetches 10 MB from a kernel http.server"
tsk 30 wget -q -O "$WORK/got/wget" "http://$KADDR:8000/big" 2> "$WORK/wget.err" ||
	{ rc=$?; show "$WORK/wget.err"; cfail "wget: $(status $rc)"; }
[ "$(sha "$WORK/got/wget")" = "$want" ] ||
	cfail "sha256 differs ($(stat -c %s "$WORK/got/wget") bytes received)"
pass "sha256 ok"

check "the kernel server saw both requests come from the tapsock address"
n=$(grep -c "^$EADDR - .*\"GET /big HTTP/1.1\" 200" "$WORK/kserver.log")
[ "$n" -eq 2 ] || { show "$WORK/kserver.log"; cfail "$n requests from $EADDR in its log, expected 2"; }
pass

# --- tapsock server, kernel client
bg tsk 55 "$PY" -m http.server 8001 --bind 0.0.0.0 --directory "$WORK/www" \
	> "$WORK/tserver.log" 2>&1
tpid=$BG
wait_listen tsk 8001 $tpid

tsk_mark
check "kernel curl fetches 10 MB from http.server on tapsock"
kern 30 curl -sS --fail -o "$WORK/got/kcurl" "http://$EADDR:8001/big" 2> "$WORK/kcurl.err" ||
	{ rc=$?; show "$WORK/kcurl.err" "$WORK/tserver.log"; cfail "curl: $(status $rc)"; }
[ "$(sha "$WORK/got/kcurl")" = "$want" ] ||
	cfail "sha256 differs ($(stat -c %s "$WORK/got/kcurl") bytes received)"
tsk_grew tcp_passive_opens 1
pass "sha256 ok"

check "kernel wget fetches it again, and a missing file is a 404"
kern 30 wget -q -O "$WORK/got/kwget" "http://$EADDR:8001/big" 2> "$WORK/kwget.err" ||
	{ rc=$?; show "$WORK/kwget.err" "$WORK/tserver.log"; cfail "wget: $(status $rc)"; }
[ "$(sha "$WORK/got/kwget")" = "$want" ] || cfail "sha256 differs"
code=$(kern 10 curl -s -o /dev/null -w '%{http_code}' "http://$EADDR:8001/nothing-here")
[ "$code" = 404 ] || cfail "status $code for a missing file"
n=$(grep -c "^$KADDR - .*\"GET /big HTTP/1.1\" 200" "$WORK/tserver.log")
[ "$n" -eq 2 ] || { show "$WORK/tserver.log"; cfail "$n requests from $KADDR in the server's log, expected 2"; }
pass
echo PASS
