"""compat.py - what a compatibility case records: socket calls, their results, readiness (RFC 9293 3.10 for the calls).

A case is a class with an app() (the program under test: on the kernel, then on tapsock)
and a peer() (always on the kernel). Both use the wrappers below, which make the real
call and record one observation per call: its name, its arguments, its return value or
errno name, the bytes read, the readiness events, and how long it blocked. The runner
compares those records between the two stacks.

Run one side of one case:  python3 compat.py CASEFILE CASENAME app|peer
Environment (set by tools/compat/run): COMPAT_OUT (record file), COMPAT_SYNC (directory
for app/peer rendezvous), COMPAT_PORT (the case's first port), COMPAT_IFACE (the peer's
interface).
"""
import errno
import fcntl
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback
from socket import (AF_INET, SOCK_STREAM, SOL_SOCKET, IPPROTO_TCP, SHUT_RD, SHUT_WR,
                    SHUT_RDWR, MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL, MSG_NOSIGNAL,
                    SO_REUSEADDR, SO_KEEPALIVE, SO_LINGER, SO_ERROR, SO_RCVTIMEO,
                    SO_SNDTIMEO, SO_RCVBUF, SO_SNDBUF, SO_TYPE, SO_ACCEPTCONN, TCP_NODELAY)

APP = "10.77.90.2"     # the program under test (kernel veth end, or the tapsock engine)
PEER = "10.77.90.1"    # the peer, always the kernel
PORT = int(os.environ.get("COMPAT_PORT", "5000"))
IFACE = os.environ.get("COMPAT_IFACE", "cpeer")
SIOCOUTQ = 0x5411      # TIOCOUTQ
FIONREAD = 0x541B
TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_SYNCNT = 4, 5, 6, 7
TCP_USER_TIMEOUT = 18

_out = None
_t0 = time.monotonic()
_ROLE = "?"


def _emit(rec):
    global _out
    if _out is None:
        path = os.environ.get("COMPAT_OUT")
        _out = open(path, "a") if path else sys.stdout
    _out.write(json.dumps(rec) + "\n")
    _out.flush()


def note(what, **fields):
    """Record a free observation (a value the case computed, a signal seen)."""
    rec = {"call": what}
    rec.update(fields)
    _emit(rec)


def _port(p):
    # ephemeral ports are chosen at random by both stacks: compare the range, not the number
    if 32768 <= p <= 60999:
        return "eph"
    return str(p)


def fmt_addr(a):
    if isinstance(a, tuple) and len(a) >= 2:
        return "%s:%s" % (a[0], _port(a[1]))
    return repr(a)


def _fmt_data(b):
    if len(b) <= 24:
        return repr(bytes(b))
    return "%d bytes %r..%r" % (len(b), bytes(b[:6]), bytes(b[-6:]))


def _errname(e):
    return errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__


def call(name, fn, *args, args_text=None, fmt=None, timed=True):
    """Make one call, record `name(args) = result` or `= ERRNO` and the time it blocked.
    timed False: the time is recorded but not compared, where it only measures how soon the
    peer did its part (after its own pauses and nft changes), not the stack under test."""
    text = args_text if args_text is not None else ", ".join(repr(a) for a in args)
    _emit({"pending": "%s(%s)" % (name, text)})
    rec = {"call": name, "args": text}
    if not timed:
        rec["untimed"] = True
    t = time.monotonic()
    try:
        r = fn(*args)
    except OSError as e:
        rec.update(err=_errname(e), dt=round(time.monotonic() - t, 3))
        _emit(rec)
        return None
    rec.update(ret=fmt(r) if fmt else _fmt_ret(r), dt=round(time.monotonic() - t, 3))
    _emit(rec)
    return r


def _fmt_ret(r):
    if r is None:
        return "0"
    if isinstance(r, (bytes, bytearray)):
        return _fmt_data(r)
    if isinstance(r, tuple) and len(r) == 2 and isinstance(r[0], str):
        return fmt_addr(r)
    return repr(r)


class Sock:
    """A TCP socket whose every call is recorded. `name` labels it in the records."""

    def __init__(self, name="s", sock=None, family=AF_INET):
        self.name = name
        if sock is None:
            sock = call("%s=socket" % name, socket.socket, family, SOCK_STREAM,
                        args_text="AF_INET, SOCK_STREAM", fmt=lambda r: "ok")
        self.s = sock

    def fileno(self):
        return self.s.fileno() if self.s else -1

    def _c(self, what, fn, *args, args_text=None, fmt=None):
        return call("%s.%s" % (self.name, what), fn, *args, args_text=args_text, fmt=fmt)

    def bind(self, host=APP, port=PORT):
        return self._c("bind", self.s.bind, (host, port), args_text=fmt_addr((host, port)))

    def listen(self, backlog=16):
        return self._c("listen", self.s.listen, backlog)

    def connect(self, host=PEER, port=PORT):
        return self._c("connect", self.s.connect, (host, port), args_text=fmt_addr((host, port)))

    def connect_ex(self, host=PEER, port=PORT):
        """connect() that returns the errno name ('0' on success), as non-blocking code uses it."""
        def f(a):
            return errno.errorcode.get(self.s.connect_ex(a), "0")
        return self._c("connect", f, (host, port), args_text=fmt_addr((host, port)), fmt=str)

    def accept(self, name="c"):
        r = self._c("accept", self.s.accept, args_text="",
                    fmt=lambda r: "%s from %s" % (name, fmt_addr(r[1])))
        return Sock(name, r[0]) if r else None

    def send(self, data, flags=0):
        return self._c("send", self.s.send, data, flags,
                       args_text="%s, %s" % (_fmt_data(data), _flags(flags)))

    def sendall(self, data):
        return self._c("sendall", self.s.sendall, data, args_text=_fmt_data(data))

    def recv(self, n=65536, flags=0):
        return self._c("recv", self.s.recv, n, flags, args_text="%d, %s" % (n, _flags(flags)))

    def recv_all(self, limit=1 << 24, count=True):
        """Read until EOF (or an error); record only the total, the calls vary with timing.
        count False: not even the total (where it is the other stack's buffer size)."""
        total = bytearray()
        _emit({"pending": "%s.recv_all()" % self.name})
        t = time.monotonic()
        err = None
        while len(total) < limit:
            try:
                b = self.s.recv(65536)
            except OSError as e:
                err = _errname(e)
                break
            if not b:
                break
            total += b
        rec = {"call": "%s.recv_all" % self.name, "args": "",
               "ret": "%d bytes" % len(total) if count else "read",
               "dt": round(time.monotonic() - t, 3)}
        if err:
            rec["err"] = err
        _emit(rec)
        return bytes(total)

    def send_until_blocked(self, chunk=65536, limit=64 << 20):
        """Fill the send path on a non-blocking socket; record that it filled, not the amount."""
        n = 0
        _emit({"pending": "%s.send_until_blocked()" % self.name})
        err = None
        while n < limit:
            try:
                n += self.s.send(b"x" * chunk, MSG_DONTWAIT)
            except OSError as e:
                err = _errname(e)
                break
        _emit({"call": "%s.send_until_blocked" % self.name, "args": "",
               "ret": "filled" if err == "EAGAIN" else "stopped", "err": err})
        return n

    def shutdown(self, how):
        return self._c("shutdown", self.s.shutdown, how,
                       args_text={0: "SHUT_RD", 1: "SHUT_WR", 2: "SHUT_RDWR"}.get(how, str(how)))

    def close(self):
        r = self._c("close", self.s.close, args_text="")
        return r

    def setsockopt(self, level, opt, val):
        return self._c("setsockopt", self.s.setsockopt, level, opt, val,
                       args_text="%s, %r" % (_optname(level, opt), val))

    def getsockopt(self, level, opt, buflen=0):
        if buflen:
            return self._c("getsockopt", self.s.getsockopt, level, opt, buflen,
                           args_text=_optname(level, opt))
        return self._c("getsockopt", self.s.getsockopt, level, opt,
                       args_text=_optname(level, opt),
                       fmt=(lambda r: errno.errorcode.get(r, "0")) if opt == SO_ERROR and level == SOL_SOCKET else None)

    def so_error(self):
        return self.getsockopt(SOL_SOCKET, SO_ERROR)

    def linger(self, on, secs):
        return self._c("setsockopt", self.s.setsockopt, SOL_SOCKET, SO_LINGER,
                       struct.pack("ii", on, secs), args_text="SO_LINGER, {%d, %d}" % (on, secs))

    def timeo(self, opt, secs):
        tv = struct.pack("ll", int(secs), int((secs % 1) * 1e6))
        return self._c("setsockopt", self.s.setsockopt, SOL_SOCKET, opt, tv,
                       args_text="%s, %.3fs" % (_optname(SOL_SOCKET, opt), secs))

    def keepalive(self, idle, intvl, cnt):
        self.setsockopt(SOL_SOCKET, SO_KEEPALIVE, 1)
        self.setsockopt(IPPROTO_TCP, TCP_KEEPIDLE, idle)
        self.setsockopt(IPPROTO_TCP, TCP_KEEPINTVL, intvl)
        self.setsockopt(IPPROTO_TCP, TCP_KEEPCNT, cnt)

    def getsockname(self):
        return self._c("getsockname", self.s.getsockname, args_text="")

    def getpeername(self):
        return self._c("getpeername", self.s.getpeername, args_text="")

    def setblocking(self, on):
        # Python uses ioctl(FIONBIO) here, as many C programs do
        return self._c("setblocking", self.s.setblocking, on)

    def nonblock_fcntl(self):
        fd = self.s.fileno()
        fl = fcntl.fcntl(fd, fcntl.F_GETFL)
        return self._c("fcntl", fcntl.fcntl, fd, fcntl.F_SETFL, fl | os.O_NONBLOCK,
                       args_text="F_SETFL, O_NONBLOCK", fmt=lambda r: "ok" if r >= 0 else r)

    def ioctl_int(self, req, name):
        def f():
            buf = fcntl.ioctl(self.s.fileno(), req, b"\0\0\0\0")
            return struct.unpack("i", buf)[0]
        return self._c("ioctl", f, args_text=name)

    def fionread(self):
        return self.ioctl_int(FIONREAD, "FIONREAD")

    def outq(self):
        return self.ioctl_int(SIOCOUTQ, "SIOCOUTQ")

    def read(self, n=65536):
        return self._c("read", os.read, self.s.fileno(), n, args_text=str(n))

    def write(self, data):
        return self._c("write", os.write, self.s.fileno(), data, args_text=_fmt_data(data))


def _flags(f):
    names = [(MSG_PEEK, "MSG_PEEK"), (MSG_DONTWAIT, "MSG_DONTWAIT"), (MSG_WAITALL, "MSG_WAITALL"),
             (MSG_NOSIGNAL, "MSG_NOSIGNAL")]
    out = [n for v, n in names if f & v]
    return "|".join(out) if out else "0"


_OPTS = {(SOL_SOCKET, SO_REUSEADDR): "SO_REUSEADDR", (SOL_SOCKET, SO_KEEPALIVE): "SO_KEEPALIVE",
         (SOL_SOCKET, SO_LINGER): "SO_LINGER", (SOL_SOCKET, SO_ERROR): "SO_ERROR",
         (SOL_SOCKET, SO_RCVTIMEO): "SO_RCVTIMEO", (SOL_SOCKET, SO_SNDTIMEO): "SO_SNDTIMEO",
         (SOL_SOCKET, SO_RCVBUF): "SO_RCVBUF", (SOL_SOCKET, SO_SNDBUF): "SO_SNDBUF",
         (SOL_SOCKET, SO_TYPE): "SO_TYPE", (SOL_SOCKET, SO_ACCEPTCONN): "SO_ACCEPTCONN",
         (IPPROTO_TCP, TCP_NODELAY): "TCP_NODELAY", (IPPROTO_TCP, TCP_KEEPIDLE): "TCP_KEEPIDLE",
         (IPPROTO_TCP, TCP_KEEPINTVL): "TCP_KEEPINTVL", (IPPROTO_TCP, TCP_KEEPCNT): "TCP_KEEPCNT",
         (IPPROTO_TCP, TCP_SYNCNT): "TCP_SYNCNT", (IPPROTO_TCP, TCP_USER_TIMEOUT): "TCP_USER_TIMEOUT"}


def _optname(level, opt):
    return _OPTS.get((level, opt), "%d/%d" % (level, opt))


# ---- readiness ----

_EV = [(select.POLLIN, "IN"), (select.POLLPRI, "PRI"), (select.POLLOUT, "OUT"),
       (select.POLLERR, "ERR"), (select.POLLHUP, "HUP"), (0x2000, "RDHUP"),
       (select.POLLNVAL, "NVAL")]


def evnames(mask):
    out = [n for v, n in _EV if mask & v]
    return "|".join(out) if out else "0"


def _ready_text(pairs):
    return "{%s}" % ", ".join("%s: %s" % (n, evnames(m)) for n, m in sorted(pairs)) if pairs else "{}"


def poll(socks, timeout_ms, events=select.POLLIN | select.POLLOUT | 0x2000, timed=True):
    """poll() on Sock objects; records which are ready with which events."""
    p = select.poll()
    byfd = {}
    for s in socks:
        p.register(s.fileno(), events)
        byfd[s.fileno()] = s.name
    names = ",".join(s.name for s in socks)
    return call("poll", lambda: [(byfd[fd], m) for fd, m in p.poll(timeout_ms)],
                args_text="[%s] %s, %d" % (names, evnames(events), timeout_ms), fmt=_ready_text,
                timed=timed)


def select_(rs, ws, xs, timeout):
    names = lambda l: ",".join(s.name for s in l)
    def f():
        r, w, x = select.select(rs, ws, xs, timeout)
        return (names(r), names(w), names(x))
    return call("select", f, args_text="r=[%s] w=[%s] x=[%s], %s" % (names(rs), names(ws), names(xs), timeout),
                fmt=lambda r: "r=[%s] w=[%s] x=[%s]" % r)


class Epoll:
    """epoll, recorded: which socket and which events each epoll_wait returns."""

    def __init__(self):
        self.e = select.epoll()
        self.names = {}

    def add(self, s, events):
        self.names[s.fileno()] = s.name
        return call("epoll_ctl", self.e.register, s.fileno(), events,
                    args_text="ADD %s, %s" % (s.name, _epnames(events)))

    def mod(self, s, events):
        return call("epoll_ctl", self.e.modify, s.fileno(), events,
                    args_text="MOD %s, %s" % (s.name, _epnames(events)))

    def wait(self, timeout=0.0, timed=True):
        return call("epoll_wait", lambda: [(self.names.get(fd, fd), m) for fd, m in self.e.poll(timeout)],
                    args_text="%s" % timeout, timed=timed,
                    fmt=lambda r: "{%s}" % ", ".join("%s: %s" % (n, _epnames(m)) for n, m in sorted(r)))


def _epnames(mask):
    names = [(select.EPOLLIN, "IN"), (select.EPOLLOUT, "OUT"), (select.EPOLLERR, "ERR"),
             (select.EPOLLHUP, "HUP"), (select.EPOLLRDHUP, "RDHUP"), (select.EPOLLET, "ET"),
             (select.EPOLLONESHOT, "ONESHOT"), (select.EPOLLPRI, "PRI")]
    out = [n for v, n in names if mask & v]
    return "|".join(out) if out else "0"


# ---- app/peer rendezvous (files, not sockets: the sockets are what is tested) ----

def signal_peer(name, value=""):
    """Tell the other side NAME happened, optionally with a value (written whole, then renamed,
    so the other side never reads half of it)."""
    d = os.environ.get("COMPAT_SYNC", "/tmp")
    tmp = os.path.join(d, ".%s.%d" % (name, os.getpid()))
    with open(tmp, "w") as f:
        f.write(str(value))
    os.rename(tmp, os.path.join(d, name))


def wait_for(name, timeout=10.0):
    """Wait until the other side said NAME; returns the value it gave."""
    d = os.environ.get("COMPAT_SYNC", "/tmp")
    path = os.path.join(d, name)
    end = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > end:
            raise RuntimeError("the other side never said '%s'" % name)
        time.sleep(0.002)
    with open(path) as f:
        return f.read()


def wait_acked(s, timeout=5.0):
    """Wait (unrecorded) until everything sent on s, FIN included, is acknowledged: SIOCOUTQ
    counts write_seq - snd_una on Linux, and the FIN takes a sequence number. Used on the peer
    (always the kernel) to know the app's stack has what was sent before the app looks at its
    readiness, instead of sleeping a guessed time. Returns whether it was acknowledged in time."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            buf = fcntl.ioctl(s.fileno(), SIOCOUTQ, b"\0\0\0\0")
        except OSError:
            return False
        if struct.unpack("i", buf)[0] == 0:
            # a little more: a stack may send its ACK just before the program can see
            # what was acknowledged (tapsock's engine, then the shared readiness)
            time.sleep(0.05)
            return True
        try:  # a reset connection never gets its bytes acknowledged: stop waiting
            if getattr(s, "s", s).getsockopt(IPPROTO_TCP, 11, 1)[0] == 7:  # TCP_INFO tcpi_state, TCP_CLOSE
                return False
        except OSError:
            pass
        time.sleep(0.002)
    return False


def wait_readable(s, timeout=5.0):
    """Wait (unrecorded) until s is readable or has an error (data, FIN, RST, a pending
    connection). Peer side only: the peer is always the kernel, so this is synchronisation,
    not an observation."""
    try:
        r, _, _ = select.select([s.fileno()], [], [], timeout)
    except (OSError, ValueError):
        return False
    return bool(r)


def wait_closed(s, timeout=5.0):
    """Peer side: wait (unrecorded) until the kernel's TCP_INFO says the connection is CLOSED
    (a reset arrived), where readability cannot tell (unread data is readable too)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            if getattr(s, "s", s).getsockopt(IPPROTO_TCP, 11, 1)[0] == 7:
                return True
        except OSError:
            return False
        time.sleep(0.002)
    return False


def app_wait_reset(s, timeout=3.0):
    """App side: wait (unrecorded) until the app's stack has taken in the peer's reset: poll()
    asking for no event returns only on POLLERR or POLLHUP. It asks the stack under test (its
    poll); if that never reports the reset the wait ends after TIMEOUT and the difference shows
    in what follows. Instead of a guessed sleep, which a busy machine outlasts."""
    p = select.poll()
    p.register(s.fileno(), 0)
    try:
        p.poll(int(timeout * 1000))
    except OSError:
        pass


def close_after_ack(c, timeout=5.0):
    """Peer side: close, then return once the app's stack has acknowledged the FIN, so the
    next step can count on the app's end being in FIN-WAIT-2/TIME-WAIT or CLOSE-WAIT rather
    than guessing a delay. The FIN goes out by an unrecorded shutdown(SHUT_WR) (the socket
    stays open to ask SIOCOUTQ); the close() that follows is what the records show."""
    try:
        c.s.shutdown(SHUT_WR)
    except OSError:
        pass
    wait_acked(c, timeout)
    c.close()


def app_wait_acked(s, timeout=3.0):
    """App side: wait (unrecorded) until the peer acknowledged what the app sent, so a close
    or a reset that follows does not race the peer's ACK still in flight (an ACK reaching a
    closed connection is answered by RST, which would then depend on timing). It asks the
    stack under test (SIOCOUTQ); if that never says 0 the wait ends after TIMEOUT and the
    difference shows in what follows."""
    wait_acked(s, timeout)


def ready():
    """The peer is ready for the app to start (listening, or about to wait for it)."""
    signal_peer("ready")


def listener(host, port=PORT, name="l", backlog=16):
    """A listening socket with SO_REUSEADDR, as servers make them."""
    s = Sock(name)
    s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    s.bind(host, port)
    s.listen(backlog)
    return s


def accept_and_drain():
    """The peer most cases need: listen, say ready, accept one connection and read it
    to the end."""
    l = listener(PEER)
    ready()
    c = l.accept()
    c.recv_all()


def client(name="s", port=PORT):
    """The app's usual start: a socket connected to the peer."""
    s = Sock(name)
    s.connect(PEER, port)
    return s


def sleep(secs):
    time.sleep(secs)


def _nft(rules):
    subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)


def peer_go_silent():
    """The peer stops answering: everything it would send is dropped before the wire
    (an nftables egress filter on its interface; what the app sends still arrives)."""
    _nft('table netdev compat_silent {\n chain out {\n  type filter hook egress device "%s" '
         'priority 0;\n  drop\n }\n}\n' % IFACE)


def peer_talks_again():
    _nft("delete table netdev compat_silent\n")


def peer_drop_syns():
    """Drop the SYNs that reach the peer (not SYN-ACKs), until peer_accept_syns()."""
    _nft('table netdev compat_nosyn {\n chain in {\n  type filter hook ingress device "%s" '
         'priority 0;\n  tcp flags & (syn | ack) == syn drop\n }\n}\n' % IFACE)


def peer_drop_pure_acks():
    """Drop the segments carrying only an ACK that reach the peer, until peer_accept_pure_acks()."""
    _nft('table netdev compat_noack {\n chain in {\n  type filter hook ingress device "%s" '
         'priority 0;\n  tcp flags == ack drop\n }\n}\n' % IFACE)


def peer_accept_pure_acks():
    _nft("delete table netdev compat_noack\n")


def peer_accept_syns():
    _nft("delete table netdev compat_nosyn\n")


def peer_hold_app_segments():
    """Drop every TCP segment that reaches the peer, counting FINs apart, until
    peer_release_app_segments(). The capture still sees them (taps run before ingress)."""
    _nft('table netdev compat_hold {\n chain in {\n  type filter hook ingress device "%s" '
         'priority 0;\n  tcp flags & fin == fin counter drop\n  meta l4proto tcp counter drop\n'
         ' }\n}\n' % IFACE)


def held_segments():
    """(FINs, other segments) dropped so far by peer_hold_app_segments()."""
    r = subprocess.run(["nft", "-j", "list", "table", "netdev", "compat_hold"],
                       capture_output=True, text=True)
    try:
        rules = [x["rule"] for x in json.loads(r.stdout)["nftables"] if "rule" in x]
        counts = [next(e["counter"]["packets"] for e in ru["expr"] if "counter" in e) for ru in rules]
        return counts[0], counts[1]
    except (ValueError, KeyError, IndexError, StopIteration):
        return 0, 0


def wait_held(fins=0, others=0, timeout=5.0):
    """Wait until the hold dropped at least FINS FINs and OTHERS other segments."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        f, o = held_segments()
        if f >= fins and o >= others:
            return True
        time.sleep(0.005)
    return False


def peer_release_app_segments():
    _nft("delete table netdev compat_hold\n")


def peer_slow_retransmits():
    """The peer's own retransmission timer at least 1 s (rto_min, which ip-route locks, on its route to the
    app), so that a retransmission of the app (200 ms) always comes first."""
    subprocess.run(["ip", "route", "add", "%s/32" % APP, "dev", IFACE, "src", PEER,
                    "rto_min", "1s"], check=True)


def catch_sigpipe():
    """Record SIGPIPE deliveries (Python ignores SIGPIPE by default; C programs die of it)."""
    signal.signal(signal.SIGPIPE, lambda *a: note("signal", ret="SIGPIPE"))


class Case:
    """A compatibility case. Subclasses define app() and peer(); the docstring says what is checked.
    TIMEOUT: seconds either side may take. LINGER: seconds to keep capturing after both end.
    WIRE_TIMES: compare when each segment crossed the wire (timing cases).
    WIRE_DATA_LEN: False for bulk transfers: how the bytes were cut into segments and
    how many window episodes there were is not compared, only that data flowed.
    SYSCTL: kernel settings for the app's namespace, with their tapsockd equivalents.
    CALL_TIMES: compare how long each of the app's calls blocked (within the runner's
    tolerance); False where that time is the speed of a transfer, not a behaviour (speed
    is what tapsock bench measures)."""
    TIMEOUT = 15
    LINGER = 0.3
    WIRE_TIMES = False
    WIRE_DATA_LEN = True
    CALL_TIMES = True
    SYSCTL = {}

    def app(self):
        pass

    def peer(self):
        pass


def main(argv):
    global _ROLE
    import importlib.util
    path, name, role = argv[1], argv[2], argv[3]
    _ROLE = role
    spec = importlib.util.spec_from_file_location("compat_case_" + os.path.basename(path)[:-3], path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    case = getattr(mod, name)()
    try:
        getattr(case, role)()
    except Exception:
        traceback.print_exc()
        _emit({"call": "!exception", "ret": traceback.format_exc().strip().splitlines()[-1]})
        return 3
    return 0


if __name__ == "__main__":
    # run through the importable module, so the case and this entry share one state
    import compat as _compat
    sys.exit(_compat.main(sys.argv))
