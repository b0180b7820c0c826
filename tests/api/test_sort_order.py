"""sort=True orders rows as GetTcp6Table(Order=TRUE): local address bytes,
local scope id, local port, remote address bytes, remote scope id, remote port."""

import collections
import socket

import pytest
import tcptable
from netns import LINUX, ip
from population import LL_A, VETH_B, Population


def v6_key(row):
    return (
        socket.inet_pton(socket.AF_INET6, row.local_addr),
        row.local_scope_id,
        row.local_port,
        socket.inet_pton(socket.AF_INET6, row.remote_addr),
        row.remote_scope_id,
        row.remote_port,
    )


def v4_key(row):
    return (
        socket.inet_pton(socket.AF_INET, row.local_addr),
        row.local_port,
        socket.inet_pton(socket.AF_INET, row.remote_addr),
        row.remote_port,
    )


@pytest.mark.parametrize("fn,key", [(tcptable.tcp6, v6_key), (tcptable.tcp4, v4_key)])
def test_sorted_table_is_in_windows_order(population, backend, fn, key):
    rows = fn(sort=True)
    assert len(rows) > 10
    assert list(rows) == sorted(rows, key=key)
    # The same rows as the unsorted table, only reordered.
    assert collections.Counter(rows) == collections.Counter(fn())


def test_sort_with_a_states_filter(population, backend):
    states = {tcptable.TcpState.ESTABLISHED, tcptable.TcpState.LISTEN}
    rows = tcptable.tcp6(states=states, sort=True)
    assert list(rows) == sorted(tcptable.tcp6(states=states), key=v6_key)
    assert {r.state for r in rows} == states


def test_sort_orders_by_address_bytes_not_text(netns, backend):
    """127.10.0.1 sorts after 127.9.0.1 by bytes, before it as text."""
    socks = []
    try:
        for addr in ("127.10.0.1", "127.9.0.1", "127.0.0.1", "127.255.255.254"):
            s = socket.socket()
            socks.append(s)
            s.bind((addr, 0))
            s.listen()
        rows = tcptable.tcp4(sort=True)
        assert [r.local_addr for r in rows] == [
            "127.0.0.1",
            "127.9.0.1",
            "127.10.0.1",
            "127.255.255.254",
        ]
    finally:
        for s in socks:
            s.close()


@pytest.mark.skipif(not LINUX, reason="Linux-only: link-local addresses made with ip")
def test_scope_id_sorts_before_the_port(netns, backend):
    """fe80::1 on both ends of a veth pair: the listener on the lower ifindex
    sorts first although its port is the higher one."""
    pop = Population()
    try:
        index_a, index_b = pop._veth()
        ip("addr", "add", f"{LL_A}/64", "dev", VETH_B, "nodad")
        low, high = sorted((index_a, index_b))
        for scope, port in ((high, 40000), (low, 40001)):
            s = pop._sock(socket.AF_INET6)
            s.bind((LL_A, port, 0, scope))
            s.listen()
        rows = tcptable.tcp6(states={tcptable.TcpState.LISTEN}, sort=True)
        got = [(r.local_scope_id, r.local_port) for r in rows]
        if backend == "proc":  # no scope ids: the port decides
            assert got == [(0, 40000), (0, 40001)]
        else:
            assert got == [(low, 40001), (high, 40000)]
    finally:
        pop.close()
