"""close.py - closing connections: four-way close from each side, simultaneous, half-close, resets, linger (RFC 9293 3.6, 3.10.4, 3.10.7.4; RFC 1122 4.2.2.13)."""
import select
from compat import *


def serve_until_eof():
    """The peer's usual part: accept, read to EOF, close; say "closed" once the app's stack
    acknowledged that FIN."""
    l = listener(PEER)
    ready()
    c = l.accept()
    c.recv_all()
    close_after_ack(c)
    signal_peer("closed")
    return c


class app_closes_first(Case):
    """The app sends and closes first: FIN from the app, the peer's FIN, the app's last ACK (app in TIME-WAIT)."""
    def peer(self):
        serve_until_eof()

    def app(self):
        s = client()
        s.send(b"hello")
        s.close()


class peer_closes_first(Case):
    """The peer closes first: the app reads EOF (0 bytes), then closes: passive close, LAST-ACK."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.send(b"bye")
        c.close()
        sleep(0.5)

    def app(self):
        s = client()
        s.recv(100)
        s.recv(100)
        s.recv(100)
        s.close()


class fin_ack_merged(Case):
    """The app closes right after reading EOF: its FIN acknowledges the peer's FIN (FIN-ACK merged or not, folded)."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.shutdown(SHUT_WR)
        c.recv_all()
        c.close()

    def app(self):
        s = client()
        s.recv(100)
        s.close()


class simultaneous_close(Case):
    """Both sides shutdown(SHUT_WR) and their FINs cross: the app's FIN is held at the peer until the peer's FIN
    has reached the app in FIN-WAIT-1, which acknowledges it (CLOSING, RFC 9293 3.6 figure 13), then
    retransmits its own FIN; both ends go to TIME-WAIT. (Sending both FINs "at the same moment"
    would leave which goes first to scheduling.)"""
    def peer(self):
        peer_slow_retransmits()
        l = listener(PEER)
        ready()
        c = l.accept()
        peer_hold_app_segments()
        signal_peer("held")
        wait_held(fins=1)           # the app's FIN was sent (and dropped)
        c.shutdown(SHUT_WR)
        wait_held(fins=1, others=1)  # the app acknowledged our FIN (dropped too)
        peer_release_app_segments()
        c.recv(100)                  # the app's FIN, retransmitted
        c.close()

    def app(self):
        s = client()
        wait_for("held")
        s.shutdown(SHUT_WR)
        s.recv(100)
        s.close()


class half_close_app(Case):
    """shutdown(SHUT_WR) by the app while the peer keeps sending: the app still reads everything."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.recv_all()
        for i in range(5):
            c.send(b"x" * 1000)
            sleep(0.05)
        c.close()

    def app(self):
        s = client()
        s.send(b"request")
        s.shutdown(SHUT_WR)
        s.send(b"more")
        s.recv_all()
        s.close()


class half_close_peer(Case):
    """The peer half-closes after its request; the app reads EOF and can still send the reply."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.send(b"request")
        c.shutdown(SHUT_WR)
        c.recv_all()
        c.close()

    def app(self):
        s = client()
        s.recv(100)
        s.recv(100)
        s.send(b"reply" * 100)
        s.close()


class shut_rd(Case):
    """shutdown(SHUT_RD): later reads return 0 at once; nothing is sent on the wire for it."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        wait_for("shut")
        c.send(b"late data")
        wait_acked(c)
        signal_peer("sent")
        c.recv_all()

    def app(self):
        s = client()
        s.shutdown(SHUT_RD)
        s.recv(100)
        signal_peer("shut")
        wait_for("sent")
        s.send(b"still writing")
        app_wait_acked(s)
        s.close()


class shut_rdwr(Case):
    """shutdown(SHUT_RDWR): FIN goes out, reads return 0, writes fail EPIPE; once the peer closed too, a second
    shutdown() is ENOTCONN (the socket is CLOSED for Linux, its TIME-WAIT lives apart)."""
    def peer(self):
        serve_until_eof()

    def app(self):
        s = client()
        s.shutdown(SHUT_RDWR)
        s.recv(100)
        s.send(b"x", MSG_NOSIGNAL)
        wait_for("closed")
        s.shutdown(SHUT_RDWR)
        s.close()


class close_unread_data(Case):
    """close() with unread received data sends RST instead of FIN (RFC 2525 2.17); the peer's read gets ECONNRESET."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.send(b"unread")
        wait_acked(c)
        signal_peer("sent")
        wait_for("closed")
        wait_readable(c)
        c.recv(100)
        c.send(b"x")

    def app(self):
        s = client()
        wait_for("sent")
        s.fionread()
        s.close()
        signal_peer("closed")


class linger_zero(Case):
    """SO_LINGER {1, 0} then close(): an abortive close, RST at once, no TIME-WAIT."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.recv(100)
        c.recv(100)

    def app(self):
        s = client()
        s.send(b"abort")
        app_wait_acked(s)
        s.linger(1, 0)
        s.close()


class linger_positive(Case):
    """SO_LINGER {1, 2} with a peer that stays: close() returns once the FIN is acknowledged (does not block 2 s)."""
    def peer(self):
        serve_until_eof()

    def app(self):
        s = client()
        s.send(b"data" * 100)
        s.linger(1, 2)
        s.close()


class linger_positive_silent_peer(Case):
    """SO_LINGER {1, 1} and a peer gone silent with data unacknowledged: close() blocks about 1 s."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        peer_go_silent()
        signal_peer("silent")
        sleep(2)

    def app(self):
        s = client()
        wait_for("silent")
        s.send(b"lost" * 100)
        s.linger(1, 1)
        s.close()


class close_listener_with_pending(Case):
    """Closing a listener with a connection not yet accepted resets that connection."""
    def peer(self):
        ready()
        wait_for("listening")
        s = Sock("p")
        s.connect(APP)
        signal_peer("connected")
        wait_for("closed")
        wait_readable(s)
        s.recv(100)

    def app(self):
        l = listener(APP)
        signal_peer("listening")
        wait_for("connected")
        sleep(0.1)  # the handshake's last ACK reaches the app's stack (the peer cannot tell when)
        l.close()
        signal_peer("closed")


class peer_reset_then_close(Case):
    """The peer resets (linger 0); the app's close() afterwards succeeds and sends nothing."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        wait_for("connected")
        c.linger(1, 0)
        c.close()
        signal_peer("reset")

    def app(self):
        s = client()
        signal_peer("connected")
        wait_for("reset")
        app_wait_reset(s)
        s.close()


class fin_wait_2_timeout(Case):
    """The app closes, the peer never does: the orphaned FIN-WAIT-2 ends after tcp_fin_timeout (2 s here); the peer's late data is answered with RST."""
    SYSCTL = {"net.ipv4.tcp_fin_timeout": 2}
    TIMEOUT = 12

    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.recv(100)
        sleep(3.5)
        c.send(b"late")
        wait_closed(c)
        c.recv(100)

    def app(self):
        s = client()
        s.close()
