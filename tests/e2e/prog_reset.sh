#!/usr/bin/env bash
# prog_reset.sh - a server that closes with unread data resets the connection (RFC 9293 3.10.4 via RFC 2525 2.17, as Linux): the peer's python gets ConnectionResetError; both roles.
. "$(dirname "$0")/prog_lib.sh"
prog_init 77 prog_reset

cat > "$WORK/rst.py" <<'PY'
# rst.py server HOST PORT: accept one connection, wait for its data, close unread
# rst.py client HOST PORT: send, then read: expect ConnectionResetError
import select, socket, sys, time
host, port = sys.argv[2], int(sys.argv[3])
if sys.argv[1] == "server":
    ls = socket.create_server((host, port))
    c, peer = ls.accept()
    select.select([c], [], [], 10)   # the client's data is here, unread
    time.sleep(0.3)
    c.close()                        # with unread data: RST, not FIN
    print("closed unread from", peer[0], flush=True)
else:
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"x" * 1000)
    try:
        d = s.recv(100)
        sys.exit(f"recv returned {d!r}, expected ConnectionResetError")
    except ConnectionResetError as e:
        print("ConnectionResetError:", e)
PY

tsk_mark
bg tsk 30 "$PY" "$WORK/rst.py" server 0.0.0.0 7200 > "$WORK/tserver.out" 2>&1
tpid=$BG
wait_listen tsk 7200 $tpid
check "server on tapsock closes with unread data: the kernel client gets ConnectionResetError"
kern 20 "$PY" "$WORK/rst.py" client "$EADDR" 7200 > "$WORK/kclient.out" 2>&1 ||
	{ show "$WORK/kclient.out" "$WORK/tserver.out"; cfail "client"; }
tsk_grew tcp_tx_rst 1
pass "$(cat "$WORK/kclient.out")"
wait $tpid || { show "$WORK/tserver.out"; fail "the server on tapsock failed"; }

bg kern 30 "$PY" "$WORK/rst.py" server "$KADDR" 7201 > "$WORK/kserver.out" 2>&1
kpid=$BG
wait_listen kern 7201 $kpid
check "kernel server closes with unread data: the client on tapsock gets ConnectionResetError"
tsk 20 "$PY" "$WORK/rst.py" client "$KADDR" 7201 > "$WORK/tclient.out" 2>&1 ||
	{ show "$WORK/tclient.out" "$WORK/kserver.out"; cfail "client"; }
pass "$(cat "$WORK/tclient.out")"
wait $kpid || { show "$WORK/kserver.out"; fail "the kernel server failed"; }
echo PASS
