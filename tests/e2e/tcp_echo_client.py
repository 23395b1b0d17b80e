#!/usr/bin/python3
"""tcp_echo_client.py - a kernel TCP client of an echo service (RFC 862): sends N bytes, reads them back, compares SHA-256.

One thread sends (then shutdown(SHUT_WR)), the main thread reads until EOF, so
neither direction waits for the other. Exit 0 when the bytes that came back are
exactly the bytes sent, 1 otherwise; every wait is bounded.

usage: tcp_echo_client.py HOST PORT BYTES [--timeout S] [--halfclose-pause S] [--cc ALGO]
  --halfclose-pause S: send everything and shut down first, wait S seconds, and only
  then start reading (the peer gets our FIN while it still owes us data).
"""
import argparse
import hashlib
import os
import socket
import sys
import threading
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("nbytes", type=int)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--halfclose-pause", type=float, default=None)
    ap.add_argument("--cc", default="cubic", help="congestion control of the client socket")
    a = ap.parse_args()

    deadline = time.monotonic() + a.timeout
    s = socket.socket()
    # the kernel peer's congestion control is part of the test: pin it (this
    # machine's default is BBR; Linux upstream's is CUBIC)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, a.cc.encode())
    s.settimeout(10)
    s.connect((a.host, a.port))
    s.settimeout(30)
    # a random block repeated with a running counter mixed in: nothing periodic
    # that a reordering bug could hide behind
    block = os.urandom(65536)
    sent_hash = hashlib.sha256()
    err = []

    def sender():
        try:
            left = a.nbytes
            i = 0
            while left > 0:
                chunk = (i.to_bytes(8, "big") + block)[: min(left, 65536 + 8)]
                s.sendall(chunk)
                sent_hash.update(chunk)
                left -= len(chunk)
                i += 1
                if time.monotonic() > deadline:
                    raise TimeoutError("sending took longer than %.0f s" % a.timeout)
            s.shutdown(socket.SHUT_WR)
        except Exception as e:  # reported by the main thread
            err.append("send: %r" % (e,))

    t = threading.Thread(target=sender, daemon=True)
    start = time.monotonic()
    t.start()
    if a.halfclose_pause is not None:
        t.join(a.timeout)
        if t.is_alive():
            print("FAIL: could not send everything before reading (pipeline full?)")
            return 1
        time.sleep(a.halfclose_pause)
    got = 0
    recv_hash = hashlib.sha256()
    try:
        while True:
            if time.monotonic() > deadline:
                raise TimeoutError("transfer took longer than %.0f s" % a.timeout)
            d = s.recv(1 << 20)
            if not d:
                break
            recv_hash.update(d)
            got += len(d)
    except Exception as e:
        err.append("recv after %d bytes: %r" % (got, e))
    t.join(max(0.0, deadline - time.monotonic()))
    el = time.monotonic() - start
    s.close()
    sh, rh = sent_hash.hexdigest(), recv_hash.hexdigest()
    print("sent %d bytes sha256 %s" % (a.nbytes, sh))
    print("got  %d bytes sha256 %s" % (got, rh))
    print("%.1f s, %.1f Mbit/s each way" % (el, a.nbytes * 8 / el / 1e6 if el else 0))
    for e in err:
        print("error:", e)
    if err or got != a.nbytes or sh != rh:
        print("FAIL")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
