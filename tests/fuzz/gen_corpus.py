#!/usr/bin/env python3
"""gen_corpus.py - writes the seed corpus of fuzz_frame (format in fuzz_frame.c) to corpus/frame/."""
import os
import struct
import sys

OUR_MAC = bytes([0x02, 0x74, 0x73, 0x6b, 0x00, 0x02])
PEER_MAC = bytes([0x02, 0, 0, 0, 0, 0x01])
BCAST = b"\xff" * 6
OUR = bytes([10, 77, 0, 2])
PEER = bytes([10, 77, 0, 1])
PEER2 = bytes([10, 77, 0, 3])


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def eth(payload, typ=0x0800, dst=OUR_MAC, src=PEER_MAC):
    return dst + src + struct.pack("!H", typ) + payload


def ip(payload, proto=1, src=PEER, dst=OUR, ident=1, frag=0, ttl=64, opts=b"", tos=0,
       bad_csum=False, total=None):
    ihl = 5 + len(opts) // 4
    tl = total if total is not None else ihl * 4 + len(payload)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tl, ident, frag, ttl, proto, 0, src, dst) + opts
    c = csum(h) ^ (0x1111 if bad_csum else 0)
    h = h[:10] + struct.pack("!H", c) + h[12:]
    return h + payload


def icmp(typ, code, rest, data, bad=False):
    m = struct.pack("!BBHI", typ, code, 0, rest) + data
    c = csum(m) ^ (1 if bad else 0)
    return m[:2] + struct.pack("!H", c) + m[4:]


def arp(op, sha, spa, tha, tpa, hrd=1, pro=0x0800, hln=6, pln=4):
    return struct.pack("!HHBBH", hrd, pro, hln, pln, op) + sha + spa + tha + tpa


def tcp(sport, dport, seq, ack, flags, win=65535, opts=b"", data=b"", src=PEER, dst=OUR):
    off = 5 + len(opts) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4, flags, win, 0, 0) + opts
    ph = src + dst + struct.pack("!BBH", 0, 6, len(h) + len(data))
    c = csum(ph + h + data)
    return h[:16] + struct.pack("!H", c) + h[18:] + data


def udp(sport, dport, data, src=PEER, dst=OUR):
    h = struct.pack("!HHHH", sport, dport, 8 + len(data), 0)
    c = csum(src + dst + struct.pack("!BBH", 0, 17, 8 + len(data)) + h + data)
    return h[:6] + struct.pack("!H", c) + data


def rec(frame, ctl=0):
    return bytes([ctl]) + struct.pack("!H", len(frame)) + frame


def ping(seq=1, n=56, **kw):
    return eth(ip(icmp(8, 0, (0x1234 << 16) | seq, bytes(range(n % 256)) * (n // 256) + bytes(range(n % 256))), **kw))


def frags(payload, ident, size=1480, proto=1):
    out = []
    off = 0
    while off < len(payload):
        chunk = payload[off:off + size]
        more = off + len(chunk) < len(payload)
        out.append(eth(ip(chunk, proto=proto, ident=ident, frag=(off // 8) | (0x2000 if more else 0))))
        off += len(chunk)
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "frame")
    os.makedirs(outdir, exist_ok=True)
    seeds = {}
    z6 = b"\0" * 6
    seeds["arp_request"] = b"\0" + rec(eth(arp(1, PEER_MAC, PEER, z6, OUR), 0x0806, BCAST))
    seeds["arp_request_padded"] = b"\0" + rec(eth(arp(1, PEER_MAC, PEER, z6, OUR) + b"\0" * 18, 0x0806, BCAST))
    seeds["arp_reply_unsolicited"] = b"\0" + rec(eth(arp(2, PEER_MAC, PEER, OUR_MAC, OUR), 0x0806))
    seeds["arp_probe"] = b"\0" + rec(eth(arp(1, PEER_MAC, b"\0" * 4, z6, OUR), 0x0806, BCAST))
    seeds["arp_gratuitous_peer"] = b"\1" + rec(eth(arp(1, PEER2_MAC := bytes([2, 0, 0, 0, 0, 3]), PEER, z6, PEER), 0x0806, BCAST))
    seeds["arp_bad_hrd"] = b"\0" + rec(eth(arp(1, PEER_MAC, PEER, z6, OUR, hrd=6), 0x0806, BCAST))
    seeds["arp_bad_op"] = b"\0" + rec(eth(arp(9, PEER_MAC, PEER, z6, OUR), 0x0806, BCAST))
    seeds["arp_truncated"] = b"\0" + rec(eth(arp(1, PEER_MAC, PEER, z6, OUR)[:20], 0x0806, BCAST))
    seeds["ping_resolved"] = b"\1" + rec(ping())
    seeds["ping_unresolved_then_reply"] = b"\2" + rec(ping()) + rec(eth(arp(2, PEER_MAC, PEER, OUR_MAC, OUR), 0x0806), ctl=6)
    seeds["ping_unresolved_timeout"] = b"\0" + rec(ping()) + rec(ping(2), ctl=20)
    seeds["ping_zero_padded"] = b"\1" + rec(ping(n=0) + b"\xaa" * 18)
    seeds["ping_1472"] = b"\1" + rec(ping(n=1472))
    seeds["ping_bad_icmp_csum"] = b"\1" + rec(eth(ip(icmp(8, 0, 1, b"abcd", bad=True))))
    seeds["ping_csum_ok_flag"] = b"\1" + rec(eth(ip(icmp(8, 0, 1, b"abcd", bad=True))), ctl=1)
    seeds["ip_bad_csum"] = b"\1" + rec(ping(bad_csum=True))
    seeds["ip_ttl0"] = b"\1" + rec(ping(ttl=0))
    seeds["ip_bad_total"] = b"\1" + rec(ping(total=2000))
    seeds["ip_options_rr"] = b"\1" + rec(eth(ip(icmp(8, 0, 1, b"opts"), opts=bytes([7, 7, 4, 0, 0, 0, 0, 0]))))
    seeds["ip_options_bad"] = b"\1" + rec(eth(ip(icmp(8, 0, 1, b"opts"), opts=bytes([1, 7, 1, 0]))))
    seeds["ip_options_lsrr"] = b"\1" + rec(eth(ip(icmp(8, 0, 1, b"opts"), opts=bytes([0x83, 7, 4, 10, 77, 0, 9, 0]))))
    seeds["ip_bcast"] = b"\1" + rec(ping(dst=bytes([10, 77, 0, 255])))
    seeds["ip_src_ours"] = b"\1" + rec(ping(src=OUR))
    seeds["udp_port_unreach"] = b"\1" + rec(eth(ip(udp(5000, 9, b"hello"), proto=17)))
    seeds["udp_burst_ratelimit"] = b"\1" + rec(eth(ip(udp(5000, 9, b"x"), proto=17))) * 8 + rec(eth(ip(udp(5000, 9, b"x"), proto=17)), ctl=20)
    seeds["proto_unreach"] = b"\1" + rec(eth(ip(b"12345678", proto=99)))
    big = icmp(8, 0, 7, bytes(i % 251 for i in range(3992)))
    seeds["frag_ping_4000"] = b"\1" + b"".join(rec(f) for f in frags(big, 99))
    seeds["frag_ping_reversed"] = b"\1" + b"".join(rec(f) for f in reversed(frags(big, 98)))
    fr = frags(big, 97)
    seeds["frag_duplicate"] = b"\1" + rec(fr[0]) + rec(fr[0]) + rec(fr[1]) + rec(fr[2])
    seeds["frag_overlap"] = b"\1" + rec(fr[0]) + b"".join(rec(f) for f in frags(big[8:], 97)[:1]) + rec(fr[1])
    seeds["frag_timeout"] = b"\1" + rec(fr[0]) + rec(fr[1], ctl=250)
    seeds["frag_oversize"] = b"\1" + rec(eth(ip(b"\0" * 100, ident=5, frag=8189)))
    seeds["frag_small_8"] = b"\1" + b"".join(rec(f) for f in frags(icmp(8, 0, 1, b"x" * 40), 55, size=8))
    seeds["tcp_syn"] = b"\1" + rec(eth(ip(tcp(40000, 80, 1000, 0, 0x02, opts=bytes([2, 4, 5, 0xb4, 1, 3, 3, 7])), proto=6)))
    seeds["tcp_syn_echo_port"] = b"\1" + rec(eth(ip(tcp(40001, 7, 1, 0, 0x02), proto=6)))
    seeds["tcp_ack_data"] = b"\1" + rec(eth(ip(tcp(40000, 80, 1001, 5, 0x18, data=b"GET / HTTP/1.0\r\n\r\n"), proto=6)))
    seeds["tcp_rst"] = b"\1" + rec(eth(ip(tcp(40000, 80, 1001, 0, 0x04), proto=6)))
    seeds["tcp_bad_offset"] = b"\1" + rec(eth(ip(b"\x9c\x40\x00\x50" + b"\0" * 8 + b"\xf0\x02" + b"\0" * 6, proto=6)))
    inner = ip(tcp(80, 40000, 1, 2, 0x12, src=OUR, dst=PEER), proto=6, src=OUR, dst=PEER)[:28]
    seeds["icmp_frag_needed"] = b"\1" + rec(eth(ip(icmp(3, 4, 1400, inner))))
    seeds["icmp_port_unreach_tcp"] = b"\1" + rec(eth(ip(icmp(3, 3, 0, inner))))
    seeds["icmp_source_quench"] = b"\1" + rec(eth(ip(icmp(4, 0, 0, inner))))
    seeds["icmp_bad_inner"] = b"\1" + rec(eth(ip(icmp(11, 0, 0, inner[:24]))))
    seeds["icmp_echo_reply"] = b"\1" + rec(eth(ip(icmp(0, 0, 1, b"pong"))))
    seeds["eth_vlan"] = b"\1" + rec(eth(b"\x00\x05\x08\x00" + ip(icmp(8, 0, 1, b"v")), 0x8100))
    seeds["eth_ipv6"] = b"\1" + rec(eth(b"\x60" + b"\0" * 39, 0x86dd))
    seeds["eth_not_for_us"] = b"\1" + rec(eth(ip(icmp(8, 0, 1, b"x")), dst=bytes([2, 0, 0, 0, 0, 9])))
    seeds["eth_short"] = b"\1" + rec(b"\x02\x74\x73\x6b\x00")
    seeds["empty_records"] = b"\3" + rec(b"") + rec(b"", ctl=255)
    seeds["mixed_session"] = (b"\2" + rec(eth(arp(1, PEER_MAC, PEER, z6, OUR), 0x0806, BCAST))
                              + rec(ping(1)) + rec(ping(2), ctl=20)
                              + rec(eth(ip(udp(1, 2, b"u"), proto=17))) + b"".join(rec(f) for f in frags(big, 3)))
    for name, data in seeds.items():
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds), outdir))


if __name__ == "__main__":
    main()
