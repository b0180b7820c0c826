"""udp6() and udp4() on Linux, on both backends, in the test's own network
namespace: rows against the sockets' own getsockname()/getpeername(),
``ss -uanpem`` and /proc/net/udp{,6}; owners, queues, drops, port filters,
sort order and netns=."""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import socket

import pytest
import tcptable
from netns import LINUX, entered, skip_or_fail
from oracles import (
    UdpDetail,
    is_link_local,
    udp_from_tcptable,
    udp_proc,
    udp_row,
    udp_ss,
    without_scopes,
)
from population import LL_A, LL_B, Population, wait_for

pytestmark = pytest.mark.skipif(not LINUX, reason="Linux: the UDP tables")

V4, V6 = socket.AF_INET, socket.AF_INET6
TABLE = {V4: tcptable.udp4, V6: tcptable.udp6}


class Sockets:
    """The test's UDP sockets and the rows they should show."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []

    def bound(self, family: int, addr: str, port: int = 0, **options: int) -> socket.socket:
        s = socket.socket(family, socket.SOCK_DGRAM)
        self.sockets.append(s)
        if options.get("reuseport"):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if "v6only" in options:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, options["v6only"])
        if "rcvbuf" in options:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, options["rcvbuf"])
        s.bind((addr, port, 0, options.get("scope", 0)) if family == V6 else (addr, port))
        return s

    def connected(self, family: int, addr: str, to: tuple, **options: int) -> socket.socket:
        s = self.bound(family, addr, **options)
        s.connect(to)
        return s

    def expected(self, family: int) -> collections.Counter:
        rows = collections.Counter()
        for s in self.sockets:
            if s.family == family:
                try:
                    peer = s.getpeername()
                except OSError:
                    peer = None
                rows[udp_row(family, s.getsockname(), peer)] += 1
        return rows

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def need_udp_diag(backend: str) -> None:
    """With netlink forced, the kernel must dump UDP sockets: without udp_diag
    (CONFIG_INET_UDP_DIAG) it answers ENOENT, which only the fallback hides."""
    if backend == "netlink":
        try:
            tcptable.udp4()
        except FileNotFoundError as e:
            skip_or_fail(f"sock_diag has no UDP here (no udp_diag module?): {e}")


@pytest.fixture
def udp(netns, backend):
    need_udp_diag(backend)
    sockets = Sockets()
    yield sockets
    sockets.close()


def mixed(udp: Sockets) -> None:
    """Unconnected and connected sockets of both families, a dual-stack one,
    a v4-mapped peer and SO_REUSEPORT groups."""
    server4 = udp.bound(V4, "127.0.0.1")
    server6 = udp.bound(V6, "::1")
    udp.connected(V4, "127.0.0.1", server4.getsockname())
    udp.connected(V4, "127.0.0.2", server4.getsockname())
    udp.connected(V6, "::1", server6.getsockname()[:2])
    dual = udp.bound(V6, "::", v6only=0)
    udp.connected(V6, "::", ("::ffff:127.0.0.1", server4.getsockname()[1]), v6only=0)
    udp.connected(V4, "127.0.0.1", ("127.0.0.1", dual.getsockname()[1]))
    group4 = udp.bound(V4, "127.0.0.1", reuseport=1).getsockname()[1]
    group6 = udp.bound(V6, "::1", reuseport=1).getsockname()[1]
    for _ in range(2):
        udp.bound(V4, "127.0.0.1", group4, reuseport=1)
        udp.bound(V6, "::1", group6, reuseport=1)


def ours(family: int, **kwargs) -> collections.Counter:
    return collections.Counter(udp_from_tcptable(r) for r in TABLE[family](**kwargs))


def rows_of(views: collections.Counter) -> collections.Counter:
    rows = collections.Counter()
    for (row, _), n in views.items():
        rows[row] += n
    return rows


@pytest.mark.parametrize("family", [V6, V4])
def test_rows_equal_the_sockets_ss_and_proc(udp, backend, family):
    mixed(udp)
    expected = udp.expected(family)
    assert sum(expected.values()) >= 5
    assert ours(family) == expected
    assert rows_of(udp_ss(family)) == expected
    assert rows_of(udp_proc(family)) == expected


def test_row_fields_and_types(udp, backend):
    mixed(udp)
    for family, cls, width in ((V6, tcptable.Udp6Row, 3), (V4, tcptable.Udp4Row, 2)):
        rows = TABLE[family]()
        assert rows and type(rows) is tuple
        for row in rows:
            assert type(row) is cls and len(row) == width
            assert type(row.local_addr) is str and type(row.local_port) is int
            assert type(row.connected) is bool
            if row.connected:
                assert type(row.remote_addr) is str and type(row.remote_port) is int
                if family == V6:
                    assert type(row.remote_scope_id) is int
            else:
                assert row.remote_addr is None and row.remote_port is None
                if family == V6:
                    assert row.remote_scope_id is None
            assert row.pid is None and row.uid is None and row.inode is None
            assert type(row.rx_queue) is int and type(row.tx_queue) is int
            assert type(row.drops) is int


@pytest.mark.parametrize("family", [V6, V4])
def test_owners_queues_and_inodes_equal_ss_and_proc(udp, backend, family):
    mixed(udp)
    receiver = udp.bound(family, "::1" if family == V6 else "127.0.0.1")
    sender = udp.bound(family, "::1" if family == V6 else "127.0.0.1")
    sender.sendto(b"x" * 100, receiver.getsockname())  # one: once queued, it stays
    key = udp_row(family, receiver.getsockname(), None)
    wait_for(
        lambda: any(d.rx_queue > 0 for (r, d) in udp_ss(family) if r == key),
        "the datagram to arrive",
    )
    theirs = udp_ss(family)
    rows = TABLE[family](pids=True)
    inodes = {os.fstat(s.fileno()).st_ino for s in udp.sockets if s.family == family}
    got = collections.Counter(
        (
            udp_from_tcptable(r),
            UdpDetail(r.rx_queue, r.tx_queue, r.pid, r.uid, r.inode, r.drops),
        )
        for r in rows
    )
    assert got == theirs
    assert {r.inode for r in rows} == inodes
    assert {r.pid for r in rows} == {os.getpid()}
    assert {r.uid for r in rows} == {os.geteuid()}
    (mine,) = [r for r in rows if udp_from_tcptable(r) == key]
    assert mine.rx_queue > 0
    # /proc has no pid: compare the rest.
    assert collections.Counter({(row, d._replace(pid=None)): n for (row, d), n in got.items()}) == (
        udp_proc(family)
    )


def test_without_pids_no_owner_is_looked_up(udp, backend):
    mixed(udp)
    for row in tcptable.udp6() + tcptable.udp4():
        assert (row.pid, row.uid, row.inode) == (None, None, None)


@pytest.mark.parametrize("family", [V6, V4])
def test_dropped_datagrams(udp, backend, family):
    """A receiver with the smallest receive buffer that is never read: once
    it is full, every datagram sent to it is dropped, and counted.  Every
    datagram sent is then either queued or dropped."""
    addr = "::1" if family == V6 else "127.0.0.1"
    receiver = udp.bound(family, addr, rcvbuf=1)
    sender = udp.connected(family, addr, receiver.getsockname())
    sent = 200
    for _ in range(sent):
        sender.send(b"y" * 1000)
    key = udp_row(family, receiver.getsockname(), None)

    def proc_drops() -> int:
        (proc,) = [d for (r, d) in udp_proc(family) if r == key]
        return proc.drops

    seen = [-1]

    def settled() -> bool:  # delivery may trail send(): wait for the count to stop
        before, seen[0] = seen[0], proc_drops()
        return seen[0] > 0 and seen[0] == before

    wait_for(settled, "datagrams to be dropped, and no more")
    (row,) = [r for r in TABLE[family]() if udp_from_tcptable(r) == key]
    (proc,) = [d for (r, d) in udp_proc(family) if r == key]
    (ss,) = [d for (r, d) in udp_ss(family) if r == key]
    assert row.drops > 0
    assert row.drops == proc.drops == ss.drops
    assert row.rx_queue == proc.rx_queue == ss.rx_queue > 0
    (sender_row,) = [
        r for r in TABLE[family]() if udp_from_tcptable(r) == udp_row(family, *peer(sender))
    ]
    assert sender_row.drops == 0
    receiver.setblocking(False)
    queued = 0
    with contextlib.suppress(BlockingIOError):
        while receiver.recv(2000):
            queued += 1
    assert queued + row.drops == sent


def peer(s: socket.socket) -> tuple:
    return s.getsockname(), s.getpeername()


@pytest.mark.parametrize("family", [V6, V4])
def test_port_filters(udp, backend, family):
    mixed(udp)
    every = ours(family)
    local = {r.local_port for r in every}
    some = set(sorted(local)[:2])
    assert ours(family, local_ports=some) == collections.Counter(
        {r: n for r, n in every.items() if r.local_port in some}
    )
    remote = {r.remote_port for r in every if r.connected}
    assert remote
    assert ours(family, remote_ports=remote) == collections.Counter(
        {r: n for r, n in every.items() if r.connected}
    )
    # An unconnected socket's remote port counts as 0, as a TCP listener's.
    assert ours(family, remote_ports={0}) == collections.Counter(
        {r: n for r, n in every.items() if not r.connected}
    )
    assert ours(family, local_ports=()) == collections.Counter()
    assert ours(family, local_ports=some, remote_ports=remote) == collections.Counter(
        {r: n for r, n in every.items() if r.local_port in some and r.connected}
    )


@pytest.mark.parametrize("family", [V6, V4])
def test_sort_orders_by_local_address_scope_and_port(udp, backend, family):
    mixed(udp)
    rows = TABLE[family](sort=True)
    keys = [
        (socket.inet_pton(family, r.local_addr), r[1] if family == V6 else 0, r[-1]) for r in rows
    ]
    assert len(rows) >= 5
    assert keys == sorted(keys)
    assert collections.Counter(rows) == collections.Counter(TABLE[family]())


def test_link_local_scope_ids(udp, backend):
    """Sockets on a veth pair's link-local addresses carry the interface's
    index, as getsockname() and ss show it; /proc has none, so the proc
    backend reports 0."""
    index_a, index_b = Population()._veth()
    server = udp.bound(V6, LL_A, scope=index_a)
    udp.connected(V6, LL_B, (LL_A, server.getsockname()[1], 0, index_b), scope=index_b)
    expected = udp.expected(V6)
    assert expected == rows_of(udp_ss(V6))
    assert without_scopes(expected) == rows_of(udp_proc(V6))
    got = ours(V6)
    assert got == (without_scopes(expected) if backend == "proc" else expected)
    scoped = {r.local_scope_id for r in got if is_link_local(r.local_addr)}
    assert scoped == ({0} if backend == "proc" else {index_a, index_b})


def test_netns_argument_reads_another_namespace(named_netns, backend):
    """Sockets made inside a named namespace are its table's, not the caller's."""
    need_udp_diag(backend)
    made = []
    try:
        with entered(named_netns):
            a = socket.socket(V4, socket.SOCK_DGRAM)
            made.append(a)
            a.bind(("127.0.0.1", 0))
            b = socket.socket(V6, socket.SOCK_DGRAM)
            made.append(b)
            b.bind(("::1", 0))
            b.connect(("::1", 9))
        assert ours(V4, netns=named_netns) == collections.Counter(
            {udp_row(V4, a.getsockname(), None): 1}
        )
        assert ours(V6, netns=named_netns) == collections.Counter({udp_row(V6, *peer(b)): 1})
        assert tcptable.udp4() == () and tcptable.udp6() == ()
    finally:
        for s in made:
            s.close()


def test_udp_takes_no_states():
    with pytest.raises(TypeError, match="'states' is an invalid keyword argument for udp6"):
        tcptable.udp6(states=None)
    with pytest.raises(TypeError, match="takes no positional arguments"):
        tcptable.udp4(socket.AF_INET)


def test_rows_pickle_and_compare_as_tuples(udp, backend):
    mixed(udp)
    for row in tcptable.udp6(pids=True) + tcptable.udp4(pids=True):
        back = pickle.loads(pickle.dumps(row))
        assert back == row and type(back) is type(row)
        assert back.drops == row.drops and back.connected is row.connected
        assert row == tuple(row) and hash(row) == hash(tuple(row))
        assert repr(row).startswith(f"tcptable.{type(row).__name__}(local_addr=")


def test_many_sockets_span_several_netlink_batches(udp, backend):
    """600 sockets: each UDP message carries its SKMEMINFO, so the dump takes
    several 32 KiB batches, and the row array grows past its first size."""
    server = udp.bound(V6, "::1")
    for i in range(600):
        if i % 3:
            udp.bound(V6, "::1")
        else:
            udp.connected(V6, "::1", server.getsockname()[:2])
    expected = udp.expected(V6)
    assert sum(expected.values()) == 601
    assert ours(V6) == expected == rows_of(udp_proc(V6))
    assert len(tcptable.udp6(sort=True, pids=True)) == 601
