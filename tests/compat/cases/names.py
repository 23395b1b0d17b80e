"""names.py - getsockname and getpeername in every state (POSIX getsockname(2), getpeername(2); RFC 9293 3.3.2 states)."""
from compat import *


class fresh_socket(Case):
    """A new socket is named 0.0.0.0:0 and has no peer (ENOTCONN)."""
    def app(self):
        s = Sock()
        s.getsockname()
        s.getpeername()

    def peer(self):
        ready()


class bound_socket(Case):
    """After bind(): the bound name; still no peer."""
    def app(self):
        s = Sock()
        s.bind(APP, PORT)
        s.getsockname()
        s.getpeername()

    def peer(self):
        ready()


class bound_ephemeral(Case):
    """bind() to port 0 picks an ephemeral port (32768-60999)."""
    def app(self):
        s = Sock()
        s.bind(APP, 0)
        s.getsockname()

    def peer(self):
        ready()


class listening_socket(Case):
    """A listener: its name, and getpeername() ENOTCONN."""
    def app(self):
        l = listener("0.0.0.0")
        l.getsockname()
        l.getpeername()

    def peer(self):
        ready()


class connected_socket(Case):
    """A connected socket: local address chosen by the stack, the peer's address."""
    def peer(self):
        accept_and_drain()

    def app(self):
        s = client()
        s.getsockname()
        s.getpeername()
        s.close()


class after_peer_fin(Case):
    """In CLOSE-WAIT (the peer closed): the names stay."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.close()
        sleep(0.5)

    def app(self):
        s = client()
        s.recv(10)
        s.getsockname()
        s.getpeername()
        s.close()


class after_shutdown_wr(Case):
    """After shutdown(SHUT_WR) (FIN-WAIT-2): the names stay."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.recv_all()
        wait_for("done")

    def app(self):
        s = client()
        s.shutdown(SHUT_WR)
        sleep(0.2)
        s.getsockname()
        s.getpeername()
        signal_peer("done")


class after_both_closed(Case):
    """Both sides shut down, the app's end in TIME-WAIT but the socket still open: the socket itself is CLOSED for
    Linux (the TIME-WAIT lives apart from it), so getpeername() is ENOTCONN; getsockname() keeps the address."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.recv_all()
        c.close()

    def app(self):
        s = client()
        s.shutdown(SHUT_WR)
        s.recv(10)
        sleep(0.2)
        s.getsockname()
        s.getpeername()


class after_reset(Case):
    """After the peer reset the connection: getpeername() ENOTCONN, getsockname() keeps the address."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        wait_for("connected")  # a reset before connect() returned would make connect() fail
        c.linger(1, 0)
        c.close()

    def app(self):
        s = client()
        signal_peer("connected")
        s.recv(10)
        s.getsockname()
        s.getpeername()


class after_refused(Case):
    """After connect() was refused: no peer."""
    def app(self):
        s = Sock()
        s.connect(PEER, PORT + 1)
        s.getsockname()
        s.getpeername()

    def peer(self):
        ready()


class accepted_socket(Case):
    """An accepted socket: the app's address and the peer's, while the peer's socket mirrors them."""
    def peer(self):
        ready()
        wait_for("listening")
        s = Sock("p")
        s.bind(PEER, PORT + 2)
        s.connect(APP)
        s.getsockname()
        s.getpeername()
        s.recv_all()

    def app(self):
        l = listener(APP)
        signal_peer("listening")
        c = l.accept()
        c.getsockname()
        c.getpeername()
        c.close()
