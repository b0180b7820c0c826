"""TcpCollector(families=("udp4", "udp6")) and `tcptable --serve -u` (Linux):
the UDP metrics in the test's own namespace, against the test's sockets
(their own names), the drops column of /proc/net/udp{,6} and the counters
of /proc/net/snmp{,6} read around the scrape."""

from __future__ import annotations

import collections
import socket
import types

import pytest
from netns import LINUX
from oracles import between, snmp_udp, udp_proc
from tcptable.prometheus import TcpCollector
from test_prometheus import collect, exporter_elsewhere, exporters, samples  # noqa: F401

pytestmark = pytest.mark.skipif(not LINUX, reason="Linux: the UDP tables")

V4, V6 = socket.AF_INET, socket.AF_INET6
NAMES = {V4: "udp4", V6: "udp6"}
LOOPBACK = {V4: "127.0.0.1", V6: "::1"}
COUNTERS = [
    "in_datagrams",
    "no_ports",
    "in_errors",
    "out_datagrams",
    "rcvbuf_errors",
    "sndbuf_errors",
    "in_csum_errors",
]


@pytest.fixture
def udp(netns):
    """Per family: two unconnected sockets, one connected, and one with the
    smallest receive buffer that dropped datagrams sent to it unread; and a
    datagram to a closed port (NoPorts)."""
    made = {V4: [], V6: []}

    def sock(family):
        s = socket.socket(family, socket.SOCK_DGRAM)
        made[family].append(s)
        s.bind((LOOPBACK[family], 0))
        return s

    for family in made:
        a, _ = sock(family), sock(family)
        sock(family).connect(a.getsockname())
        full = sock(family)
        full.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        for _ in range(50):
            a.sendto(b"x" * 1000, full.getsockname())
        a.sendto(b"x", (LOOPBACK[family], 9))
    yield made
    for sockets in made.values():
        for s in sockets:
            s.close()


def proc_drops(family: int) -> int:
    return sum(detail.drops * n for (_, detail), n in udp_proc(family).items())


def expected(made, families) -> tuple[dict, dict]:
    """tcptable_udp_sockets and tcptable_udp_socket_drops_total, from the
    test's sockets and /proc."""
    sockets = {(NAMES[f],): len(made[f]) for f in families}
    drops = {(NAMES[f],): proc_drops(f) for f in families}
    return sockets, drops


def check_counters(got: dict, families, before: dict, after: dict) -> None:
    for family in families:
        values = {n: got[f"tcptable_udp_{n}_total"][(NAMES[family],)] for n in COUNTERS}
        ns = types.SimpleNamespace(**{n: int(v) for n, v in values.items()})
        assert between(before[family], ns, after[family]) == []
    assert "tcptable_udp_num_addrs" not in got  # Windows only


def test_collector_reports_sockets_drops_and_counters(udp, backend):
    before = {f: snmp_udp(f) for f in (V4, V6)}
    got = samples(collect(TcpCollector(families=("udp4", "udp6"))))
    after = {f: snmp_udp(f) for f in (V4, V6)}
    sockets, drops = expected(udp, (V4, V6))
    assert got["tcptable_udp_sockets"] == sockets
    assert got["tcptable_udp_socket_drops_total"] == drops
    assert all(n > 0 for n in drops.values())  # the full buffers dropped
    check_counters(got, (V4, V6), before, after)
    assert not any(n.startswith(("tcptable_tcp_", "tcptable_connections")) for n in got)
    assert got["tcptable_collection_errors_total"] == {(): 0.0}


def test_families_and_stats_choose_the_metrics(udp):
    got = samples(collect(TcpCollector(families=("tcp4", "udp6"), stats=False)))
    assert got["tcptable_udp_sockets"] == {("udp6",): len(udp[V6])}
    assert {f for f, _ in got["tcptable_connections"]} == {"tcp4"}
    assert not any(n.startswith("tcptable_tcp_") for n in got)  # stats=False
    assert set(n for n in got if n.startswith("tcptable_udp_")) == {
        "tcptable_udp_sockets",
        "tcptable_udp_socket_drops_total",
    }


def test_unknown_family_names_the_udp_ones():
    with pytest.raises(ValueError, match="choose from 'tcp4', 'tcp6', 'udp4', 'udp6'"):
        TcpCollector(families=("udp",))


def test_ports_need_a_tcp_family():
    with pytest.raises(ValueError, match="count TCP connections: add a TCP family"):
        TcpCollector(families=("udp4",), ports=(443,))
    TcpCollector(families=("udp4", "tcp6"), ports=(443,))


@pytest.mark.parametrize(
    "options,families", [(["-u"], (V4, V6)), (["-u", "-4"], (V4,)), (["-t", "-u", "-6"], (V6,))]
)
def test_serve_u_exports_the_udp_metrics(udp, exporters, options, families):  # noqa: F811
    exporter = exporter_elsewhere(exporters, *options)
    before = {f: snmp_udp(f) for f in families}
    got = exporter.scrape()
    after = {f: snmp_udp(f) for f in families}
    sockets, drops = expected(udp, families)
    assert got["tcptable_udp_sockets"] == sockets
    assert got["tcptable_udp_socket_drops_total"] == drops
    check_counters(got, families, before, after)
    assert ("tcptable_connections" in got) == ("-t" in options)
    assert collections.Counter(f for f, _ in got.get("tcptable_connections", {})) == (
        collections.Counter({"tcp6": 12}) if "-t" in options else collections.Counter()
    )
