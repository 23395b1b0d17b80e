"""handshake.py - opening connections: active, passive, simultaneous, refused, timeouts (RFC 9293 3.5, 3.10.7.3)."""
import select
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


class simultaneous_open(Case):
    """The app's SYN is lost, and the peer's SYN reaches the app in SYN-SENT: the app answers
    SYN-ACK (SYN-SENT -> SYN-RECEIVED -> ESTABLISHED, RFC 9293 3.5 figure 7 from the app's side)."""
    def peer(self):
        s = Sock()
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s.bind(PEER, PORT + 1)
        peer_drop_syns()
        ready()
        wait_for("syn_sent")
        sleep(0.1)
        peer_accept_syns()
        s.connect(APP, PORT)
        s.send(b"from peer")
        s.recv(100)
        s.close()

    def app(self):
        s = Sock()
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s.bind(APP, PORT)
        s.setblocking(False)
        s.connect(PEER, PORT + 1)
        signal_peer("syn_sent")
        poll([s], 3000, select.POLLOUT, timed=False)  # as long as the peer takes to send its SYN
        s.so_error()
        s.setblocking(True)
        s.recv(100)
        s.send(b"from app")
        s.getpeername()
        s.recv(100)
        s.close()


class listen_backlog_full(Case):
    """listen(1) and no accept(): the third connection's SYN is dropped, the connect retries.
    Linux keeps backlog+1 connections ready; later SYNs wait for room. Then the app accepts one,
    closes the listener (the other waiting connection is reset) and the accepted one (FIN)."""
    TIMEOUT = 12

    def peer(self):
        ready()
        wait_for("listening")
        socks = []
        for i in range(3):
            s = Sock("p%d" % i)
            s.setblocking(False)
            s.connect_ex(APP, PORT)
            socks.append(s)
            sleep(0.2)
        sleep(1.5)
        poll(socks, 0, select.POLLOUT)
        signal_peer("polled")
        # the app closes the listener, then the accepted connection: the peer sees the
        # reset, then reads the EOF and closes; the SYN-SENT one is dropped unanswered
        p0, p1, p2 = socks
        wait_readable(p1)
        p1.recv(100)
        p0.setblocking(True)
        p0.recv_all()
        p0.close()
        p2.close()
        wait_for("done")

    def app(self):
        l = listener(APP, backlog=1)
        signal_peer("listening")
        wait_for("polled")
        a = l.accept("a0")
        a.getpeername()
        l.close()
        a.close()
        signal_peer("done")


class connect_timeout(Case):
    """connect() to a silent peer with TCP_SYNCNT 1: SYN at 0 s and 1 s, ETIMEDOUT at 3 s."""
    WIRE_TIMES = True
    TIMEOUT = 10

    def peer(self):
        peer_go_silent()
        ready()

    def app(self):
        s = Sock()
        s.setsockopt(IPPROTO_TCP, TCP_SYNCNT, 1)
        s.connect(PEER)
        s.so_error()


class connect_sndtimeo(Case):
    """A blocking connect() to a silent peer under SO_SNDTIMEO 0.5 s gives up with EINPROGRESS."""
    def peer(self):
        peer_go_silent()
        ready()

    def app(self):
        s = Sock()
        s.timeo(SO_SNDTIMEO, 0.5)
        s.connect(PEER)


class nonblocking_connect(Case):
    """Non-blocking connect(): EINPROGRESS, then POLLOUT, SO_ERROR 0; the next connect() returns 0 (Linux
    completes the call then), the one after EISCONN."""
    def peer(self):
        accept_and_drain()

    def app(self):
        s = Sock()
        s.setblocking(False)
        s.connect(PEER)
        poll([s], 3000, select.POLLOUT)
        s.so_error()
        s.connect(PEER)
        s.connect(PEER)
        s.getpeername()
        s.close()


class nonblocking_connect_refused(Case):
    """Non-blocking connect() to a closed port: EINPROGRESS, then POLLOUT|ERR|HUP, SO_ERROR ECONNREFUSED once;
    connect() again on that socket: ECONNABORTED (Linux: the attempt is over, its error already taken)."""
    def peer(self):
        ready()

    def app(self):
        s = Sock()
        s.setblocking(False)
        s.connect(PEER, PORT + 1)
        sleep(0.3)
        poll([s], 3000)
        s.so_error()
        s.so_error()
        s.connect(PEER, PORT + 1)


class connect_again_while_pending(Case):
    """A second connect() while the first is in progress: EALREADY."""
    def peer(self):
        peer_go_silent()
        ready()

    def app(self):
        s = Sock()
        s.setblocking(False)
        s.connect(PEER)
        s.connect(PEER)
        s.getpeername()
        s.close()


class bind_in_use(Case):
    """bind() to a port a listening socket holds: EADDRINUSE, with or without SO_REUSEADDR."""
    def app(self):
        l = listener(APP)
        s = Sock("s2")
        s.bind(APP, PORT)
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s.bind(APP, PORT)
        s.bind(APP, 0)
        s.getsockname()

    def peer(self):
        ready()


class bind_wildcard_and_specific(Case):
    """A listener on 0.0.0.0 and a bind() to the same port on the specific address: EADDRINUSE."""
    def app(self):
        l = listener("0.0.0.0")
        l.getsockname()
        s = Sock("s2")
        s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
        s.bind(APP, PORT)

    def peer(self):
        ready()


class accept_wildcard_names(Case):
    """A listener on 0.0.0.0: the accepted socket is named by the address the peer reached."""
    def peer(self):
        ready()
        wait_for("listening")
        s = Sock("p")
        s.connect(APP)
        s.recv_all()

    def app(self):
        l = listener("0.0.0.0")
        signal_peer("listening")
        c = l.accept()
        c.getsockname()
        c.getpeername()
        c.close()
