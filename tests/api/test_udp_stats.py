"""udp_stats(): the UDP counters, against /proc/net/snmp (IPv4) and
/proc/net/snmp6 (IPv6) read around the call, and counters the test moves
itself (datagrams sent, received, to a closed port, into a full buffer).

Linux keeps these counters per network namespace and per family, so inside
the test's own namespace they move only when the test moves them, and only
the family it sends on."""

from __future__ import annotations

import os
import socket
import sys

import pytest
import tcptable
from netns import LINUX, private_netns
from oracles import SNMP_UDP_FIELDS, between, snmp_udp
from population import wait_for

V4, V6 = socket.AF_INET, socket.AF_INET6
LOOPBACK = {V4: "127.0.0.1", V6: "::1"}
FIELDS = (
    "in_datagrams",
    "no_ports",
    "in_errors",
    "out_datagrams",
    "num_addrs",
    "rcvbuf_errors",
    "sndbuf_errors",
    "in_csum_errors",
)
linux_only = pytest.mark.skipif(not LINUX, reason="Linux: /proc/net/snmp{,6} is the oracle")
families = pytest.mark.parametrize("family", [V6, V4], ids=["AF_INET6", "AF_INET"])


def test_the_type_has_mib_udpstats_fields_then_linuxs():
    assert tcptable.UdpStats.__match_args__ == FIELDS
    assert tcptable.UdpStats.n_sequence_fields == 8
    assert set(SNMP_UDP_FIELDS.values()) == set(FIELDS) - {"num_addrs"}


@linux_only
@families
def test_every_counter_lies_between_two_reads_of_snmp(netns, family):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", (LOOPBACK[family], 9))  # every family's counters nonzero
        before = snmp_udp(family)
        got = tcptable.udp_stats(family)
        after = snmp_udp(family)
    assert between(before, got, after) == []
    assert got.num_addrs is None  # Linux reports no table size
    assert got.out_datagrams >= 1


def sent(family: int, n: int, to_closed_port: bool) -> None:
    """n datagrams over loopback: to a socket that reads them all, or to a
    port no socket is bound to (each one counted in NoPorts)."""
    with (
        socket.socket(family, socket.SOCK_DGRAM) as rx,
        socket.socket(family, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind((LOOPBACK[family], 0))
        to = rx.getsockname()
        if to_closed_port:
            rx.close()
        for _ in range(n):
            tx.sendto(b"datagram", to)
        if not to_closed_port:
            for _ in range(n):
                assert rx.recv(64) == b"datagram"


@linux_only
@families
def test_counters_moved_on_purpose(netns, family):
    """Exact moves: nothing else sends in the test's namespace.  The other
    family's counters stay where they were."""
    n = 7
    other = V4 if family == V6 else V6
    start, start_other = tcptable.udp_stats(family), tcptable.udp_stats(other)
    sent(family, n, to_closed_port=False)
    moved = tcptable.udp_stats(family)
    assert moved.out_datagrams - start.out_datagrams == n
    assert moved.in_datagrams - start.in_datagrams == n
    assert moved.no_ports == start.no_ports
    sent(family, n, to_closed_port=True)
    wait_for(lambda: tcptable.udp_stats(family).no_ports - moved.no_ports == n, "NoPorts to rise")
    after = tcptable.udp_stats(family)
    assert after.out_datagrams - moved.out_datagrams == n
    assert after.in_datagrams == moved.in_datagrams
    assert tcptable.udp_stats(other) == start_other
    assert tcptable.udp_stats(family) == after  # unmoved since


@linux_only
@families
def test_a_full_receive_buffer_counts_rcvbuf_errors(netns, family):
    """Datagrams into a socket with the smallest receive buffer, never
    read: the kernel drops them, in RcvbufErrors and InErrors, and in the
    socket's own row (drops), an oracle of its own."""
    start = tcptable.udp_stats(family)
    with (
        socket.socket(family, socket.SOCK_DGRAM) as rx,
        socket.socket(family, socket.SOCK_DGRAM) as tx,
    ):
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's minimum
        rx.bind((LOOPBACK[family], 0))
        for _ in range(200):
            tx.sendto(b"x" * 1000, rx.getsockname())
        port = rx.getsockname()[1]
        table = tcptable.udp6 if family == V6 else tcptable.udp4
        (row,) = [r for r in table() if r.local_port == port]
        got = tcptable.udp_stats(family)
        assert snmp_udp(family)["rcvbuf_errors"] == got.rcvbuf_errors
    assert row.drops > 0
    assert got.rcvbuf_errors - start.rcvbuf_errors == row.drops
    assert got.in_errors - start.in_errors == row.drops


@linux_only
def test_udp_stats_of_another_namespace(netns):
    """A namespace's counters are its own: datagrams sent in one leave the
    other's unchanged; netns= reads the one it names."""
    fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        mine = tcptable.udp_stats(V4)
        with private_netns():
            sent(V4, 3, to_closed_port=True)
            wait_for(lambda: tcptable.udp_stats(V4).no_ports == 3, "NoPorts to rise")
            assert tcptable.udp_stats(V4, netns=fd) == mine  # unmoved
            assert snmp_udp(V4)["no_ports"] == 3
        assert tcptable.udp_stats(V4) == mine
    finally:
        os.close(fd)


def test_stats_still_answers_for_tcp():
    """stats() keeps its type: the UDP counters have their own call."""
    assert type(tcptable.stats()) is tcptable.TcpStats


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="off Linux only")
def test_netns_off_linux():
    with pytest.raises(NotImplementedError, match="Linux-only"):
        tcptable.udp_stats(netns="/run/netns/x")


@families
def test_counters_move_with_our_own_datagrams(netns_if_possible, family):
    """On every platform (Windows' GetUdpStatisticsEx2 or GetUdpStatisticsEx,
    Wine's included): every counter is an int where the platform has it and
    None where not, and datagrams the test sends over loopback move
    out_datagrams and in_datagrams, and one to a closed port no_ports, by
    at least as many (other processes may send too where no namespace of
    the test's own could be made)."""
    linux_only_fields = {"rcvbuf_errors", "sndbuf_errors", "in_csum_errors"}
    absent = {"num_addrs"} if LINUX else linux_only_fields
    before = tcptable.udp_stats(family)
    assert {f for f in FIELDS if getattr(before, f) is None} == absent
    assert all(type(getattr(before, f)) is int for f in set(FIELDS) - absent)
    with (
        socket.socket(family, socket.SOCK_DGRAM) as rx,
        socket.socket(family, socket.SOCK_DGRAM) as tx,
        socket.socket(family, socket.SOCK_DGRAM) as closed,
    ):
        rx.bind((LOOPBACK[family], 0))
        closed.bind((LOOPBACK[family], 0))
        nowhere = closed.getsockname()
        closed.close()
        for _ in range(5):
            tx.sendto(b"x", rx.getsockname())
        for _ in range(5):
            rx.recv(1)
        tx.sendto(b"x", nowhere)  # no socket on that port: no_ports

        def moved() -> bool:
            now = tcptable.udp_stats(family)
            return (
                now.out_datagrams - before.out_datagrams >= 6
                and now.in_datagrams - before.in_datagrams >= 5
                and now.no_ports - before.no_ports >= 1
            )

        wait_for(moved, "the UDP counters to count our datagrams")
