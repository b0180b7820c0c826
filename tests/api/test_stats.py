"""stats(): the TCP counters, against /proc/net/snmp read around the call.

Linux keeps these counters per network namespace, so inside the test's own
namespace they move only when the test moves them.  Under Wine (Windows
CPython, tests/windows), GetTcpStatisticsEx is served from the same host
counters, which the test reads as Z:\\proc\\net\\snmp."""

from __future__ import annotations

import os
import socket
import struct
import sys

import pytest
import tcptable
from netns import LINUX, WINE, private_netns
from oracles import SNMP_FIELDS, between, snmp_tcp
from population import wait_for

ORDER = [*SNMP_FIELDS.values(), "num_conns"]

needs_snmp = pytest.mark.skipif(
    not (LINUX or WINE), reason="needs /proc/net/snmp: Linux, or Windows CPython under Wine"
)


def test_the_type_has_mib_tcpstats_fields_in_order():
    assert tcptable.TcpStats.__match_args__ == tuple(ORDER)
    assert tcptable.TcpStats.n_sequence_fields == 15


@needs_snmp
@pytest.mark.parametrize("family", [socket.AF_INET6, socket.AF_INET])
def test_every_counter_lies_between_two_reads_of_snmp(netns, family):
    before = snmp_tcp()
    got = tcptable.stats(family)
    after = snmp_tcp()
    assert between(before, got, after) == []
    assert got.max_conn == -1  # dynamic: Linux has no fixed limit
    if LINUX:
        assert got.num_conns is None  # Linux reports no table size
    else:
        assert isinstance(got.num_conns, int)


@pytest.mark.skipif(not LINUX, reason="Linux-only: one set of counters for both families")
def test_family_changes_nothing_on_linux(netns):
    assert tcptable.stats(socket.AF_INET) == tcptable.stats(socket.AF_INET6) == tcptable.stats()


@needs_snmp
def test_counters_moved_on_purpose(netns):
    n = 5
    start = tcptable.stats()
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::1", 0))
        listener.listen(n)
        pairs = []
        for _ in range(n):
            client = socket.create_connection(listener.getsockname()[:2])
            pairs.append((client, listener.accept()[0]))
        opened = tcptable.stats()
        assert opened.active_opens - start.active_opens >= n
        assert opened.passive_opens - start.passive_opens >= n
        assert opened.curr_estab - start.curr_estab >= 2 * n
        assert opened.out_segs > start.out_segs and opened.in_segs > start.in_segs
        # SO_LINGER with a zero timeout: close() sends a RST.
        client, server = pairs[0]
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        wait_for(lambda: tcptable.stats().out_rsts > opened.out_rsts, "out_rsts to grow")
        for client, server in pairs:
            client.close()
            server.close()


@pytest.mark.skipif(not LINUX, reason="Linux-only: network namespaces")
def test_stats_of_another_namespace(netns):
    """A namespace's counters are its own: connections made in one leave the
    other's unchanged."""
    fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        mine = tcptable.stats()
        with private_netns():
            with socket.socket() as listener:
                listener.bind(("127.0.0.1", 0))
                listener.listen()
                with socket.create_connection(listener.getsockname()):
                    other = tcptable.stats()
                    assert tcptable.stats(netns=fd) == mine  # unmoved
        assert other.active_opens == 1
        assert tcptable.stats() == mine
    finally:
        os.close(fd)


@pytest.mark.parametrize("call", ["stats", "udp_stats"])
@pytest.mark.parametrize(
    "family,error", [(None, ValueError), (99, ValueError), ("AF_INET", TypeError)]
)
def test_bad_family(call, family, error):
    with pytest.raises(error, match="family"):
        getattr(tcptable, call)(family)


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="off Linux only")
def test_netns_off_linux():
    with pytest.raises(NotImplementedError, match="Linux-only"):
        tcptable.stats(netns="/run/netns/x")
