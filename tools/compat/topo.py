"""topo.py - the two topologies of a compatibility case, same addresses in both (ip-netns(8), veth(4), tun(4)).

kernel:   namespace APP [capp 10.77.90.2] ==veth== [cpeer 10.77.90.1] namespace PEER
tapsock:  namespace ONE: tapsockd owns the TAP cpeer; engine 10.77.90.2, kernel side of the
          TAP 10.77.90.1 where the peer runs; the app runs there too, its TCP on the engine.
The peer's interface is called cpeer in both, and is where the wire is captured. Every
namespace is private to one run of one case, so cases run side by side without sharing
ports, TIME-WAIT or sysctls.
"""
import os
import subprocess

APP_ADDR = "10.77.90.2"
PEER_ADDR = "10.77.90.1"
PREFIX = 24
IFACE = "cpeer"

# Namespace settings of every run, both stacks, app and peer side alike: Linux's upstream
# default congestion control (this machine defaults to BBR), so the peer behaves the same.
COMMON_SYSCTL = {"net.ipv4.tcp_congestion_control": "cubic"}

# Kernel settings a case may shorten, and the tapsockd option that does the same.
ENGINE_EQUIV = {
    "net.ipv4.tcp_fin_timeout": lambda v: ["--fin-timeout", str(int(v) * 1000)],
}

_live = set()          # namespaces that exist now
_engines = {}          # namespace -> Tapsock whose engine may be running there


def sh(*args, check=True, quiet=True):
    r = subprocess.run(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(args), (r.stderr or r.stdout).strip()))
    return r


def sysctl(ns, key, val, check=True):
    return sh("ip", "netns", "exec", ns, "sysctl", "-qw", "%s=%s" % (key, val), check=check)


def netns_del(ns):
    sh("ip", "netns", "del", ns, check=False)
    _live.discard(ns)


class Kernel:
    """App and peer in two namespaces joined by a veth pair."""
    name = "kernel"

    def __init__(self, tag, sysctls):
        self.app_ns = "%sa" % tag
        self.peer_ns = "%sb" % tag
        self.sysctls = sysctls

    def up(self):
        for ns in (self.app_ns, self.peer_ns):
            sh("ip", "netns", "add", ns)
            _live.add(ns)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "link", "add", "capp", "netns", self.app_ns, "type", "veth",
           "peer", "name", IFACE, "netns", self.peer_ns)
        sh("ip", "-n", self.app_ns, "addr", "add", "%s/%d" % (APP_ADDR, PREFIX), "dev", "capp")
        sh("ip", "-n", self.peer_ns, "addr", "add", "%s/%d" % (PEER_ADDR, PREFIX), "dev", IFACE)
        sh("ip", "-n", self.app_ns, "link", "set", "capp", "up")
        sh("ip", "-n", self.peer_ns, "link", "set", IFACE, "up")
        for ns in (self.app_ns, self.peer_ns):
            for k, v in COMMON_SYSCTL.items():
                sysctl(ns, k, v, check=False)
        for k, v in self.sysctls.items():
            sysctl(self.app_ns, k, v)

    def app_env(self, env):
        return env

    def down(self):
        netns_del(self.app_ns)
        netns_del(self.peer_ns)


class Tapsock:
    """The engine in a namespace of its own with its TAP; the peer on the TAP's kernel side."""
    name = "tapsock"

    def __init__(self, tag, sysctls, tapsock, preload):
        self.app_ns = self.peer_ns = "%st" % tag
        self.tapsock = tapsock
        self.preload = preload
        self.extra = []
        for k, v in sysctls.items():
            if k not in ENGINE_EQUIV:
                raise RuntimeError("no tapsockd equivalent of %s" % k)
            self.extra += ENGINE_EQUIV[k](v)

    def up(self):
        if not self.preload or not os.path.exists(self.preload):
            raise RuntimeError("the preload library is not built (%s)" % (self.preload or "not found"))
        _live.add(self.app_ns)
        _engines[self.app_ns] = self
        args = [self.tapsock, "up", "--netns", self.app_ns, "--ifname", IFACE,
                "--addr", "%s/%d" % (APP_ADDR, PREFIX)]
        if self.extra:
            args += ["--"] + self.extra
        r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=20)
        if r.returncode != 0:
            raise RuntimeError("tapsock up: %s" % (r.stderr or r.stdout).strip())
        for k, v in COMMON_SYSCTL.items():
            sysctl(self.peer_ns, k, v, check=False)

    def app_env(self, env):
        env = dict(env)
        env["LD_PRELOAD"] = self.preload
        return env

    def down(self):
        try:
            subprocess.run([self.tapsock, "down", "--netns", self.app_ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=15)
        except subprocess.TimeoutExpired:
            pass
        _engines.pop(self.app_ns, None)
        netns_del(self.app_ns)
        # A down that timed out leaves tapsock's mark of the namespace it created
        # (/run/tapsock/netns/NAME); asked again without the namespace, it removes it.
        if os.path.exists(os.path.join("/run/tapsock/netns", self.app_ns)):
            try:
                subprocess.run([self.tapsock, "down", "--netns", self.app_ns],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=15)
            except subprocess.TimeoutExpired:
                pass


def cleanup_all():
    """Everything still up (an interrupted run): engines first (tapsockd is a daemon, it
    would outlive its namespace's name), then the namespaces."""
    for t in list(_engines.values()):
        t.down()
    for ns in list(_live):
        netns_del(ns)
