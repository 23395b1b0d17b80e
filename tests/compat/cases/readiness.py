"""readiness.py - epoll, poll and select at each stage of a connection's life (epoll(7), poll(2), select(2); RFC 9293 states)."""
import select
from select import EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLET, EPOLLERR, EPOLLHUP
from compat import *

ALL = EPOLLIN | EPOLLOUT | EPOLLRDHUP


def peer_script(steps):
    """The peer accepts, then for each step waits for the app's signal and does it. A step is
    done for the app once the app's stack has acknowledged what the step sent (data, FIN), and
    a little later (the readiness reaches the program); a reset is not acknowledged: it gets
    a fixed pause. At the end the peer reads to the app's EOF and closes, so the close is
    always the app's first (the app ends after "end"), never a race between the two exits."""
    l = listener(PEER)
    ready()
    c = l.accept()
    for name, act in steps:
        wait_for(name)
        act(c)
        if c.fileno() == -1 or not wait_acked(c):
            sleep(0.2)
        signal_peer(name + "_done")
    wait_for("end")
    if c.fileno() != -1:
        c.recv_all()
        c.close()


def peer_resets_after_ping(c):
    """The peer's reset, once the app's "ping" (sent just before) has arrived: a stack may
    put a send() on the wire after the call returned (tapsock's engine does), and the
    reset must not overtake it."""
    wait_readable(c)
    c.linger(1, 0)
    c.close()


def step(name):
    signal_peer(name)
    wait_for(name + "_done")


class epoll_level_stages(Case):
    """Level-triggered epoll through a life: OUT when connected, IN|OUT with data, IN|OUT|RDHUP after the peer's FIN, ERR|HUP after its RST."""
    def peer(self):
        peer_script([("data", lambda c: c.send(b"abc")),
                     ("fin", lambda c: c.shutdown(SHUT_WR)),
                     ("rst", peer_resets_after_ping)])

    def app(self):
        s = client()
        e = Epoll()
        e.add(s, ALL)
        e.wait(0)
        step("data")
        e.wait(0)
        e.wait(0)
        step("fin")
        e.wait(0)
        s.send(b"ping")
        step("rst")
        app_wait_reset(s)
        e.wait(0)
        signal_peer("end")


class epoll_edge_triggered(Case):
    """Edge-triggered: one event per arrival, none while the data sits unread, a new one for new data."""
    def peer(self):
        peer_script([("d1", lambda c: c.send(b"one")), ("d2", lambda c: c.send(b"two"))])

    def app(self):
        s = client()
        e = Epoll()
        e.add(s, EPOLLIN | EPOLLET)
        e.wait(0)
        step("d1")
        e.wait(0)
        e.wait(0)
        step("d2")
        e.wait(0)
        s.recv(100)
        e.wait(0)
        signal_peer("end")


class epoll_edge_out(Case):
    """Edge-triggered EPOLLOUT is reported once after connecting, not again while nothing changes."""
    def peer(self):
        peer_script([])

    def app(self):
        s = client()
        e = Epoll()
        e.add(s, EPOLLOUT | EPOLLET)
        e.wait(0)
        e.wait(0)
        signal_peer("end")


class epoll_listener(Case):
    """A listener is readable (EPOLLIN) when a connection waits to be accepted, and not after accept()."""
    def peer(self):
        ready()
        wait_for("listening")
        s = Sock("p")
        s.connect(APP)
        signal_peer("connected")
        s.recv_all()

    def app(self):
        l = listener(APP)
        e = Epoll()
        e.add(l, EPOLLIN | EPOLLOUT)
        e.wait(0)
        signal_peer("listening")
        e.wait(3)
        c = l.accept()
        e.wait(0)
        c.close()


class epoll_nonblocking_connect(Case):
    """epoll on a non-blocking connect: nothing while SYN-SENT to a silent peer... then OUT once established."""
    def peer(self):
        l = listener(PEER)
        peer_drop_syns()
        ready()
        wait_for("sent")
        peer_accept_syns()
        c = l.accept()
        c.recv_all()

    def app(self):
        s = Sock()
        s.setblocking(False)
        s.connect(PEER)
        e = Epoll()
        e.add(s, ALL)
        e.wait(0.2)
        signal_peer("sent")
        e.wait(3, timed=False)  # as long as the peer takes to let SYNs in again
        s.so_error()
        s.close()


class epoll_refused(Case):
    """epoll on a non-blocking connect that is refused: OUT|ERR|HUP (and IN|RDHUP as Linux sets them)."""
    def peer(self):
        ready()

    def app(self):
        s = Sock()
        s.setblocking(False)
        s.connect(PEER, PORT + 1)
        e = Epoll()
        e.add(s, ALL)
        e.wait(3)
        s.so_error()
        e.wait(0)


class epoll_own_shutdown(Case):
    """After the app's shutdown(SHUT_WR): still OUT; after SHUT_RD as well: IN|RDHUP."""
    def peer(self):
        peer_script([])

    def app(self):
        s = client()
        e = Epoll()
        e.add(s, ALL)
        s.shutdown(SHUT_WR)
        sleep(0.2)
        e.wait(0)
        s.shutdown(SHUT_RD)
        e.wait(0)
        signal_peer("end")


class epoll_both_closed(Case):
    """Both directions closed (own FIN acknowledged, peer's FIN read): IN|OUT|RDHUP|HUP."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.recv_all()
        close_after_ack(c)
        signal_peer("closed")
        wait_for("end")

    def app(self):
        s = client()
        e = Epoll()
        e.add(s, ALL)
        s.shutdown(SHUT_WR)
        wait_for("closed")
        e.wait(0)
        s.recv(10)
        e.wait(0)
        signal_peer("end")


class epoll_oneshot(Case):
    """EPOLLONESHOT: one event, then nothing until re-armed with EPOLL_CTL_MOD."""
    def peer(self):
        peer_script([("d1", lambda c: c.send(b"x"))])

    def app(self):
        s = client()
        e = Epoll()
        e.add(s, EPOLLIN | select.EPOLLONESHOT)
        step("d1")
        e.wait(0)
        e.wait(0)
        e.mod(s, EPOLLIN | select.EPOLLONESHOT)
        e.wait(0)
        signal_peer("end")


class epoll_fresh_socket(Case):
    """A socket neither bound nor connected: epoll says OUT|HUP (Linux)."""
    def app(self):
        s = Sock()
        e = Epoll()
        e.add(s, ALL)
        e.wait(0)

    def peer(self):
        ready()


class poll_stages(Case):
    """poll() at each stage: connected, data, the peer's FIN, the peer's RST."""
    def peer(self):
        peer_script([("data", lambda c: c.send(b"abc")),
                     ("fin", lambda c: c.shutdown(SHUT_WR)),
                     ("rst", peer_resets_after_ping)])

    def app(self):
        s = client()
        poll([s], 0)
        step("data")
        poll([s], 0)
        step("fin")
        poll([s], 0)
        s.send(b"ping")
        step("rst")
        app_wait_reset(s)
        poll([s], 0)
        signal_peer("end")


class poll_fresh_and_listening(Case):
    """poll() on a fresh socket (OUT|HUP) and an idle listener (nothing)."""
    def app(self):
        s = Sock()
        poll([s], 0)
        l = listener(APP)
        poll([l], 0)

    def peer(self):
        ready()


class poll_blocks_until_data(Case):
    """poll() with a timeout blocks until the peer sends (about 0.3 s), then reports IN."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        sleep(0.3)
        c.send(b"wake")
        c.recv_all()

    def app(self):
        s = client()
        poll([s], 3000, select.POLLIN)
        s.recv(10)
        s.close()


class poll_timeout(Case):
    """poll() with nothing to report returns empty after its timeout."""
    def peer(self):
        accept_and_drain()

    def app(self):
        s = client()
        poll([s], 300, select.POLLIN)
        s.close()


class select_stages(Case):
    """select() at each stage: writable when connected, readable with data and after FIN, both with an exception-free set after RST."""
    def peer(self):
        peer_script([("data", lambda c: c.send(b"abc")),
                     ("fin", lambda c: c.shutdown(SHUT_WR)),
                     ("rst", peer_resets_after_ping)])

    def app(self):
        s = client()
        select_([s], [s], [s], 0)
        step("data")
        select_([s], [s], [s], 0)
        step("fin")
        select_([s], [s], [s], 0)
        s.send(b"ping")
        step("rst")
        app_wait_reset(s)
        select_([s], [s], [s], 0)
        signal_peer("end")


class select_listener(Case):
    """select() on a listener: readable when a connection is pending."""
    def peer(self):
        ready()
        wait_for("listening")
        s = Sock("p")
        s.connect(APP)
        s.recv_all()

    def app(self):
        l = listener(APP)
        select_([l], [l], [], 0)
        signal_peer("listening")
        select_([l], [], [], 3)
        c = l.accept()
        c.close()


class select_nonblocking_connect(Case):
    """select() for writability on a non-blocking connect, refused: writable, SO_ERROR ECONNREFUSED."""
    def peer(self):
        ready()

    def app(self):
        s = Sock()
        s.setblocking(False)
        s.connect(PEER, PORT + 1)
        select_([], [s], [], 3)
        s.so_error()


class epoll_rdhup_only(Case):
    """Waiting for EPOLLRDHUP alone: reported when the peer half-closes, while data is still unread too."""
    def peer(self):
        peer_script([("fin", lambda c: (c.send(b"last words"), c.shutdown(SHUT_WR)))])

    def app(self):
        s = client()
        e = Epoll()
        e.add(s, EPOLLRDHUP)
        e.wait(0)
        step("fin")
        e.wait(0)
        s.recv(100)
        s.recv(100)
        e.wait(0)
        signal_peer("end")
