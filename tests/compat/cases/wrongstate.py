"""wrongstate.py - the errno of calls made in the wrong state (POSIX and Linux man pages: accept(2), listen(2), connect(2), send(2))."""
import os
from compat import *


def nothing():
    ready()


class accept_not_listening(Case):
    """accept() on a socket that is not listening: EINVAL."""
    def app(self):
        s = Sock()
        s.accept()
        s.bind(APP, PORT)
        s.accept()

    def peer(self):
        nothing()


class accept_on_connected(Case):
    """accept() on a connected socket: EINVAL."""
    def peer(self):
        accept_and_drain()

    def app(self):
        s = client()
        s.accept()
        s.close()


class listen_on_connected(Case):
    """listen() on a connected socket: EINVAL."""
    def peer(self):
        accept_and_drain()

    def app(self):
        s = client()
        s.listen(4)
        s.close()


class listen_unbound(Case):
    """listen() without bind(): the stack picks an ephemeral port."""
    def app(self):
        s = Sock()
        s.listen(4)
        s.getsockname()

    def peer(self):
        nothing()


class listen_twice(Case):
    """listen() twice: the second is fine (it only changes the backlog)."""
    def app(self):
        l = listener(APP)
        l.listen(8)

    def peer(self):
        nothing()


class connect_on_listening(Case):
    """connect() on a listening socket: EISCONN."""
    def app(self):
        l = listener(APP)
        l.connect(PEER)

    def peer(self):
        nothing()


class connect_connected(Case):
    """connect() again on a connected socket: EISCONN."""
    def peer(self):
        accept_and_drain()

    def app(self):
        s = client()
        s.connect(PEER)
        s.close()


class bind_twice(Case):
    """bind() on a bound socket: EINVAL."""
    def app(self):
        s = Sock()
        s.bind(APP, PORT)
        s.bind(APP, PORT + 1)

    def peer(self):
        nothing()


class bind_after_connect(Case):
    """bind() on a connected socket: EINVAL."""
    def peer(self):
        accept_and_drain()

    def app(self):
        s = client()
        s.bind(APP, PORT + 1)
        s.close()


class bind_foreign_address(Case):
    """bind() to an address the host does not have: EADDRNOTAVAIL."""
    def app(self):
        s = Sock()
        s.bind("10.77.90.99", PORT)

    def peer(self):
        nothing()


class send_unconnected(Case):
    """send() on a socket never connected: EPIPE (Linux), and SIGPIPE."""
    def app(self):
        catch_sigpipe()
        s = Sock()
        s.send(b"x")

    def peer(self):
        nothing()


class recv_unconnected(Case):
    """recv() on a socket never connected: ENOTCONN."""
    def app(self):
        s = Sock()
        s.recv(10)

    def peer(self):
        nothing()


class recv_on_listener(Case):
    """recv() on a listening socket: ENOTCONN."""
    def app(self):
        l = listener(APP)
        l.recv(10)

    def peer(self):
        nothing()


class shutdown_unconnected(Case):
    """shutdown() on a socket never connected: ENOTCONN."""
    def app(self):
        s = Sock()
        s.shutdown(SHUT_WR)
        s.shutdown(SHUT_RDWR)

    def peer(self):
        nothing()


class shutdown_bad_how(Case):
    """shutdown() with an invalid how: EINVAL."""
    def peer(self):
        accept_and_drain()

    def app(self):
        s = client()
        s.shutdown(7)
        s.close()


class sockopt_basics(Case):
    """SO_TYPE, SO_ACCEPTCONN, SO_ERROR on fresh and listening sockets; an unknown TCP option is ENOPROTOOPT."""
    def app(self):
        s = Sock()
        s.getsockopt(SOL_SOCKET, SO_TYPE)
        s.getsockopt(SOL_SOCKET, SO_ACCEPTCONN)
        s.so_error()
        s.listen(4)
        s.getsockopt(SOL_SOCKET, SO_ACCEPTCONN)
        s.getsockopt(IPPROTO_TCP, 9999)
        s.setsockopt(IPPROTO_TCP, 9999, 1)

    def peer(self):
        nothing()


class keepalive_options(Case):
    """Keepalive options read back as set; TCP_KEEPIDLE 0 is EINVAL."""
    def app(self):
        s = Sock()
        s.keepalive(30, 5, 3)
        s.getsockopt(SOL_SOCKET, SO_KEEPALIVE)
        s.getsockopt(IPPROTO_TCP, TCP_KEEPIDLE)
        s.getsockopt(IPPROTO_TCP, TCP_KEEPINTVL)
        s.getsockopt(IPPROTO_TCP, TCP_KEEPCNT)
        s.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, 0)

    def peer(self):
        nothing()


class use_after_close(Case):
    """Calls on a closed socket: EBADF."""
    def app(self):
        s = Sock()
        fd = s.fileno()
        s.close()
        call("write", os.write, fd, b"x", args_text="closed fd")

    def peer(self):
        nothing()
