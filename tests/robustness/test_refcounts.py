"""Reference counts and traced memory over thousands of calls, successes and
argument errors, on every platform (the Linux-only leak test adds RSS,
descriptors and the backends' own failures)."""

from __future__ import annotations

import gc
import socket
import sys
import tracemalloc

import pytest
import tcptable
from tcptable import TcpState

CALLS = 1000


def one_round() -> None:
    tcptable.tcp6()
    tcptable.tcp4(sort=True)
    tcptable.tcp6(pids=True, states={TcpState.LISTEN, TcpState.ESTABLISHED})
    tcptable.counts(None)
    for bad, error in (({"states": [13]}, ValueError), ({"states": "LISTEN"}, TypeError)):
        with pytest.raises(error):
            tcptable.tcp4(**bad)
    with pytest.raises(ValueError):
        tcptable.counts(99)


@pytest.fixture
def sockets(netns):
    held = []
    for family, addr in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
        lst = socket.socket(family)
        lst.bind((addr, 0))
        lst.listen()
        client = socket.create_connection(lst.getsockname()[:2])
        held += [lst, client, lst.accept()[0]]
    yield held
    for s in held:
        s.close()


def test_no_reference_or_traced_memory_growth(sockets):
    members = list(TcpState)
    for _ in range(200):  # warm up: caches, interned strings, first-call allocations
        one_round()
    gc.collect()
    refs = [sys.getrefcount(m) for m in members]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(CALLS):
            one_round()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert [sys.getrefcount(m) for m in members] == refs
    # A leak of one object per call would be CALLS * 7 objects: far more.
    assert grown < 16 * 1024, f"{grown} bytes still traced after {CALLS} rounds"
