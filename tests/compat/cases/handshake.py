"""handshake.py - opening connections: active, passive, simultaneous, refused, timeouts (RFC 9293 3.5, 3.10.7.3)."""
from compat import *


class active_open(Case):
    """connect() to a listening peer: SYN, SYN-ACK, ACK; both sides see the right addresses."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.getpeername()
        c.recv_all()

    def app(self):
        s = Sock()
        s.connect(PEER)
        s.getsockname()
        s.getpeername()
        s.close()


class passive_open(Case):
    """The app listens and accepts the peer's connection; the SYN-ACK carries the usual options."""
    def peer(self):
        ready()
        wait_for("listening")
        s = Sock()
        s.connect(APP)
        s.recv_all()

    def app(self):
        l = listener(APP)
        signal_peer("listening")
        c = l.accept()
        c.getsockname()
        c.getpeername()
        c.close()


class connect_refused(Case):
    """connect() to a port nobody listens on: the peer answers RST, connect fails ECONNREFUSED."""
    def app(self):
        s = Sock()
        s.connect(PEER, PORT + 1)
        s.so_error()
        s.getpeername()

    def peer(self):
        ready()
