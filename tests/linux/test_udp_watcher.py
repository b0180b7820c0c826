"""Watcher(family, protocol=IPPROTO_UDP) on Linux, both backends, in the
test's own network namespace: the events of sockets the test binds,
connects and closes, against the sockets' own getsockname()/getpeername();
a replay of every poll against /proc/net/udp{,6}; filters and arguments."""

from __future__ import annotations

import collections
import random
import socket

import pytest
from netns import LINUX
from oracles import udp_from_tcptable, udp_proc, udp_row, without_scopes
from tcptable import TcpState, Udp4Row, Udp6Row, Watcher

pytestmark = pytest.mark.skipif(not LINUX, reason="Linux: the UDP tables")

UDP = socket.IPPROTO_UDP
LOOPBACK = {socket.AF_INET6: "::1", socket.AF_INET: "127.0.0.1"}
ROW_TYPE = {socket.AF_INET6: Udp6Row, socket.AF_INET: Udp4Row}
families = pytest.mark.parametrize("family", LOOPBACK, ids=["AF_INET6", "AF_INET"])


def events(changes) -> tuple:
    """(opened, closed) as multisets of UdpRows; changed must stay empty:
    a UDP socket's key holds its peer, so a connect() closes one row and
    opens another."""
    assert changes.changed == ()
    return (
        collections.Counter(map(udp_from_tcptable, changes.opened)),
        collections.Counter(map(udp_from_tcptable, changes.closed)),
    )


def own(s: socket.socket, peer: bool = True) -> collections.Counter:
    """The row a socket shows, from its own names."""
    try:
        remote = s.getpeername() if peer else None
    except OSError:
        remote = None
    return collections.Counter({udp_row(s.family, s.getsockname(), remote): 1})


def udp(family: int) -> socket.socket:
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((LOOPBACK[family], 0))
    return s


@families
def test_bind_connect_close_come_back_exactly(netns, backend, family):
    watcher = Watcher(family, protocol=UDP)
    assert watcher.poll() == ((), (), ())  # the namespace holds no UDP socket
    with udp(family) as a, udp(family) as b:
        first = watcher.poll()
        assert events(first) == (own(a) + own(b), collections.Counter())
        assert {type(r) for r in first.opened} == {ROW_TYPE[family]}
        assert {r.connected for r in first.opened} == {False}
        assert watcher.poll() == ((), (), ())  # nothing moved
        unconnected = own(a)
        a.connect(b.getsockname())
        connected = watcher.poll()
        assert events(connected) == (own(a), unconnected)
        assert [r.connected for r in connected.opened] == [True]
        gone = own(a) + own(b)
    assert events(watcher.poll()) == (collections.Counter(), gone)


@families
def test_filters_and_pids_apply(netns, backend, family):
    with udp(family) as a, udp(family) as b:
        b.connect(a.getsockname())
        port = a.getsockname()[1]
        only_a = Watcher(family, protocol=UDP, local_ports={port}, pids=True)
        (row,) = only_a.poll().opened
        assert udp_from_tcptable(row) in own(a)
        assert row.pid is not None and row.inode is not None
        # remote_ports={0}: the unconnected sockets, as for udp6()/udp4()
        unconnected = Watcher(family, protocol=UDP, remote_ports={0})
        assert events(unconnected.poll())[0] == own(a)
        connected = Watcher(family, protocol=UDP, remote_ports={port})
        assert events(connected.poll())[0] == own(b)


@families
def test_churn_replays_to_the_final_table(netns, backend, family):
    """Sockets bound, connected and closed at random between polls: every
    poll's events, replayed over the first, give the table /proc shows at
    the end (scope ids aside: /proc has none)."""
    rng = random.Random(17)
    watcher = Watcher(family, protocol=UDP)
    table = collections.Counter()
    live: list[socket.socket] = []
    try:
        for _ in range(30):
            for _ in range(rng.randrange(4)):
                live.append(udp(family))
            for s in rng.sample(live, min(len(live), rng.randrange(3))):
                if rng.random() < 0.5:
                    s.connect(rng.choice(live).getsockname())
                else:
                    live.remove(s)
                    s.close()
            opened, closed = events(watcher.poll())
            table.update(opened)
            table.subtract(closed)
            assert min(table.values(), default=0) >= 0
        mine = collections.Counter()
        for s in live:
            mine += own(s)
        assert +table == mine
        assert without_scopes(+table) == collections.Counter(
            {row: n for (row, _), n in udp_proc(family).items()}
        )
    finally:
        for s in live:
            s.close()


@pytest.mark.parametrize(
    "kwargs,error,text",
    [
        ({"protocol": True}, TypeError, "protocol must be socket.IPPROTO_TCP"),
        ({"protocol": "udp"}, TypeError, "protocol must be"),
        ({"protocol": socket.IPPROTO_ICMP}, ValueError, "protocol must be"),
        ({"protocol": 2**80}, ValueError, "protocol must be"),
        ({"protocol": UDP, "states": {TcpState.LISTEN}}, ValueError, "states must be None"),
        ({"protocol": UDP, "states": ()}, ValueError, "states must be None"),
    ],
)
def test_bad_protocol_arguments_raise_naming_them(kwargs, error, text):
    with pytest.raises(error, match=text):
        Watcher(**kwargs)


def test_tcp_stays_the_default(netns):
    """Without protocol a Watcher reads TCP: a UDP socket beside the
    listener is no event of it."""
    with socket.socket(socket.AF_INET6) as listener, udp(socket.AF_INET6):
        listener.bind(("::1", 0))
        listener.listen()
        for watcher in (Watcher(), Watcher(protocol=socket.IPPROTO_TCP)):
            (row,) = watcher.poll().opened
            assert row.state == TcpState.LISTEN
