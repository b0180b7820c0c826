"""Tables larger than one netlink batch (32 KiB) and one /proc read chunk
(64 KiB), read concurrently from threads, without leaking references."""

import concurrent.futures
import socket
import sys

import pytest
import tcptable
from netns import private_netns
from oracles import proc_rows, ss_rows, table, without_scopes
from population import Population

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux-only: compared with ss and /proc"
)

PAIRS = 700  # per family: 700 TIME_WAIT rows plus the listeners


@pytest.fixture(scope="module")
def crowd():
    """Hundreds of TIME_WAIT rows (which hold no file descriptor) per family,
    and a hundred listeners on each of ::1 and 127.0.0.1."""
    with private_netns():
        pop = Population()
        try:
            for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
                listener = pop.listener(family, addr, backlog=PAIRS)
                for _ in range(PAIRS):
                    pop.time_wait(listener)
                for _ in range(100):
                    pop.listener(family, addr)
            pop.settle()
            yield pop
        finally:
            pop.close()


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_large_table_equals_the_oracles(crowd, backend, family):
    name = "tcp6" if family == socket.AF_INET6 else "tcp4"
    got = table(tcptable, family)
    assert sum(got.values()) == PAIRS + 101
    assert without_scopes(got) == proc_rows(family)
    assert got == ss_rows(family)
    assert got == {r: n for r, n in crowd.expected.items() if r.family == name}


def test_concurrent_calls_agree(crowd, backend):
    """The GIL is released during the dump: threads must not disturb each other."""
    want = (tcptable.tcp6(sort=True), tcptable.tcp4(sort=True))
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda _: (tcptable.tcp6(sort=True), tcptable.tcp4(sort=True)), range(16))
        )
    assert all(r == want for r in results)


def test_no_reference_leaks(crowd, backend):
    members = list(tcptable.TcpState)
    tcptable.tcp6()  # warm up
    before = [sys.getrefcount(m) for m in members]
    for _ in range(20):
        tcptable.tcp6()
        tcptable.tcp4(sort=True)
        tcptable.counts(None)
        with pytest.raises(ValueError):
            tcptable.tcp6(states=[tcptable.TcpState.LISTEN, 99])
    assert [sys.getrefcount(m) for m in members] == before
