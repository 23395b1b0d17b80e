"""ladder.py - the wire as the peer saw it, reduced to a normalised ladder (RFC 9293 3.1 header, RFC 7323, RFC 2018).

Capture: `python3 ladder.py capture IFACE OUT.json` in the peer's namespace: an AF_PACKET
socket on the peer's interface records every TCP/IPv4 frame with its direction and time,
prints "ready" once bound, and writes OUT.json on SIGTERM.

Normalise (what is compared, and why each rule is there):
- direction: '>' app to peer, '<' peer to app.
- sequence and acknowledgment numbers relative to each side's initial sequence number
  (the ISNs are random on both stacks).
- flags S F R and the ACK bit ('.'); PSH is dropped (it follows segmentation).
- payload length; contiguous data segments in one direction are merged into one entry
  (TSO on the TAP and GSO on the veth cut the same bytes differently).
- options: kind names on SYN segments (mss, sackOK, ts, wscale); values are not compared.
- window: only whether it is zero.
- pure ACKs (no data, no SYN/FIN/RST) are left out of the comparison, because their number
  follows delayed-ACK timing, except: the first ACK of the other side's SYN or FIN, an ACK
  that closes or reopens the window, and an ACK below the sender's highest sequence number
  (a keepalive or window probe).
- a pure ACK of a SYN or FIN is left out when a later segment of the same side (data, FIN)
  carries that acknowledgment too.
- bulk cases (WIRE_DATA_LEN False): only the segments with data or control flags, without
  sequence numbers of data or window states; a RST at the sender's next sequence number
  shows seq=nxt, and a FIN or RST that acknowledges everything the other side sent shows
  ack=all (those numbers are the length of the bulk).
- a pure ACK immediately followed by a FIN with the same acknowledgment number is folded
  into the FIN: whether the ACK of a FIN rides on the application's own FIN depends on how
  fast the application closed after reading EOF, on the kernel as on tapsock.
- stray segments of a completed close, which Linux itself sends now and then when the
  two halves of a close are handled on two CPUs at once (seen comparing the kernel with
  itself): a late copy of the ACK that a side's FIN already carried (same sequence and
  acknowledgment numbers as that FIN, sent after it), and a bare RST, at a side's final
  sequence number after its FIN, answering a repeated pure ACK of that FIN (the side is
  already CLOSED). Both are left out; nothing else about the close is.
- IP ID, TTL, checksums, window values and timestamp values are not compared.
"""
import json
import os
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def capture(iface, out):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((iface, 0))
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    segs = []
    print("ready", flush=True)
    t0 = None
    while not stop:
        try:
            r, _, _ = select.select([s], [], [], 0.05)
        except InterruptedError:
            continue
        if not r:
            continue
        while True:
            try:
                data, addr = s.recvfrom(262144, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            now = time.monotonic()
            seg = parse(data)
            if seg is None:
                continue
            if t0 is None:
                t0 = now
            seg["t"] = round(now - t0, 4)
            seg["dir"] = "<" if addr[2] == PACKET_OUTGOING else ">"
            segs.append(seg)
    with open(out, "w") as f:
        json.dump(segs, f)


OPTNAMES = {2: "mss", 3: "wscale", 4: "sackOK", 5: "sack", 8: "ts", 34: "tfo"}


def parse(frame):
    """Ethernet/IPv4/TCP to a dict; None for anything else or anything too short."""
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if etype != 0x0800 or len(ip) < 20:
        return None
    ihl = (ip[0] & 15) * 4
    if ip[0] >> 4 != 4 or ihl < 20 or len(ip) < ihl or ip[9] != 6:
        return None
    tot = struct.unpack("!H", ip[2:4])[0]
    if tot < ihl:
        return None
    tcp = ip[ihl:tot] if tot <= len(ip) else ip[ihl:]
    if len(tcp) < 20:
        return None
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", tcp[:16])
    doff = (off >> 4) * 4
    if doff < 20 or doff > len(tcp):
        return None
    opts, i, o = [], 20, tcp[:doff]
    while i < doff:
        k = o[i]
        if k == 0:
            break
        if k == 1:
            i += 1
            continue
        if i + 1 >= doff or o[i + 1] < 2:
            break
        opts.append(OPTNAMES.get(k, "opt%d" % k))
        i += o[i + 1]
    # with TSO/GSO the IP total length of a captured super-frame may be 0 or short
    plen = max(0, (len(ip) if tot == 0 else min(tot, len(ip))) - ihl - doff)
    return {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags,
            "win": win, "len": plen, "opts": opts}


def _flagstr(f):
    s = ""
    if f & 0x02:
        s += "S"
    if f & 0x01:
        s += "F"
    if f & 0x04:
        s += "R"
    if f & 0x10:
        s += "."
    return s or "-"


def _rel(v, base):
    return (v - base) & 0xFFFFFFFF


def flows(segs):
    """Split by connection (the pair of ports), in order of first appearance."""
    out, gen = {}, {}
    for s in segs:
        k = (s["sport"], s["dport"]) if s["dir"] == ">" else (s["dport"], s["sport"])
        g = gen.get(k, 0)
        # a fresh SYN on a used pair of ports is a new connection (after TIME-WAIT, reuse)
        if s["flags"] & 0x12 == 0x02 and any(not x["flags"] & 0x02 for x in out.get((k, g), [])):
            g = gen[k] = g + 1
        out.setdefault((k, g), []).append(s)
    return list(out.values())


def ladder(segs):
    """The full ladder: one entry per captured segment, numbers relative. Each entry is
    a dict with the text shown and the facts the fold needs. Several connections: each
    is laid out on its own, one after the other, named c0, c1... by first appearance
    (how segments of different connections interleave follows scheduling)."""
    fl = flows(segs)
    if len(fl) > 1:
        out = []
        for i, f in enumerate(fl):
            for e in ladder(f):
                e["conn"] = "c%d" % i
                out.append(e)
        return out
    isn = {}
    for s in segs:
        if s["dir"] not in isn and s["flags"] & 0x02:
            isn[s["dir"]] = s["seq"]
    for s in segs:  # a side that never sent a SYN (a RST to a SYN): its first sequence number
        isn.setdefault(s["dir"], s["seq"])
    other = {">": "<", "<": ">"}
    out = []
    for s in segs:
        d = s["dir"]
        f = s["flags"]
        ent = {"dir": d, "t": s["t"], "flags": _flagstr(f), "seq": _rel(s["seq"], isn[d]),
               "len": s["len"], "win0": s["win"] == 0 and not f & 0x04,
               "ack": _rel(s["ack"], isn[other[d]]) if f & 0x10 and other[d] in isn else None}
        if f & 0x02:
            ent["opts"] = sorted(o for o in set(s["opts"]) if o != "sack")
        else:
            ent["opts"] = sorted(set(o for o in s["opts"] if o in ("ts", "sack")))
        out.append(ent)
    return out


def text(e, times=False):
    t = "%s%s %-3s" % (e["conn"] + " " if e.get("conn") else "", e["dir"], e["flags"])
    if e["seq"] is not None:
        t += " seq=%s" % e["seq"]
    if e["ack"] is not None:
        t += " ack=%s" % e["ack"]
    if e["len"]:
        t += " len=%d" % e["len"] if e["len"] > 0 else " data"
    if e["flags"].startswith("S") and e["opts"]:
        t += " <%s>" % ",".join(e["opts"])
    if e["win0"]:
        t += " win=0"
    if e.get("probe"):
        t += " (probe)"
    if e.get("n", 1) > 1:
        t += " x%d" % e["n"]
    if times:
        t = "%7.3f %s" % (e["t"], t)
    return t


def fold(lad, data_len=True):
    conns = []
    for e in lad:
        if not conns or conns[-1][0].get("conn") != e.get("conn"):
            conns.append([])
        conns[-1].append(e)
    out = []
    for c in conns:
        out += _fold1(c, data_len)
    return out


def _stray_after_close(lad):
    """Indexes of the stray segments of a close that Linux itself sends now and then (see
    the header): a late copy of the ACK a side's FIN already carried, and a bare RST that a
    side whose FIN was acknowledged sends in answer to a repeated pure ACK of that FIN."""
    out = set()
    other = {">": "<", "<": ">"}
    fin = {">": None, "<": None}       # (sequence number the FIN occupies, its ack) per side
    fin_end = {">": None, "<": None}   # sequence number after each side's FIN

    def is_pure(x):
        return x["flags"] == "." and not x["len"]
    for i, e in enumerate(lad):
        d = e["dir"]
        if is_pure(e) and fin[d] is not None and (e["seq"], e["ack"]) == fin[d]:
            out.add(i)                 # the ACK the FIN carried, overtaken by the FIN
            continue
        if e["flags"] == "R" and fin_end[d] is not None and e["seq"] == fin_end[d] and i >= 1:
            p = lad[i - 1]
            if (p["dir"] == other[d] and is_pure(p) and p["ack"] == fin_end[d] and
                    any(x["dir"] == p["dir"] and is_pure(x) and (x["seq"], x["ack"]) == (p["seq"], p["ack"])
                        for x in lad[:i - 1])):
                out.add(i)
        if "F" in e["flags"] and fin[d] is None:
            fin[d] = ((e["seq"] + e["len"]) & 0xFFFFFFFF, e["ack"])
            fin_end[d] = (e["seq"] + e["len"] + 1) & 0xFFFFFFFF
    return out


def strays(segs):
    """How many stray segments of a completed close (see the header) a capture holds: the
    runner runs a case again when such a run differs, since the stray RST may have ended the
    TIME-WAIT that the rest of the case counts on (RFC 1337's assassination, Linux's default)."""
    return sum(len(_stray_after_close(ladder(f))) for f in flows(segs))


def _fold1(lad, data_len=True):
    """What is compared: the ladder without the timing-dependent pure ACKs, data merged.
    data_len False (bulk cases): how the bytes were cut into segments is not compared."""
    stray = _stray_after_close(lad)
    lad = [e for i, e in enumerate(lad) if i not in stray]
    out = []
    top = {">": None, "<": None}        # highest sequence number sent per direction
    ctl_acked = {">": set(), "<": set()}  # SYN/FIN sequence numbers the other side acked
    ctl = {">": [], "<": []}            # sequence numbers after each SYN/FIN sent
    lastwin0 = {">": False, "<": False}
    other = {">": "<", "<": ">"}
    for e in lad:
        d = e["dir"]
        end = (e["seq"] + e["len"] + (1 if "S" in e["flags"] else 0) +
               (1 if "F" in e["flags"] else 0)) & 0xFFFFFFFF
        pure = e["flags"] == "." and e["len"] == 0
        keep = not pure
        e = dict(e)
        if pure:
            new_ctl = [c for c in ctl[other[d]]
                       if e["ack"] is not None and e["ack"] >= c and c not in ctl_acked[d]]
            if new_ctl:
                keep = True
            if e["win0"] != lastwin0[d]:
                keep = True
            if top[d] is not None and _lt(e["seq"], top[d]):
                keep = True
                e["probe"] = True
        if e["ack"] is not None:
            for c in ctl[other[d]]:
                if e["ack"] >= c:
                    ctl_acked[d].add(c)
        if "S" in e["flags"] or "F" in e["flags"]:
            if end not in ctl[d]:
                ctl[d].append(end)
        if "R" in e["flags"] and top[d] is not None and e["seq"] == top[d]:
            e["at_top"] = True   # a reset at the sender's next sequence number
        if e["ack"] is not None and top[other[d]] is not None and e["ack"] == top[other[d]]:
            e["ack_all"] = True  # acknowledges everything the other side sent
        lastwin0[d] = e["win0"]
        if top[d] is None or _lt(top[d], end):
            top[d] = end
        if not keep:
            continue
        prev = out[-1] if out else None
        if (prev and prev["dir"] == d and prev["flags"] == "." and e["flags"] == "." and
                e["len"] and prev["len"] and prev["seq"] + prev["len"] == e["seq"] and
                prev["win0"] == e["win0"]):
            prev["len"] += e["len"]
            prev["ack"] = e["ack"]
            continue
        # an ACK of the other side's FIN sent just before our own FIN, or carried by it,
        # is the same close: which one happens follows when the application woke up
        if (prev and prev["dir"] == d and "F" in e["flags"] and prev["flags"] == "." and
                not prev["len"] and not prev.get("probe") and prev["ack"] == e["ack"]):
            out[-1] = e
            continue
        # repeats of one segment (retransmissions, probes): one entry with a count
        if prev and _key(prev) == _key(e):
            prev["n"] = prev.get("n", 1) + 1
            continue
        out.append(e)
    # the ACK of a SYN or FIN that a later segment of the same side carries again: whether
    # it went alone first followed scheduling (delayed ACK, how fast the app wrote)
    keep = []
    for i, e in enumerate(out):
        if (e["flags"] == "." and not e["len"] and not e.get("probe") and e["ack"] is not None
                and any(x["dir"] == e["dir"] and not (x["flags"] == "." and not x["len"])
                        and x["ack"] is not None and x["ack"] >= e["ack"] for x in out[i + 1:])):
            continue
        keep.append(e)
    out = keep
    if not data_len:
        out = [e for e in out if not (e["flags"] == "." and not e["len"])]
        for e in out:
            if e["len"] or "F" in e["flags"]:
                e["seq"] = None
                e["len"] = -1 if e["flags"] == "." else 0
            e["win0"] = False
        for e in out:
            if e["len"]:
                e["len"] = -1
            if e["flags"] == ".":
                e["seq"] = e["ack"] = None
            # how many bytes went before a reset is the bulk's length: show that the
            # reset came at the next sequence number, not the number
            if e.get("at_top"):
                e["seq"] = "nxt"
            if e.get("ack_all") and ("F" in e["flags"] or "R" in e["flags"]):
                e["ack"] = "all"
        merged = []
        for e in out:
            if merged and _key(merged[-1]) == _key(e):
                merged[-1]["n"] = merged[-1].get("n", 1) + e.get("n", 1)
            else:
                merged.append(e)
        out = merged
    return out


def _key(e):
    return (e.get("conn"), e["dir"], e["flags"], e["seq"], e["ack"], e["len"], e["win0"],
            bool(e.get("probe")))


def _lt(a, b):
    return ((a - b) & 0xFFFFFFFF) > 0x7FFFFFFF


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "capture":
        capture(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "show":
        for e in fold(ladder(load(sys.argv[2]) or [])):
            print(text(e, times=True))
    else:
        print("usage: ladder.py capture IFACE OUT.json | show OUT.json", file=sys.stderr)
        sys.exit(2)
