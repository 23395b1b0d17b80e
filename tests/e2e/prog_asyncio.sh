#!/usr/bin/env bash
# prog_asyncio.sh - a python asyncio echo server and client (epoll, non-blocking connect, write_eof half-close) on tapsock, both roles: 20 concurrent connections echo 256 KB each intact.
. "$(dirname "$0")/prog_lib.sh"
prog_init 72 prog_asyncio

cat > "$WORK/echo.py" <<'PY'
# echo.py server HOST PORT | client HOST PORT CONNS SIZE
import asyncio, os, sys

async def handle(r, w):
    peer = w.get_extra_info("peername")[0]
    n = 0
    while True:
        d = await r.read(65536)
        if not d:
            break
        n += len(d)
        w.write(d)
        await w.drain()
    w.close()
    await w.wait_closed()
    print(f"conn {peer} {n}", flush=True)

async def server(host, port):
    srv = await asyncio.start_server(handle, host, port)
    async with srv:
        await srv.serve_forever()

async def one(host, port, size):
    data = os.urandom(size)
    r, w = await asyncio.open_connection(host, port)
    async def send():
        w.write(data)
        await w.drain()
        w.write_eof()          # half-close: the echo still comes back
    t = asyncio.create_task(send())
    got = bytearray()
    while True:
        d = await r.read(65536)
        if not d:
            break
        got += d
    await t
    w.close()
    return got == data, len(got)

async def client(host, port, conns, size):
    res = await asyncio.wait_for(
        asyncio.gather(*[one(host, port, size) for _ in range(conns)]), 40)
    ok = sum(1 for good, _ in res if good)
    print(f"{ok} of {conns} intact, {sum(n for _, n in res)} bytes back", flush=True)
    return 0 if ok == conns else 1

if sys.argv[1] == "server":
    asyncio.run(server(sys.argv[2], int(sys.argv[3])))
else:
    sys.exit(asyncio.run(client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
PY
CONNS=20 SIZE=262144

# --- server on tapsock, kernel client
bg tsk 55 "$PY" "$WORK/echo.py" server 0.0.0.0 7007 > "$WORK/tserver.out" 2> "$WORK/tserver.err"
tpid=$BG
wait_listen tsk 7007 $tpid
tsk_mark
check "asyncio echo server on tapsock: $CONNS kernel clients at once get their 256 KB back"
kern 50 "$PY" "$WORK/echo.py" client "$EADDR" 7007 $CONNS $SIZE > "$WORK/kclient.out" 2>&1 ||
	{ show "$WORK/kclient.out" "$WORK/tserver.err"; cfail "client failed"; }
tsk_grew tcp_passive_opens $CONNS
pass "$(cat "$WORK/kclient.out")"
check "the server counted $CONNS connections from $KADDR of $SIZE bytes each"
for _ in $(seq 50); do
	[ "$(grep -c . "$WORK/tserver.out")" -ge $CONNS ] && break
	sleep 0.1
done
n=$(grep -cx "conn $KADDR $SIZE" "$WORK/tserver.out")
[ "$n" -eq $CONNS ] || { show "$WORK/tserver.out" "$WORK/tserver.err"; cfail "$n"; }
pass

# --- client on tapsock, kernel server
bg kern 55 "$PY" "$WORK/echo.py" server "$KADDR" 7008 > "$WORK/kserver.out" 2> "$WORK/kserver.err"
kpid=$BG
wait_listen kern 7008 $kpid
tsk_mark
check "asyncio echo client on tapsock: $CONNS connections at once to a kernel server, 256 KB each intact"
tsk 50 "$PY" "$WORK/echo.py" client "$KADDR" 7008 $CONNS $SIZE > "$WORK/tclient.out" 2>&1 ||
	{ show "$WORK/tclient.out" "$WORK/kserver.err"; cfail "client failed"; }
tsk_grew tcp_active_opens $CONNS
pass "$(cat "$WORK/tclient.out")"
check "the kernel server counted $CONNS connections from $EADDR"
for _ in $(seq 50); do
	[ "$(grep -c . "$WORK/kserver.out")" -ge $CONNS ] && break
	sleep 0.1
done
n=$(grep -cx "conn $EADDR $SIZE" "$WORK/kserver.out")
[ "$n" -eq $CONNS ] || { show "$WORK/kserver.out"; cfail "$n"; }
pass
echo PASS
