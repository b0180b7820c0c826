"""udp6() and udp4() on every platform, for the test's own sockets: rows
against the sockets' getsockname()/getpeername(), owners, port filters and
sort order.  Linux reads sock_diag (tests/linux/test_udp.py has the Linux
details: ss, /proc, queues, drops, both backends); Windows reads
GetUdp6Table/GetUdpTable and GetExtendedUdpTable, whose rows hold the local
endpoint only: no peer, so connected and the remote fields are None there.
Under Wine the scope id of ::1 is an address-class value (0x1000), not an
interface index, so scope ids are compared off Wine only."""

from __future__ import annotations

import collections
import os
import socket
import sys

import pytest
import tcptable
from netns import WINE

V4, V6 = socket.AF_INET, socket.AF_INET6
TABLE = {V4: tcptable.udp4, V6: tcptable.udp6}
WINDOWS = sys.platform == "win32"
# Whether the OS reports a UDP socket's peer (Linux does; Windows' UDP rows
# have no remote fields).
PEERS = not WINDOWS
ADDR = {V4: "127.0.0.1", V6: "::1"}
# Wine 8's GetExtendedUdpTable(UDP_TABLE_OWNER_PID) reports pid 0 for every
# socket of this process, in both families (as its GetTcpTable2 does for most
# TCP sockets): the rows show None there.  Real Windows reports the owner.
OWNER_UNDER_WINE = None


def endpoint(family: int, sockaddr: tuple) -> tuple[str, int, int]:
    scope = sockaddr[3] if family == V6 and not WINE else 0
    return sockaddr[0].partition("%")[0], scope, sockaddr[1]


def local(row) -> tuple[str, int, int]:
    scope = row.local_scope_id if len(row) == 3 and not WINE else 0
    return row.local_addr, scope, row.local_port


def peer(row) -> tuple | None:
    if row.remote_addr is None:
        return None
    scope = row.remote_scope_id if len(row) == 3 and not WINE else 0
    return row.remote_addr, scope, row.remote_port


class Own:
    """The test's UDP sockets, each with its family and the row it should show."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []

    def add(self, family: int, bind: tuple | None = None, connect: tuple | None = None, **opts):
        s = socket.socket(family, socket.SOCK_DGRAM)
        self.sockets.append(s)
        if "v6only" in opts:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, opts["v6only"])
        if bind is not None:
            s.bind(bind)
        if connect is not None:
            s.connect(connect)  # an unbound socket is bound by connect()
        return s

    def ports(self) -> set[int]:
        return {s.getsockname()[1] for s in self.sockets}

    def expected(self, family: int, sockets=None) -> collections.Counter:
        """(local, peer) of the sockets of `family`; the peer None where the
        socket is not connected or the OS reports no peer."""
        rows = collections.Counter()
        for s in sockets or self.sockets:
            if s.family != family:
                continue
            try:
                remote = endpoint(family, s.getpeername()) if PEERS else None
            except OSError:
                remote = None
            rows[endpoint(family, s.getsockname()), remote] += 1
        return rows

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def mine(family: int, own: Own, **kwargs) -> collections.Counter:
    ports = own.ports()
    return collections.Counter(
        (local(r), peer(r)) for r in TABLE[family](**kwargs) if r.local_port in ports
    )


@pytest.fixture
def own(netns_if_possible):
    """Bound and connected sockets of both families: a bound one each, one
    connected to it without a bind, and one bound and connected."""
    sockets = Own()
    try:
        for family in (V4, V6):
            target = sockets.add(family, bind=(ADDR[family], 0)).getsockname()
            sockets.add(family, connect=target)
            sockets.add(family, bind=(ADDR[family], 0), connect=target)
        yield sockets
    finally:
        sockets.close()


@pytest.mark.parametrize("family", [V6, V4], ids=["udp6", "udp4"])
def test_rows_are_the_sockets(own, family):
    assert mine(family, own) == own.expected(family)


@pytest.mark.parametrize("family", [V6, V4], ids=["udp6", "udp4"])
def test_fields_by_name(own, family):
    rows = [r for r in TABLE[family]() if r.local_port in own.ports()]
    assert len(rows) == 3
    assert all(len(r) == (3 if family == V6 else 2) for r in rows)
    assert {r.pid for r in rows} == {None}  # owners only with pids=True
    if PEERS:
        assert sorted(r.connected for r in rows) == [False, True, True]
        assert all((r.remote_port is None) == (not r.connected) for r in rows)
        assert all(r.drops == 0 and r.rx_queue == 0 for r in rows)
    else:  # Windows: the rows have no peer, queues, drops, uid nor inode
        for name in ("connected", "remote_addr", "remote_port", "drops", "rx_queue", "uid"):
            assert {getattr(r, name) for r in rows} == {None}, name
        if family == V6:
            assert {r.remote_scope_id for r in rows} == {None}


def test_dual_stack_socket(netns_if_possible):
    """A V6ONLY=0 socket bound to an IPv4-mapped address: in udp6() as
    ::ffff:127.0.0.1 on Linux and under Wine (Wine runs on Linux's stack); a
    real Windows dual-mode socket may show in udp4() instead."""
    own = Own()
    try:
        s = own.add(V6, bind=("::ffff:127.0.0.1", 0), v6only=0)
        port = s.getsockname()[1]
        v6 = [local(r) for r in tcptable.udp6(local_ports={port})]
        v4 = [local(r) for r in tcptable.udp4(local_ports={port})]
    finally:
        own.close()
    if WINDOWS and not WINE:
        assert v6 + v4 in ([("::ffff:127.0.0.1", 0, port)], [("127.0.0.1", 0, port)]), (v6, v4)
    else:
        assert (v6, v4) == ([("::ffff:127.0.0.1", 0, port)], []), (v6, v4)


def owner_pid() -> int | None:
    """The pid a row of this process's sockets shows with pids=True."""
    return OWNER_UNDER_WINE if WINE else os.getpid()


@pytest.mark.parametrize("family", [V6, V4], ids=["udp6", "udp4"])
def test_pids(own, family):
    ports = own.ports()
    rows = [r for r in TABLE[family](pids=True) if r.local_port in ports]
    assert collections.Counter((local(r), peer(r)) for r in rows) == own.expected(family)
    assert {r.pid for r in rows} == {owner_pid()}, [(local(r), r.pid) for r in rows]


@pytest.mark.parametrize("family", [V6, V4], ids=["udp6", "udp4"])
def test_port_filters(own, family):
    bound, unbound, connected = [s for s in own.sockets if s.family == family]
    port = bound.getsockname()[1]
    assert mine(family, own, local_ports={port}) == own.expected(family, [bound])
    assert mine(family, own, local_ports={unbound.getsockname()[1], port}) == own.expected(
        family, [bound, unbound]
    )
    assert mine(family, own, local_ports={1}) == collections.Counter()
    # remote_ports: an unconnected socket's remote port is 0, and so is every
    # Windows row's, which reports no peer.
    peers = own.expected(family, [unbound, connected])
    if PEERS:
        assert mine(family, own, remote_ports={0}) == own.expected(family, [bound])
        assert mine(family, own, remote_ports={port}) == peers
    else:
        assert mine(family, own, remote_ports={0}) == own.expected(family)
        assert mine(family, own, remote_ports={port}) == collections.Counter()
    assert mine(family, own, local_ports={port}, remote_ports={port}) == collections.Counter()


def sort_key(row) -> tuple:
    """GetUdp6Table(Order=TRUE): local address bytes, scope id, port."""
    family = V6 if len(row) == 3 else V4
    return socket.inet_pton(family, row.local_addr), local(row)[1], row.local_port


@pytest.mark.parametrize("family", [V6, V4], ids=["udp6", "udp4"])
def test_sort_order(netns_if_possible, family):
    """Addresses whose bytes sort otherwise than their text (127.10.0.1
    after 127.9.0.1), several ports each."""
    addrs = (
        ["127.9.0.1", "127.10.0.1", "127.0.0.1"]
        if family == V4
        else ["::1", "::ffff:127.10.0.1", "::ffff:127.9.0.1"]
    )
    own = Own()
    try:
        for addr in addrs:
            for _ in range(3):
                own.add(family, bind=(addr, 0), **({"v6only": 0} if family == V6 else {}))
        ports = own.ports()
        rows = [r for r in TABLE[family](sort=True) if r.local_port in ports]
        unsorted = [r for r in TABLE[family]() if r.local_port in ports]
    finally:
        own.close()
    assert len(rows) == 9
    assert rows == sorted(rows, key=sort_key)
    assert collections.Counter(rows) == collections.Counter(unsorted)
