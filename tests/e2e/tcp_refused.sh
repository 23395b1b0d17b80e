#!/usr/bin/env bash
# tcp_refused.sh - a kernel client connecting to a closed port of the engine gets ECONNREFUSED (RFC 9293 3.10.7.1: RST for a SYN to CLOSED).
. "$(dirname "$0")/tcp_lib.sh"
tcp_e2e_init 41 tcp_refused
tcp_engine_up --services echo
tcp_py 30 - "$EADDR" <<'PY' || tcp_fail "connect to a closed port was not refused"
import errno, socket, sys, time
host = sys.argv[1]
for port in (8, 80, 33333):
    s = socket.socket()
    s.settimeout(5)
    t = time.monotonic()
    try:
        s.connect((host, port))
        print("port %d: connected, expected ECONNREFUSED" % port)
        sys.exit(1)
    except ConnectionRefusedError:
        print("port %d: ECONNREFUSED after %.3f s" % (port, time.monotonic() - t))
    except OSError as e:
        print("port %d: %s (errno %s), expected ECONNREFUSED" % (port, e, errno.errorcode.get(e.errno)))
        sys.exit(1)
    finally:
        s.close()
# the open port still works after the refusals
s = socket.create_connection((host, 7), timeout=5)
s.sendall(b"still here\n")
s.settimeout(5)
got = b""
while len(got) < 11:
    d = s.recv(100)
    if not d:
        break
    got += d
print("echo after the refusals:", got)
sys.exit(0 if got == b"still here\n" else 1)
PY
tcp_engine_alive
echo PASS
