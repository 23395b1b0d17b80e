"""data.py - moving bytes: flags, timeouts, queue sizes, zero window (RFC 9293 3.8.6, 3.9; RFC 1122 4.2.2.17)."""
import select
from compat import *


def peer_sends(data, then_close=True, wait=None):
    """Accept, (wait for the app's WAIT signal,) send DATA and say "sent" once the app's stack
    acknowledged it; then on "done" close and say "closed" once that FIN is acknowledged."""
    l = listener(PEER)
    ready()
    c = l.accept()
    if wait:
        wait_for(wait)
    c.send(data)
    wait_acked(c)
    signal_peer("sent")
    if then_close:
        wait_for("done")
        close_after_ack(c)
        signal_peer("closed")
    return c


class echo_small(Case):
    """A request and its echo: the bytes come back unchanged."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        d = c.recv(100)
        c.send(d or b"")
        c.recv_all()

    def app(self):
        s = client()
        s.send(b"ping 1234")
        s.recv(100)
        s.close()


class bulk_to_peer(Case):
    """4 MB from the app to the peer: every byte arrives, then FIN."""
    WIRE_DATA_LEN = False
    CALL_TIMES = False   # how long 4 MB take is speed

    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.recv_all()
        c.close()

    def app(self):
        s = client()
        s.sendall(b"z" * (4 << 20))
        s.close()


class bulk_from_peer(Case):
    """4 MB from the peer to the app: the app reads every byte before EOF."""
    WIRE_DATA_LEN = False
    CALL_TIMES = False   # how long 4 MB take is speed

    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.sendall(b"y" * (4 << 20))
        c.close()

    def app(self):
        s = client()
        s.recv_all()
        s.close()


class msg_peek(Case):
    """MSG_PEEK returns the data without consuming it; the next recv() returns it again."""
    def peer(self):
        peer_sends(b"peekaboo")

    def app(self):
        s = client()
        wait_for("sent")
        s.recv(4, MSG_PEEK)
        s.recv(100, MSG_PEEK)
        s.recv(100)
        signal_peer("done")
        s.recv(100, MSG_PEEK)
        s.recv(100)


class msg_waitall(Case):
    """MSG_WAITALL waits for the whole 3000 bytes the peer sends in three pieces."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        for i in range(3):
            sleep(0.15)
            c.send(b"w" * 1000)
        c.recv_all()

    def app(self):
        s = client()
        s.recv(3000, MSG_WAITALL)
        s.close()


class msg_waitall_eof(Case):
    """MSG_WAITALL cut short by EOF returns what arrived."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.send(b"short")
        sleep(0.2)
        c.close()

    def app(self):
        s = client()
        s.recv(1000, MSG_WAITALL)
        s.recv(1000, MSG_WAITALL)


class msg_dontwait(Case):
    """MSG_DONTWAIT on an empty blocking socket: EAGAIN at once; with data: the data."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        wait_for("tried")
        c.send(b"now")
        wait_acked(c)
        signal_peer("sent")
        c.recv_all()

    def app(self):
        s = client()
        s.recv(100, MSG_DONTWAIT)
        signal_peer("tried")
        wait_for("sent")
        s.recv(100, MSG_DONTWAIT)
        s.close()


class nonblocking_recv(Case):
    """A non-blocking socket: recv() EAGAIN, then data, then 0 at EOF."""
    def peer(self):
        peer_sends(b"data", wait="tried")

    def app(self):
        s = client()
        s.setblocking(False)
        s.recv(100)
        signal_peer("tried")
        wait_for("sent")
        s.recv(100)
        signal_peer("done")
        wait_for("closed")
        s.recv(100)


class read_write_calls(Case):
    """read() and write() on the socket behave as recv() and send()."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.send(c.recv(100) or b"")
        c.recv_all()

    def app(self):
        s = client()
        s.write(b"via write")
        s.read(100)
        s.close()


class recv_zero_length(Case):
    """recv() of 0 bytes returns 0 at once, data or not."""
    def peer(self):
        peer_sends(b"abc")

    def app(self):
        s = client()
        s.recv(0)
        wait_for("sent")
        s.recv(0)
        s.recv(100)
        signal_peer("done")
        s.recv(100)


class rcvtimeo(Case):
    """SO_RCVTIMEO 0.3 s: a recv() with nothing to read fails EAGAIN after about 0.3 s."""
    def peer(self):
        peer_sends(b"", then_close=True)

    def app(self):
        s = client()
        s.timeo(SO_RCVTIMEO, 0.3)
        s.recv(100)
        signal_peer("done")
        s.recv(100)


class sndtimeo(Case):
    """SO_SNDTIMEO 0.3 s and a peer that does not read: a large send() returns a partial count (or EAGAIN) after about 0.3 s.
    The app resets the connection before the peer closes. How many bytes fit before the peer's
    window closed is not compared (it follows the peer's memory accounting, and differs between
    two kernel runs)."""
    TIMEOUT = 15
    WIRE_DATA_LEN = False

    def peer(self):
        l = listener(PEER)
        l.setsockopt(SOL_SOCKET, SO_RCVBUF, 4096)
        ready()
        c = l.accept()
        wait_for("done")
        # close() may return before a stack's RST has left (tapsock's engine acts on the
        # close after the call returned): wait for the reset, this case is about the timeout
        wait_closed(c)
        c.close()

    def app(self):
        s = client()
        s.timeo(SO_SNDTIMEO, 0.3)
        s.send_until_blocked()
        s.setblocking(True)
        # partial or EAGAIN are the same outcome: whether some room had come free before the
        # timeout follows when the last ACKs arrived and how the stack counts its buffer
        def send_big():
            try:
                r = s.s.send(b"q" * 65536)
            except BlockingIOError:
                return "timed out (EAGAIN or partial)"
            return "timed out (EAGAIN or partial)" if 0 < r < 65536 else str(r)
        call("send_big", send_big, args_text="65536 after the buffer filled", fmt=str)
        s.linger(1, 0)
        s.close()
        signal_peer("done")


class fionread(Case):
    """FIONREAD tells how many bytes wait to be read: 0, then 11, then 0 again."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        wait_for("asked")
        c.send(b"eleven byte")
        wait_acked(c)
        signal_peer("sent")
        wait_for("done")

    def app(self):
        s = client()
        s.fionread()
        signal_peer("asked")
        wait_for("sent")
        s.fionread()
        s.recv(100)
        s.fionread()
        signal_peer("done")
        s.recv(100)


class siocoutq(Case):
    """SIOCOUTQ counts bytes sent but not acknowledged: 0 after the peer acknowledged, 1000 while the peer is silent."""
    def peer(self):
        l = listener(PEER)
        ready()
        c = l.accept()
        c.recv(2000)
        signal_peer("got")
        wait_for("silence")
        peer_go_silent()
        signal_peer("silent")
        sleep(1)

    def app(self):
        s = client()
        s.outq()
        s.send(b"a" * 1000)
        wait_for("got")
        app_wait_acked(s)
        s.outq()
        signal_peer("silence")
        wait_for("silent")
        s.send(b"b" * 1000)
        sleep(0.1)
        s.outq()
        s.linger(1, 0)
        s.close()


class zero_window(Case):
    """The peer stops reading: its window closes (win=0), the app probes; when it reads again the rest of 1 MB flows."""
    WIRE_DATA_LEN = False
    TIMEOUT = 20

    def peer(self):
        l = listener(PEER)
        l.setsockopt(SOL_SOCKET, SO_RCVBUF, 8192)
        ready()
        c = l.accept()
        sleep(1.5)
        c.recv_all()
        c.close()

    def app(self):
        s = client()
        s.sendall(b"z" * (1 << 20))
        s.close()


class send_buffer_full(Case):
    """A non-blocking socket to a peer that does not read: send() fills and then fails EAGAIN; POLLOUT is off until the peer reads;
    after close() every byte the app's send() accepted reaches the peer, then FIN.
    (How many bytes the send buffer took is the stack's sizing: the peer checks it got them all.)"""
    TIMEOUT = 15
    WIRE_DATA_LEN = False

    def peer(self):
        l = listener(PEER)
        l.setsockopt(SOL_SOCKET, SO_RCVBUF, 8192)
        ready()
        c = l.accept()
        sent = int(wait_for("full"))
        got = c.recv_all(count=False)
        note("received", ret="all the app sent" if len(got) == sent else
             "%d of the %d bytes the app sent" % (len(got), sent))
        c.close()

    def app(self):
        s = client()
        s.setblocking(False)
        n = s.send_until_blocked()
        poll([s], 0, select.POLLOUT)
        signal_peer("full", n)
        poll([s], 5000, select.POLLOUT)
        s.close()


class nodelay_small_writes(Case):
    """TCP_NODELAY: three small writes each go out at once, no waiting for ACKs."""
    def peer(self):
        accept_and_drain()

    def app(self):
        s = client()
        s.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        s.getsockopt(IPPROTO_TCP, TCP_NODELAY)
        for i in range(3):
            s.send(b"n%d" % i)
            sleep(0.05)
        s.close()
