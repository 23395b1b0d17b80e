#!/usr/bin/env python3
"""inject.py - send crafted and malformed frames to the engine from the kernel side of
its TAP (AF_PACKET raw socket; RFC 894, 826, 791, 792 for the formats).

usage: inject.py IFNAME ENGINE_MAC ENGINE_IP KERNEL_IP KIND COUNT
Prints "sent N replies M" (replies: ICMP echo replies from the engine to the frames
that deserve one). Exit 0, 2 on bad usage, 3 when the kernel refuses to send KIND.
`inject.py --list` prints the kinds.
"""
import fcntl
import os
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
PACKET_OUTGOING = 4
SIOCGIFHWADDR = 0x8927


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def eth(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ttl=64, ident=0x1234, frag=0, options=b"",
         ihl=None, tot_len=None, version=4, bad_csum=False):
    hl = 20 + len(options)
    if ihl is None:
        ihl = hl // 4
    if tot_len is None:
        tot_len = hl + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", version << 4 | ihl, 0, tot_len, ident, frag, ttl,
                      proto, 0, socket.inet_aton(src), socket.inet_aton(dst)) + options
    c = csum(hdr)
    if bad_csum:
        c ^= 0x5A5A
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return hdr + payload


def icmp(typ, code, rest, data, bad_csum=False):
    msg = struct.pack("!BBH", typ, code, 0) + rest + data
    c = csum(msg)
    if bad_csum:
        c ^= 0x1111
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def echo(ident, seq, size=56):
    data = bytes((i & 0xFF for i in range(size)))
    return icmp(8, 0, struct.pack("!HH", ident, seq), data)


def arp(op, smac, sip, tmac, tip, htype=1, ptype=ETH_P_IP, hlen=6, plen=4):
    return struct.pack("!HHBBH6s4s6s4s", htype, ptype, hlen, plen, op, smac,
                       socket.inet_aton(sip), tmac, socket.inet_aton(tip))


class Ctx:
    def __init__(self, ifname, emac, eip, kip):
        self.ifname, self.emac, self.eip, self.kip = ifname, emac, eip, kip
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.bind((ifname, 0))
        self.sock = s
        info = fcntl.ioctl(s.fileno(), SIOCGIFHWADDR,
                           struct.pack("256s", ifname.encode()[:15]))
        self.kmac = info[18:24]
        self.net = eip.rsplit(".", 1)[0]
        self.ident = os.getpid() & 0xFFFF

    def to_engine(self, etype, payload, dst=None):
        return eth(dst or self.emac, self.kmac, etype, payload)

    def ip_to_engine(self, proto, payload, **kw):
        return self.to_engine(ETH_P_IP, ipv4(self.kip, self.eip, proto, payload, **kw))


# Each kind: (description, build(ctx, i) -> list of frames, expects an echo reply)
def k_eth_short(c, i):
    return [c.emac + c.kmac[:4]]                       # 10 bytes


def k_eth_not_for_us(c, i):
    return [c.to_engine(ETH_P_IP, ipv4(c.kip, c.eip, 1, echo(c.ident, i)),
                        dst=b"\x02\x00\x00\x00\x00\x99")]


def k_eth_unknown_type(c, i):
    return [c.to_engine(0x88B5, bytes(46))]            # IEEE local experimental


def k_eth_vlan(c, i):
    return [c.to_engine(0x8100, struct.pack("!HH", 7, ETH_P_IP) +
                        ipv4(c.kip, c.eip, 1, echo(c.ident, i)))]


def k_arp_short(c, i):
    return [c.to_engine(ETH_P_ARP, arp(1, c.kmac, c.kip, bytes(6), c.eip)[:10])]


def k_arp_bad_format(c, i):
    return [c.to_engine(ETH_P_ARP, arp(1, c.kmac, c.kip, bytes(6), c.eip, htype=6))]


def k_arp_bad_op(c, i):
    return [c.to_engine(ETH_P_ARP, arp(9, c.kmac, c.kip, bytes(6), c.eip))]


def k_arp_not_for_us(c, i):
    # a request between two other hosts: the sender is not in the engine's table
    # (RFC 826: an entry it has would be merged, and that is not a drop)
    return [c.to_engine(ETH_P_ARP, arp(1, b"\x02\x00\x00\x00\x00\x50", c.net + ".50",
                                       bytes(6), c.net + ".99"))]


def k_ip_short(c, i):
    return [c.to_engine(ETH_P_IP, ipv4(c.kip, c.eip, 1, b"")[:12])]


def k_ip_bad_version(c, i):
    return [c.ip_to_engine(1, echo(c.ident, i), version=6)]


def k_ip_ihl_small(c, i):
    return [c.ip_to_engine(1, echo(c.ident, i), ihl=4)]


def k_ip_ihl_past(c, i):
    return [c.ip_to_engine(1, echo(c.ident, i, size=0), ihl=15)]   # 60 > 28 bytes


def k_ip_len_long(c, i):
    return [c.ip_to_engine(1, echo(c.ident, i), tot_len=20 + 64 + 100)]


def k_ip_len_short(c, i):
    return [c.ip_to_engine(1, echo(c.ident, i), tot_len=12)]        # under the header


def k_ip_bad_csum(c, i):
    return [c.ip_to_engine(1, echo(c.ident, i), bad_csum=True)]


def k_ip_not_for_us(c, i):
    return [c.to_engine(ETH_P_IP, ipv4(c.kip, c.net + ".77", 1, echo(c.ident, i)))]


def k_ip_bad_src(c, i):
    return [c.to_engine(ETH_P_IP, ipv4("224.0.0.5", c.eip, 1, echo(c.ident, i)))]


def k_ip_unknown_proto(c, i):
    return [c.ip_to_engine(253, bytes(8))]             # RFC 3692 experimental


def k_ip_bad_options(c, i):
    # a timestamp option (68) whose length runs past the 24-byte header
    return [c.ip_to_engine(1, echo(c.ident, i), options=bytes([68, 40, 5, 0]))]


def k_ip_options(c, i):
    # valid: NOP, NOP, NOP, End of Option List; the echo inside must be answered
    return [c.ip_to_engine(1, echo(c.ident, i), options=bytes([1, 1, 1, 0]))]


def k_ip_fragments(c, i):
    # an echo of 8 + 96 bytes in two fragments: offset 0 (MF, 56 bytes) and 56
    msg = echo(c.ident, i, size=96)
    return [c.ip_to_engine(1, msg[:56], ident=0x4000 + i, frag=0x2000),
            c.ip_to_engine(1, msg[56:], ident=0x4000 + i, frag=56 // 8)]


def k_icmp_short(c, i):
    return [c.ip_to_engine(1, b"\x08\x00\x00")]


def k_icmp_bad_csum(c, i):
    return [c.ip_to_engine(1, icmp(8, 0, struct.pack("!HH", c.ident, i), bytes(56),
                                   bad_csum=True))]


def k_icmp_unknown_type(c, i):
    return [c.ip_to_engine(1, icmp(99, 0, bytes(4), bytes(16)))]


def k_echo(c, i):
    return [c.ip_to_engine(1, echo(c.ident, i))]


KINDS = {
    "eth_short": (k_eth_short, False),
    "eth_not_for_us": (k_eth_not_for_us, False),
    "eth_unknown_type": (k_eth_unknown_type, False),
    "eth_vlan": (k_eth_vlan, False),
    "arp_short": (k_arp_short, False),
    "arp_bad_format": (k_arp_bad_format, False),
    "arp_bad_op": (k_arp_bad_op, False),
    "arp_not_for_us": (k_arp_not_for_us, False),
    "ip_short": (k_ip_short, False),
    "ip_bad_version": (k_ip_bad_version, False),
    "ip_ihl_small": (k_ip_ihl_small, False),
    "ip_ihl_past": (k_ip_ihl_past, False),
    "ip_len_long": (k_ip_len_long, False),
    "ip_len_short": (k_ip_len_short, False),
    "ip_bad_csum": (k_ip_bad_csum, False),
    "ip_not_for_us": (k_ip_not_for_us, False),
    "ip_bad_src": (k_ip_bad_src, False),
    "ip_unknown_proto": (k_ip_unknown_proto, False),
    "ip_bad_options": (k_ip_bad_options, False),
    "ip_options": (k_ip_options, True),
    "ip_fragments": (k_ip_fragments, True),
    "icmp_short": (k_icmp_short, False),
    "icmp_bad_csum": (k_icmp_bad_csum, False),
    "icmp_unknown_type": (k_icmp_unknown_type, False),
    "echo": (k_echo, True),
}


def is_echo_reply(c, frame, seq):
    """An ICMP echo reply from the engine with our identifier and this sequence."""
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        return False
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[9] != 1 or ip[12:16] != socket.inet_aton(c.eip) or len(ip) < ihl + 8:
        return False
    typ, _, _, ident, s = struct.unpack("!BBHHH", ip[ihl:ihl + 8])
    return typ == 0 and ident == c.ident and s == seq


def count_replies(c, timeout):
    """Echo replies with our identifier (any sequence) within timeout seconds."""
    n = 0
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return n
        r, _, _ = select.select([c.sock], [], [], left)
        if not r:
            return n
        frame, addr = c.sock.recvfrom(65535)
        if addr[2] != PACKET_OUTGOING and len(frame) >= 42 and frame[12:14] == b"\x08\x00":
            ihl = (frame[14] & 15) * 4
            seq = struct.unpack("!H", frame[14 + ihl + 6:14 + ihl + 8])[0] \
                if len(frame) >= 14 + ihl + 8 else 0
            if is_echo_reply(c, frame, seq):
                n += 1


def wait_reply(c, seq, timeout=1.0):
    end = time.monotonic() + timeout
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([c.sock], [], [], left)
        if not r:
            return False
        frame, addr = c.sock.recvfrom(65535)
        if addr[2] == PACKET_OUTGOING:
            continue
        if is_echo_reply(c, frame, seq):
            return True


def main(argv):
    if len(argv) == 2 and argv[1] == "--list":
        print("\n".join(KINDS))
        return 0
    if len(argv) != 7 or argv[5] not in KINDS:
        sys.stderr.write(__doc__)
        return 2
    ifname, emac, eip, kip, kind, count = argv[1:]
    c = Ctx(ifname, mac_bytes(emac), eip, kip)
    build, replies_expected = KINDS[kind]
    sent = replies = 0
    for i in range(int(count)):
        for frame in build(c, i + 1):
            try:
                c.sock.send(frame)
            except OSError as e:
                print("kernel refuses to send %s (%d bytes): %s" % (kind, len(frame), e))
                return 3
        sent += 1
        if replies_expected:
            replies += wait_reply(c, i + 1)
        else:
            replies += count_replies(c, 0.01)
    if not replies_expected:
        replies += count_replies(c, 0.2)   # nothing may answer a dropped frame
    print("sent %d replies %d" % (sent, replies))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
