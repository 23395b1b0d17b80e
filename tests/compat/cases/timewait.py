"""timewait.py - TIME-WAIT and binding the same port again (RFC 9293 3.6.1, 3.10.7.4; RFC 1122 4.2.2.13)."""
from compat import *


def peer_closes_after_eof():
    l = listener(PEER)
    ready()
    c = l.accept()
    c.recv_all()
    c.close()
    wait_for("done")


class rebind_client_port(Case):
    """The app closed first from a bound port (its end is in TIME-WAIT): bind() to that port again is EADDRINUSE."""
    def peer(self):
        peer_closes_after_eof()

    def app(self):
        s = Sock()
        s.bind(APP, PORT + 5)
        s.connect(PEER)
        s.close()
        sleep(0.3)
        s2 = Sock("s2")
        s2.bind(APP, PORT + 5)
        signal_peer("done")


class rebind_client_port_reuseaddr(Case):
    """The same with SO_REUSEADDR on the new socket: bind() succeeds, and Linux lets connect() to the same peer reuse the TIME-WAIT pair."""
    def peer(self):
        peer_closes_after_eof()

    def app(self):
        s = Sock()
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s.bind(APP, PORT + 5)
        s.connect(PEER)
        s.close()
        sleep(0.3)
        s2 = Sock("s2")
        s2.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s2.bind(APP, PORT + 5)
        s2.connect(PEER)
        signal_peer("done")


class relisten_after_active_close(Case):
    """A server that closed first (its connection in TIME-WAIT): a new listener on the port needs SO_REUSEADDR."""
    def peer(self):
        ready()
        wait_for("listening")
        s = Sock("p")
        s.connect(APP)
        s.recv_all()
        s.close()
        wait_for("done")

    def app(self):
        l = Sock("l")
        l.bind(APP, PORT)
        l.listen(4)
        signal_peer("listening")
        c = l.accept()
        c.send(b"served")
        c.close()
        l.close()
        sleep(0.3)
        l2 = Sock("l2")
        l2.bind(APP, PORT)
        l2.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        l2.bind(APP, PORT)
        l2.listen(4)
        signal_peer("done")


class passive_close_no_timewait(Case):
    """The peer closed first: the app's end goes through LAST-ACK to CLOSED, its port is free at once."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.close()
        wait_for("done")

    def app(self):
        s = Sock()
        s.bind(APP, PORT + 5)
        s.connect(PEER)
        s.recv(10)
        s.close()
        sleep(0.3)
        s2 = Sock("s2")
        s2.bind(APP, PORT + 5)
        signal_peer("done")


class timewait_answers_fin(Case):
    """In TIME-WAIT the app's end acknowledges each retransmitted FIN (its ACKs are lost on the way, for 0.5 s)."""
    LINGER = 1.5

    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        peer_drop_pure_acks()
        c.recv_all()
        c.close()
        sleep(0.5)
        peer_accept_pure_acks()

    def app(self):
        s = client()
        s.close()
        # the app side cannot see TIME-WAIT; the wire shows the FIN answered


class timewait_new_syn(Case):
    """A new connection from the peer's same port to the app's listener while the old one is in TIME-WAIT on the app: accepted (higher ISN, RFC 6191)."""
    def peer(self):
        ready()
        wait_for("listening")
        s = Sock("p")
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s.bind(PEER, PORT + 3)
        s.connect(APP)
        s.recv_all()
        s.close()
        sleep(0.3)
        s2 = Sock("p2")
        s2.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s2.bind(PEER, PORT + 3)
        s2.connect(APP)
        s2.recv(100)
        s2.close()

    def app(self):
        l = listener(APP)
        signal_peer("listening")
        c = l.accept()
        c.close()
        c2 = l.accept("c2")
        if c2:
            c2.send(b"second")
            c2.recv(100)
            c2.close()
