"""timewait.py - TIME-WAIT and binding the same port again (RFC 9293 3.6.1, 3.10.7.4; RFC 1122 4.2.2.13)."""
from compat import *


def peer_closes_after_eof(again=False):
    """Accept, read to EOF, close; say "closed" once the app's stack acknowledged that FIN
    (the app's end is then in TIME-WAIT). AGAIN: serve a second connection the same way."""
    l = listener(PEER)
    ready()
    c = l.accept()
    c.recv_all()
    close_after_ack(c)
    signal_peer("closed")
    if again:
        # bounded: a stack that refuses the second connect() must not leave the peer hanging
        if wait_readable(l, 3):
            c2 = l.accept("c2")
            c2.recv_all()
            c2.close()
        else:
            note("no second connection within 3 s")
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
        wait_for("closed")
        s2 = Sock("s2")
        s2.bind(APP, PORT + 5)
        signal_peer("done")


class rebind_client_port_reuseaddr(Case):
    """The same with SO_REUSEADDR on the new socket: bind() succeeds, and Linux lets connect() to the same peer reuse the TIME-WAIT pair."""
    def peer(self):
        peer_closes_after_eof(again=True)

    def app(self):
        s = Sock()
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s.bind(APP, PORT + 5)
        s.connect(PEER)
        s.close()
        wait_for("closed")
        s2 = Sock("s2")
        s2.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s2.bind(APP, PORT + 5)
        s2.connect(PEER)
        s2.close()
        signal_peer("done")


def peer_served_once():
    """Connect to the app's listener, read to EOF, close; say "closed" once the app's stack
    acknowledged that FIN (the app's end is then in TIME-WAIT)."""
    ready()
    wait_for("listening")
    s = Sock("p")
    s.connect(APP)
    s.recv_all()
    close_after_ack(s)
    signal_peer("closed")
    wait_for("done")


class relisten_after_active_close(Case):
    """A server without SO_REUSEADDR closed first (its connection in TIME-WAIT): a new listener on the port
    gets EADDRINUSE, with SO_REUSEADDR too: Linux lets a bind() share the port with a TIME-WAIT
    connection only when both set SO_REUSEADDR, and the old one inherited none from its listener."""
    def peer(self):
        peer_served_once()

    def app(self):
        l = Sock("l")
        l.bind(APP, PORT)
        l.listen(4)
        signal_peer("listening")
        c = l.accept()
        c.send(b"served")
        c.close()
        l.close()
        wait_for("closed")
        l2 = Sock("l2")
        l2.bind(APP, PORT)
        l2.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        l2.bind(APP, PORT)
        l2.listen(4)
        signal_peer("done")


class relisten_after_active_close_reuseaddr(Case):
    """The same server with SO_REUSEADDR on its first listener: the new listener's bind() fails without
    SO_REUSEADDR and succeeds with it (both ends of the port sharing set it)."""
    def peer(self):
        peer_served_once()

    def app(self):
        l = listener(APP, backlog=4)
        signal_peer("listening")
        c = l.accept()
        c.send(b"served")
        c.close()
        l.close()
        wait_for("closed")
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
        close_after_ack(s)
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
