"""Address text through the real extension: sockets bound to many addresses,
their rows' text compared with socket.inet_ntop of their own names."""

import collections
import random
import socket
import sys

import pytest
import tcptable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netns import ip, private_netns
from tcptable import TcpState

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="Linux-only: the addresses come from `ip addr` in a namespace",
)

V6, V4 = socket.AF_INET6, socket.AF_INET
OPEN = {TcpState.LISTEN, TcpState.ESTABLISHED}


@pytest.fixture(scope="module")
def anyip():
    """A namespace where all of 2001:db8::/32 is local (AnyIP on lo), and
    sockets may bind to addresses of that route."""
    with private_netns():
        ip("-6", "route", "add", "local", "2001:db8::/32", "dev", "lo")
        with open("/proc/sys/net/ipv6/ip_nonlocal_bind", "w") as f:
            f.write("1")
        yield


def text(family, sockaddr):
    return socket.inet_ntop(family, socket.inet_pton(family, sockaddr[0]))


class Sockets:
    """Listeners on given addresses, plus connections between them."""

    def __init__(self, family):
        self.family = family
        self.all = []
        self.expected = collections.Counter()

    def _new(self):
        s = socket.socket(self.family, socket.SOCK_STREAM)
        self.all.append(s)
        return s

    def _row(self, state, s, peer):
        local, remote = s.getsockname(), peer or (("::" if self.family == V6 else "0.0.0.0"), 0)
        self.expected[
            (state, text(self.family, local), local[1], text(self.family, remote), remote[1])
        ] += 1

    def listen(self, addr):
        s = self._new()
        s.bind((addr, 0))
        s.listen()
        self._row(TcpState.LISTEN, s, None)
        return s

    def connect(self, client_addr, listener):
        c = self._new()
        c.bind((client_addr, 0))
        c.connect(listener.getsockname())
        server, _ = listener.accept()
        self.all.append(server)
        self._row(TcpState.ESTABLISHED, c, c.getpeername())
        self._row(TcpState.ESTABLISHED, server, server.getpeername())

    def ports(self):
        return {s.getsockname()[1] for s in self.all}

    def shown(self):
        """Our sockets' rows as tcptable reports them."""
        fn = tcptable.tcp6 if self.family == V6 else tcptable.tcp4
        ports = self.ports()
        return collections.Counter(
            (r.state, r.local_addr, r.local_port, r.remote_addr, r.remote_port)
            for r in fn(states=OPEN)
            if r.local_port in ports
        )

    def close(self):
        for s in self.all:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            s.close()


def check(family, addrs):
    socks = Sockets(family)
    try:
        listeners = [socks.listen(a) for a in addrs]
        for i, listener in enumerate(listeners):  # remote ends too
            socks.connect(addrs[(i + 1) % len(addrs)], listener)
        assert socks.shown() == socks.expected
    finally:
        socks.close()


# Groups after 2001:db8, with zeros frequent so that zero runs of every
# length and position occur.
GROUP = st.one_of(st.just(0), st.just(0), st.sampled_from([1, 0xFFFF]), st.integers(0, 0xFFFF))
V6_ADDR = st.tuples(*[GROUP] * 6).map(
    lambda g: socket.inet_ntop(V6, bytes.fromhex("20010db8" + "".join(f"{x:04x}" for x in g)))
)


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(addrs=st.lists(V6_ADDR, min_size=1, max_size=8, unique=True))
def test_ipv6_text_matches_inet_ntop(anyip, backend, addrs):
    check(V6, addrs)


# Known text forms (RFC 5952 as glibc's inet_ntop writes them).
SPECIAL_V6 = {
    "2001:db8::": "2001:db8::",
    "2001:db8:0:0:0:0:0:1": "2001:db8::1",
    "2001:db8:0:1:0:0:0:1": "2001:db8:0:1::1",  # the longest run is not the first
    "2001:db8:1:0:0:1:0:0": "2001:db8:1::1:0:0",  # equal runs: the first is compressed
    "2001:db8:0:0:1:0:0:0": "2001:db8:0:0:1::",  # longest run last
    "2001:db8:1:2:3:0:5:6": "2001:db8:1:2:3:0:5:6",  # a single zero group stays
    "2001:db8:0:1:2:3:4:5": "2001:db8:0:1:2:3:4:5",
    "2001:db8:ABCD:EF01:0:0:FFFF:1": "2001:db8:abcd:ef01::ffff:1",
    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff": "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
    "2001:db8:0:0:0:0:ffff:7f00": "2001:db8::ffff:7f00",  # no dotted tail here
    "::1": "::1",
}


def test_ipv6_special_forms(anyip, backend):
    check(V6, list(SPECIAL_V6))
    socks = Sockets(V6)
    try:
        for addr in SPECIAL_V6:
            socks.listen(addr)
        listed = {r.local_addr for r in tcptable.tcp6(states={TcpState.LISTEN})}
        assert listed == set(SPECIAL_V6.values())
    finally:
        socks.close()


@pytest.mark.parametrize("client", ["127.0.0.1", "127.1.2.3", "127.255.255.254", "127.0.10.0"])
def test_ipv4_mapped_text(anyip, backend, client):
    """A dual-stack listener's IPv4 peers: ::ffff:a.b.c.d on both ends."""
    listener = socket.socket(V6, socket.SOCK_STREAM)
    c = socket.socket(V4, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(("::", 0))
        listener.listen()
        c.bind((client, 0))
        c.connect(("127.9.8.7", listener.getsockname()[1]))
        server, _ = listener.accept()
        with server:
            rows = [
                r
                for r in tcptable.tcp6(states={TcpState.ESTABLISHED})
                if r.local_port == listener.getsockname()[1]
            ]
            assert [(r.local_addr, r.remote_addr, r.remote_port) for r in rows] == [
                ("::ffff:127.9.8.7", f"::ffff:{client}", c.getsockname()[1])
            ]
            assert rows[0].local_addr == text(V6, server.getsockname())
            assert rows[0].remote_addr == text(V6, server.getpeername())
    finally:
        listener.close()
        c.close()


def test_ipv4_text_across_127_slash_8(anyip, backend):
    rng = random.Random(2)
    addrs = ["127.0.0.1", "127.1.2.3", "127.255.255.254", "127.0.0.10", "127.100.0.255"]
    addrs += [
        f"127.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(40)
    ]
    check(V4, list(dict.fromkeys(addrs)))
