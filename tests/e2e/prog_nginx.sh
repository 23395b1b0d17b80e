#!/usr/bin/env bash
# prog_nginx.sh - nginx with Debian's default configuration (a master and www-data workers sharing one listener, sendfile, TCP_CORK) on tapsock: 200 kernel requests, all 200 OK and intact.
. "$(dirname "$0")/prog_lib.sh"
prog_init 71 prog_nginx nginx curl
[ -r /etc/nginx/nginx.conf ] || skip "no /etc/nginx/nginx.conf (the nginx package's default configuration)"
id www-data >/dev/null 2>&1 || skip "no www-data user (the default configuration's worker user)"

# A private copy of the default configuration; only paths, the port and the pid
# file change, so nothing system-wide is touched.
D=$WORK/nginx
mkdir -p "$D/logs" "$D/www" || fail "mkdir"
cp -rL /etc/nginx/. "$D/" || fail "cannot copy /etc/nginx"
cp -L /var/www/html/* "$D/www/" 2>/dev/null
# load_module paths are relative to the prefix (Debian's is /usr/share/nginx)
ln -s /usr/share/nginx/modules "$D/modules"
head -c 1M /dev/urandom > "$D/www/blob" || fail "cannot make the test file"
grep -rl -e /etc/nginx -e /var/log/nginx -e /run/nginx.pid -e /var/www/html -e 'listen ' "$D" |
	while read -r f; do
		sed -i -e "s|/etc/nginx|$D|g" -e "s|/var/log/nginx|$D/logs|g" \
			-e "s|/run/nginx.pid|$D/nginx.pid|g" -e "s|/var/www/html|$D/www|g" \
			-e 's/listen 80 /listen 8080 /' -e 's/listen \[::\]:80 /listen [::]:8080 /' "$f"
	done
chmod -R a+rX "$WORK"
grep -q 'listen 8080 default_server' "$D/sites-enabled/default" ||
	fail "the default site does not look like Debian's (listen 80 default_server)"
NGINX=(nginx -p "$D/" -c "$D/nginx.conf" -e "$D/logs/error.log")
ip netns exec "$NS" "${NGINX[@]}" -t -q 2> "$WORK/nginx-t.err" ||
	{ show "$WORK/nginx-t.err"; fail "nginx -t rejects the private copy of the configuration"; }

tsk_mark
check "nginx starts on tapsock: a master and its www-data workers"
tsk 20 "${NGINX[@]}" 2> "$WORK/nginx.err" || { rc=$?; show "$WORK/nginx.err" "$D/logs/error.log"; cfail "nginx: $(status $rc)"; }
for _ in $(seq 50); do [ -s "$D/nginx.pid" ] && break; sleep 0.1; done
master=$(cat "$D/nginx.pid" 2>/dev/null)
[ -n "$master" ] || { show "$D/logs/error.log"; cfail "no pid file"; }
on_exit "_prog_kill $master"
wait_listen tsk 8080 "$master"
workers=$(pgrep -P "$master" -u www-data | wc -l)
[ "$workers" -ge 1 ] || cfail "no www-data worker under master $master"
pass "master $master, $workers workers"

check "the default page is served"
kern 10 curl -sS --fail "http://$EADDR:8080/" > "$WORK/index.html" 2> "$WORK/curl.err" ||
	{ rc=$?; show "$WORK/curl.err" "$D/logs/error.log"; cfail "curl: $(status $rc)"; }
cmp -s "$WORK/index.html" "$D/www/index.nginx-debian.html" || cfail "the page differs from the file"
pass

check "200 requests from a kernel client, one connection each, 4 at a time: all 200 OK, content intact"
mkdir "$WORK/got"
kern 50 curl -sS -Z --parallel-max 4 -H 'Connection: close' -o "$WORK/got/#1" \
	-w '%{http_code}\n' "http://$EADDR:8080/blob?[1-200]" > "$WORK/codes" 2> "$WORK/curl.err"
ok=$(grep -cx 200 "$WORK/codes")
[ "$ok" -eq 200 ] || { show "$WORK/curl.err" "$D/logs/error.log"; cfail "$ok of 200 answered 200 OK"; }
want=$(sha "$D/www/blob")
bad=0
for i in $(seq 200); do
	[ "$(sha "$WORK/got/$i")" = "$want" ] || bad=$((bad + 1))
done
[ "$bad" -eq 0 ] || cfail "$bad of 200 bodies differ from the file"
tsk_grew tcp_passive_opens 201
pass

check "nginx's access log has the 200 requests from the kernel side"
n=$(grep -c "^$KADDR - .*\"GET /blob?[0-9]* HTTP/1.1\" 200 1048576 " "$D/logs/access.log")
[ "$n" -eq 200 ] || { show "$D/logs/access.log"; cfail "$n lines"; }
pass

check "nginx stops on SIGQUIT (graceful) and logged no error"
kill -QUIT "$master"
for _ in $(seq 100); do kill -0 "$master" 2>/dev/null || break; sleep 0.1; done
kill -0 "$master" 2>/dev/null && { show "$D/logs/error.log"; cfail "master $master still there after 10 s"; }
grep -E '\[(emerg|alert|crit|error)\]' "$D/logs/error.log" > "$WORK/errors"
[ -s "$WORK/errors" ] && { show "$WORK/errors"; cfail "errors in nginx's error log"; }
pass
echo PASS
