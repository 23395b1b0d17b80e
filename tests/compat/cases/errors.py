"""errors.py - what a program sees when the connection breaks: EPIPE, SIGPIPE, ECONNRESET, keepalive, user timeout (RFC 9293 3.10.7.4, RFC 1122 4.2.3.6)."""
from compat import *


def peer_resets():
    """The peer's usual part: accept, then an abortive close (RST)."""
    l = listener(PEER)
    ready()
    c = l.accept()
    wait_for("go")
    c.linger(1, 0)
    c.close()
    signal_peer("reset")


class epipe_sigpipe(Case):
    """send() after the peer closed and reset: EPIPE, and SIGPIPE is delivered."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.close()

    def app(self):
        catch_sigpipe()
        s = client()
        s.recv(10)
        s.send(b"first")
        app_wait_reset(s)
        s.send(b"second")
        s.send(b"third")


class epipe_nosignal(Case):
    """The same with MSG_NOSIGNAL: EPIPE and no SIGPIPE."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.close()

    def app(self):
        catch_sigpipe()
        s = client()
        s.recv(10)
        s.send(b"first", MSG_NOSIGNAL)
        app_wait_reset(s)
        s.send(b"second", MSG_NOSIGNAL)


class epipe_after_shut_wr(Case):
    """send() after the app's own shutdown(SHUT_WR): EPIPE and SIGPIPE."""
    def peer(self):
        accept_and_drain()

    def app(self):
        catch_sigpipe()
        s = client()
        s.shutdown(SHUT_WR)
        s.send(b"x")
        s.close()


class econnreset_on_read(Case):
    """The peer resets while the app is blocked in recv(): ECONNRESET, then 0 on the next recv."""
    def peer(self):
        peer_resets()

    def app(self):
        s = client()
        signal_peer("go")
        s.recv(100)
        s.recv(100)
        s.so_error()
        s.close()


class econnreset_on_write(Case):
    """The peer has reset: the app's next send() fails ECONNRESET, the one after EPIPE."""
    def peer(self):
        peer_resets()

    def app(self):
        catch_sigpipe()
        s = client()
        signal_peer("go")
        wait_for("reset")
        app_wait_reset(s)
        s.send(b"x")
        s.send(b"y")

class so_error_after_reset(Case):
    """After a reset, SO_ERROR reports ECONNRESET once and is then cleared."""
    def peer(self):
        peer_resets()

    def app(self):
        s = client()
        signal_peer("go")
        wait_for("reset")
        app_wait_reset(s)
        s.so_error()
        s.so_error()
        s.recv(10)


class reset_with_unread_data(Case):
    """Data arrived, then a RST: recv() reports ECONNRESET (the unread data is discarded, as Linux does)."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        wait_for("connected")
        c.send(b"some data")
        wait_acked(c)
        c.linger(1, 0)
        c.close()
        signal_peer("reset")

    def app(self):
        s = client()
        signal_peer("connected")
        wait_for("reset")
        app_wait_reset(s)
        s.recv(100)
        s.recv(100)


class rst_to_data_after_close(Case):
    """The peer sends data to an app socket that has closed both ways: the app's stack answers RST."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.recv(100)
        sleep(0.2)
        c.send(b"anyone?")
        wait_closed(c)
        c.recv(100)
        c.send(b"again")

    def app(self):
        s = client()
        s.close()


class keepalive_dead_peer(Case):
    """SO_KEEPALIVE with idle 1 s, interval 1 s, count 2 and a silent peer: probes at 1, 2 s (and 3 s), recv() fails ETIMEDOUT."""
    WIRE_TIMES = True
    TIMEOUT = 12

    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        peer_go_silent()
        signal_peer("silent")
        sleep(6)

    def app(self):
        s = client()
        s.keepalive(1, 1, 2)
        wait_for("silent")
        s.recv(100)
        s.so_error()


class keepalive_alive_peer(Case):
    """Keepalive probes to a live peer are answered and the connection stays: recv() keeps waiting until data."""
    WIRE_TIMES = True

    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        sleep(2.5)
        c.send(b"still here")
        c.recv_all()

    def app(self):
        s = client()
        s.keepalive(1, 1, 2)
        s.recv(100)
        s.close()


class user_timeout(Case):
    """TCP_USER_TIMEOUT 1000 ms with unacknowledged data to a silent peer: the connection fails ETIMEDOUT after about 1 s."""
    TIMEOUT = 10

    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        peer_go_silent()
        signal_peer("silent")
        sleep(4)

    def app(self):
        s = client()
        s.setsockopt(IPPROTO_TCP, TCP_USER_TIMEOUT, 1000)
        wait_for("silent")
        s.send(b"into the void")
        s.recv(100)
