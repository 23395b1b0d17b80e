#!/usr/bin/python3
"""test_ladder.py - the wire normaliser of the compatibility suite on made-up captures (tools/compat/ladder.py; RFC 9293 3.1, 3.5, 3.6).

What the suite compares is the folded ladder; these check that each rule of the
normaliser leaves out only what its header says, and keeps what would be a real
difference. No root, no network: plain segments in, ladder text out.
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools", "compat"))
import ladder  # noqa: E402

A_ISN, P_ISN = 1000, 5000   # the app's and the peer's initial sequence numbers
SYN, FIN, RST, ACK = 0x02, 0x01, 0x04, 0x10
SYN_OPTS = ["mss", "sackOK", "ts", "wscale"]


def seg(d, seq, ack, flags, length=0, win=500, t=0.0):
    """One captured segment; d '>' app to peer, '<' peer to app; seq/ack relative."""
    mine, theirs = (A_ISN, P_ISN) if d == ">" else (P_ISN, A_ISN)
    return {"sport": 40000 if d == ">" else 80, "dport": 80 if d == ">" else 40000,
            "seq": (mine + seq) & 0xFFFFFFFF, "ack": (theirs + ack) & 0xFFFFFFFF if flags & ACK else 0,
            "flags": flags, "win": win, "len": length, "t": t, "dir": d,
            "opts": SYN_OPTS if flags & SYN else ["ts"]}


def handshake():
    return [seg(">", 0, 0, SYN), seg("<", 0, 1, SYN | ACK), seg(">", 1, 1, ACK)]


def folded(segs, data_len=True):
    return [ladder.text(e) for e in ladder.fold(ladder.ladder(segs), data_len)]


# the app closes first, the peer answers: the close every case ends with
CLOSE = [seg(">", 1, 1, FIN | ACK), seg("<", 1, 2, ACK), seg("<", 1, 2, FIN | ACK), seg(">", 2, 2, ACK)]
CLOSE_LADDER = ["> F.  seq=1 ack=1", "< F.  seq=1 ack=2", "> .   seq=2 ack=2"]
HS_LADDER = ["> S   seq=0 <mss,sackOK,ts,wscale>", "< S.  seq=0 ack=1 <mss,sackOK,ts,wscale>"]


class Fold(unittest.TestCase):
    def test_plain_close(self):
        self.assertEqual(folded(handshake() + CLOSE), HS_LADDER + CLOSE_LADDER)

    def test_repeated_final_ack_and_its_reset_left_out(self):
        # Linux sent its last ACK twice; the peer, CLOSED, reset the second copy
        segs = handshake() + CLOSE + [seg(">", 2, 2, ACK), {**seg("<", 2, 0, RST), "ack": 0}]
        self.assertEqual(folded(segs), HS_LADDER + CLOSE_LADDER)

    def test_late_copy_of_the_ack_a_fin_carried_left_out(self):
        # the peer closed first; the app's ACK of that FIN left after its own FIN
        segs = handshake() + [seg("<", 1, 1, FIN | ACK), seg(">", 1, 2, FIN | ACK), seg("<", 2, 2, ACK),
                              seg(">", 1, 2, ACK), seg("<", 2, 2, ACK), seg(">", 2, 0, RST)]
        self.assertEqual(folded(segs), HS_LADDER + ["< F.  seq=1 ack=1", "> F.  seq=1 ack=2",
                                                    "< .   seq=2 ack=2"])

    def test_strays_counted_for_the_runner(self):
        # the runner runs a case again when a differing run holds such strays
        race = handshake() + CLOSE + [seg(">", 2, 2, ACK), {**seg("<", 2, 0, RST), "ack": 0}]
        self.assertEqual(ladder.strays(race), 1)
        self.assertEqual(ladder.strays(handshake() + CLOSE), 0)

    def test_reset_after_a_close_kept_when_nothing_was_repeated(self):
        # a reset answering a first (not repeated) segment is a real difference
        segs = handshake() + CLOSE + [{**seg("<", 2, 0, RST), "ack": 0}]
        self.assertEqual(folded(segs)[-1], "< R   seq=2")

    def test_reset_with_data_pending_kept(self):
        segs = handshake() + [seg(">", 1, 1, ACK, 10), seg("<", 1, 11, RST | ACK)]
        self.assertEqual(folded(segs)[-2:], ["> .   seq=1 ack=1 len=10", "< R.  seq=1 ack=11"])

    def test_data_merged_and_pure_acks_dropped(self):
        segs = handshake() + [seg(">", 1, 1, ACK, 100), seg("<", 1, 101, ACK), seg(">", 101, 1, ACK, 50)]
        self.assertEqual(folded(segs)[-1], "> .   seq=1 ack=1 len=150")

    def test_zero_window_and_probe_kept(self):
        segs = handshake() + [seg(">", 1, 1, ACK, 100), seg("<", 1, 101, ACK, win=0),
                              seg(">", 100, 1, ACK)]
        self.assertEqual(folded(segs)[-2:], ["< .   seq=1 ack=101 win=0", "> .   seq=100 ack=1 (probe)"])

    def test_ack_then_fin_folded_into_the_fin(self):
        with_ack = handshake() + [seg("<", 1, 1, FIN | ACK), seg(">", 1, 2, ACK), seg(">", 1, 2, FIN | ACK),
                                  seg("<", 2, 2, ACK)]
        merged = handshake() + [seg("<", 1, 1, FIN | ACK), seg(">", 1, 2, FIN | ACK), seg("<", 2, 2, ACK)]
        self.assertEqual(folded(with_ack), folded(merged))

    def test_bulk_reset_at_next_sequence(self):
        segs = handshake() + [seg(">", 1, 1, ACK, 4000), seg(">", 4001, 1, RST | ACK)]
        self.assertEqual(folded(segs, data_len=False)[-2:], ["> .   data", "> R.  seq=nxt ack=all"])

    def test_bulk_reset_elsewhere_keeps_its_number(self):
        segs = handshake() + [seg(">", 1, 1, ACK, 4000), seg(">", 1, 1, RST | ACK)]
        self.assertEqual(folded(segs, data_len=False)[-1], "> R.  seq=1 ack=all")

    def test_retransmissions_counted(self):
        segs = handshake() + [seg(">", 1, 1, ACK, 13, t=t) for t in (0.0, 0.2, 0.6)]
        self.assertEqual(folded(segs)[-1], "> .   seq=1 ack=1 len=13 x3")


if __name__ == "__main__":
    unittest.main(verbosity=1)
