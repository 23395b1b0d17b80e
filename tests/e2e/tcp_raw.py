#!/usr/bin/python3
"""tcp_raw.py - the engine's answers to hand-made segments, checked against RFC 9293 3.10.7 (and RFC 5961 3.2).

Runs inside the test's namespace, on the kernel side of the TAP, with an AF_PACKET
socket and a source address the kernel does not own (so the kernel never answers
for it); the script answers the engine's ARP requests for that address itself.

usage: tcp_raw.py IFNAME ENGINE_IP OUR_IP [TAPSOCK]
"""
import os
import random
import socket
import struct
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

ifname, eng_ip, our_ip = sys.argv[1], sys.argv[2], sys.argv[3]
tapsock = sys.argv[4] if len(sys.argv) > 4 else os.environ.get("TAPSOCK", "")
eng_ipb, our_ipb = socket.inet_aton(eng_ip), socket.inet_aton(our_ip)
our_mac = bytes([0x02, 0x00, 0x5e, 0x77, random.randrange(256), 0x03])
eng_mac = None
failures = []

sk = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sk.bind((ifname, 0))


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)
    return cond


def fmt_flags(f):
    return "".join(n for b, n in ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (ACK, ".")) if f & b) or "-"


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def send_arp(op, target_mac, target_ip, dst_mac):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, op, our_mac, our_ipb, target_mac, target_ip)
    sk.send(dst_mac + our_mac + struct.pack("!H", ETH_P_ARP) + arp)


def send_tcp(sport, dport, flags, seq, ack, data=b"", win=65535, mss=None):
    opts = struct.pack("!BBH", 2, 4, mss) if mss else b""
    thl = 20 + len(opts)
    th = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                     (thl // 4) << 4, flags, win, 0, 0) + opts
    pseudo = our_ipb + eng_ipb + struct.pack("!BBH", 0, 6, thl + len(data))
    c = csum(pseudo + th + data)
    th = th[:16] + struct.pack("!H", c) + th[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + thl + len(data), random.randrange(65536),
                     0x4000, 64, 6, 0, our_ipb, eng_ipb)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    sk.send(eng_mac + our_mac + struct.pack("!H", ETH_P_IP) + ip + th + data)


class Seg:
    def __init__(self, b):
        (self.sport, self.dport, self.seq, self.ack, off, self.flags, self.win) = \
            struct.unpack("!HHIIBBH", b[:16])
        hl = (off >> 4) * 4
        self.mss = None
        i = 20
        while i < hl:
            k = b[i]
            if k == 0:
                break
            if k == 1:
                i += 1
                continue
            if i + 1 >= hl or b[i + 1] < 2:
                break
            if k == 2 and b[i + 1] == 4:
                self.mss = struct.unpack("!H", b[i + 2:i + 4])[0]
            i += b[i + 1]
        self.data = b[hl:]

    def __repr__(self):
        return "%d>%d %s seq=%d ack=%d win=%d len=%d%s" % (
            self.sport, self.dport, fmt_flags(self.flags), self.seq, self.ack, self.win,
            len(self.data), " mss=%d" % self.mss if self.mss else "")


def handle_arp(frame):
    """Answer the engine's who-has for our address; learn the engine's MAC."""
    global eng_mac
    op, smac, sip, tmac, tip = struct.unpack("!6xH6s4s6s4s", frame[14:42])
    if sip == eng_ipb and eng_mac is None:
        eng_mac = smac
    if op == 1 and tip == our_ipb and sip == eng_ipb:
        send_arp(2, smac, sip, smac)


def recv_segs(timeout, want=None):
    """TCP segments from the engine to us, until `want(seg)` is true or timeout."""
    out = []
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return out
        sk.settimeout(left)
        try:
            frame, addr = sk.recvfrom(65600)
        except socket.timeout:
            return out
        if addr[2] == PACKET_OUTGOING or len(frame) < 14:
            continue
        et = struct.unpack("!H", frame[12:14])[0]
        if et == ETH_P_ARP and len(frame) >= 42:
            handle_arp(frame)
            continue
        if et != ETH_P_IP or len(frame) < 34:
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        tot = struct.unpack("!H", ip[2:4])[0]
        if ip[9] != 6 or ip[12:16] != eng_ipb or ip[16:20] != our_ipb:
            continue
        s = Seg(ip[ihl:tot])
        print("      < %r" % s)
        out.append(s)
        if want and want(s):
            return out


def first(segs, pred):
    for s in segs:
        if pred(s):
            return s
    return None


def ss():
    if not tapsock:
        return None
    r = subprocess.run([tapsock, "ss"], capture_output=True, text=True, timeout=10)
    return r.stdout


def in_ss(port):
    out = ss()
    key = "%s:%d" % (our_ip, port)
    return out is not None and any(key in line.split() for line in out.splitlines())


def handshake(sport, iss):
    send_tcp(sport, 7, SYN, iss, 0, mss=1460)
    segs = recv_segs(3, lambda s: s.dport == sport and s.flags & SYN)
    sa = first(segs, lambda s: s.dport == sport and s.flags & SYN)
    if not sa:
        return None
    send_tcp(sport, 7, ACK, iss + 1, sa.seq + 1)
    return sa.seq + 1  # the engine's next sequence number


def main():
    global eng_mac
    # learn the engine's MAC (and let it learn ours) the way a host would
    for _ in range(10):
        send_arp(1, b"\0" * 6, eng_ipb, b"\xff" * 6)
        recv_segs(0.3)
        if eng_mac:
            break
    if not check(eng_mac is not None, "the engine answers ARP for %s" % eng_ip):
        return 1
    print("engine MAC %s" % eng_mac.hex(":"))

    # 1. RFC 9293 3.10.7.1 (CLOSED): a SYN gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
    print("-- SYN to a closed port")
    iss = random.randrange(1 << 32)
    send_tcp(40100, 8, SYN, iss, 0, mss=1460)
    r = first(recv_segs(3, lambda s: s.dport == 40100), lambda s: s.dport == 40100)
    if check(r is not None, "an answer to a SYN to closed port 8"):
        check(r.flags & (RST | ACK | SYN) == RST | ACK, "it is RST/ACK (got %s)" % fmt_flags(r.flags))
        check(r.seq == 0, "its SEQ is 0 (got %d)" % r.seq)
        check(r.ack == (iss + 1) & 0xFFFFFFFF, "its ACK is SEG.SEQ+1 (got %d, want %d)"
              % (r.ack, (iss + 1) & 0xFFFFFFFF))

    # 2. RFC 9293 3.10.7.2 (LISTEN): SYN -> <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>, with MSS
    print("-- SYN to echo")
    iss = random.randrange(1 << 32)
    send_tcp(40101, 7, SYN, iss, 0, mss=1460)
    r = first(recv_segs(3, lambda s: s.dport == 40101), lambda s: s.dport == 40101)
    eng_nxt = None
    if check(r is not None, "an answer to a SYN to port 7"):
        check(r.flags & (SYN | ACK | RST | FIN) == SYN | ACK, "it is SYN/ACK (got %s)" % fmt_flags(r.flags))
        check(r.ack == (iss + 1) & 0xFFFFFFFF, "it acks SEG.SEQ+1 (got %d, want %d)"
              % (r.ack, (iss + 1) & 0xFFFFFFFF))
        check(r.mss is not None and 536 <= r.mss <= 1460,
              "it carries an MSS option (RFC 9293 3.7.1), got %s" % r.mss)
        eng_nxt = (r.seq + 1) & 0xFFFFFFFF
        send_tcp(40101, 7, ACK, iss + 1, eng_nxt)
    our_nxt = (iss + 1) & 0xFFFFFFFF

    # 3. RFC 9293 3.10.7.1/3.10.7.2: an ACK for no connection gets <SEQ=SEG.ACK><CTL=RST>
    for port, what in ((8, "a closed port"), (7, "a listening port")):
        print("-- ACK for an unknown connection to %s" % what)
        a = random.randrange(1 << 32)
        send_tcp(40102, port, ACK, random.randrange(1 << 32), a)
        r = first(recv_segs(3, lambda s: s.dport == 40102), lambda s: s.dport == 40102)
        if check(r is not None, "an answer to a stray ACK to %s" % what):
            check(r.flags & (RST | ACK | SYN) == RST, "it is a bare RST (got %s)" % fmt_flags(r.flags))
            check(r.seq == a, "its SEQ is SEG.ACK (got %d, want %d)" % (r.seq, a))

    if eng_nxt is not None:
        # data is echoed (RFC 862)
        print("-- data on the established connection")
        send_tcp(40101, 7, ACK | PSH, our_nxt, eng_nxt, b"hello\n")
        our_nxt = (our_nxt + 6) & 0xFFFFFFFF
        segs = recv_segs(3, lambda s: s.dport == 40101 and len(s.data) > 0)
        d = first(segs, lambda s: s.dport == 40101 and len(s.data) > 0)
        if check(d is not None and d.data == b"hello\n" and d.seq == eng_nxt,
                 "echo sends the data back at SND.NXT"):
            eng_nxt = (eng_nxt + len(d.data)) & 0xFFFFFFFF
            check(d.flags & ACK and d.ack == our_nxt, "and acks it (ack %d, want %d)" % (d.ack, our_nxt))
        send_tcp(40101, 7, ACK, our_nxt, eng_nxt)

        # 4. RFC 9293 3.10.7.4 eighth: a FIN is acked (CLOSE-WAIT); echo then closes: its FIN
        print("-- FIN on the established connection")
        send_tcp(40101, 7, FIN | ACK, our_nxt, eng_nxt)
        fin_ack = (our_nxt + 1) & 0xFFFFFFFF
        segs = recv_segs(3, lambda s: s.dport == 40101 and s.flags & FIN)
        check(first(segs, lambda s: s.flags & ACK and s.ack == fin_ack) is not None,
              "the FIN is acknowledged (ack %d)" % fin_ack)
        f = first(segs, lambda s: s.flags & FIN)
        if check(f is not None, "echo closes its side: FIN from the engine"):
            check(f.seq == eng_nxt, "the engine's FIN is at SND.NXT (seq %d, want %d)" % (f.seq, eng_nxt))
            send_tcp(40101, 7, ACK, fin_ack, f.seq + 1)
            # LAST-ACK is over: nothing more comes for this connection
            more = recv_segs(0.5, lambda s: s.dport == 40101)
            check(not [s for s in more if s.dport == 40101], "silence after the last ACK")
            if tapsock:
                check(not in_ss(40101), "the closed connection left tapsock ss")

    # 5. RFC 5961 3.2 (RFC 9293 3.10.7.4 second): RST in window but not exact ->
    # challenge ACK, connection kept; RST at exactly RCV.NXT -> connection gone
    print("-- RST on an established connection")
    iss = random.randrange(1 << 32)
    nxt = handshake(40103, iss)
    if check(nxt is not None, "second connection established"):
        time.sleep(0.2)
        if tapsock:
            check(in_ss(40103), "tapsock ss lists %s:40103" % our_ip)
        send_tcp(40103, 7, RST, iss + 1 + 100, 0)
        segs = recv_segs(2, lambda s: s.dport == 40103)
        c = first(segs, lambda s: s.dport == 40103)
        if check(c is not None, "an in-window RST off RCV.NXT gets a challenge ACK"):
            check(c.flags & (ACK | RST) == ACK and c.ack == (iss + 1) & 0xFFFFFFFF,
                  "challenge ACK acks RCV.NXT (got %s ack %d)" % (fmt_flags(c.flags), c.ack))
        if tapsock:
            check(in_ss(40103), "the connection survives the off-RCV.NXT RST")
        send_tcp(40103, 7, RST, iss + 1, 0)
        segs = recv_segs(0.5, lambda s: s.dport == 40103)
        check(not [s for s in segs if s.dport == 40103], "no answer to an acceptable RST")
        if tapsock:
            gone = False
            for _ in range(20):
                if not in_ss(40103):
                    gone = True
                    break
                time.sleep(0.1)
            check(gone, "the reset connection left tapsock ss")
            # and it is really gone: new data gets a reset
            send_tcp(40103, 7, ACK, iss + 1, nxt)
            r = first(recv_segs(2, lambda s: s.dport == 40103), lambda s: s.dport == 40103)
            check(r is not None and r.flags & RST, "a segment after the reset gets RST")

    print("%d check(s) failed" % len(failures) if failures else "all checks passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
