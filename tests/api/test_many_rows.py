"""Tables far larger than the row builder's per-call caches, against ss.

Thousands of connections whose client ends have distinct addresses and ports
drive every path of the address and port caches (hits, misses, replaced
entries) and the radix sort over many varying key bytes; the benchmark builds
its tables the same way (benchmarks/connections.py).
"""

import collections
import os
import socket
import sys

import oracles
import pytest
import tcptable
from netns import private_netns
from test_sort_order import v4_key, v6_key

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks"))
from connections import Connections, prepare_namespace  # noqa: E402

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="Linux-only: its population needs an AnyIP route and sysctl in a network namespace",
)

CONNECTIONS = 1500  # 3,000 rows: far beyond 256 cached addresses, 1,024 ports
TABLE = {socket.AF_INET6: (tcptable.tcp6, v6_key), socket.AF_INET: (tcptable.tcp4, v4_key)}


@pytest.fixture(scope="module", params=[socket.AF_INET6, socket.AF_INET], ids=["tcp6", "tcp4"])
def many(request):
    """A namespace holding CONNECTIONS established connections of one family."""
    with private_netns():
        prepare_namespace()
        conns = Connections(request.param, CONNECTIONS)
        try:
            yield request.param
        finally:
            conns.close()


def test_many_rows_match_ss(many, backend):
    ours = oracles.table(tcptable, many)
    assert sum(ours.values()) >= 2 * CONNECTIONS
    assert ours == oracles.ss_rows(many)


def test_many_rows_sorted(many, backend):
    fn, key = TABLE[many]
    rows = fn(sort=True)
    assert len(rows) >= 2 * CONNECTIONS
    assert list(rows) == sorted(rows, key=key)
    assert collections.Counter(rows) == collections.Counter(fn())


def test_sort_keeps_rows_with_equal_keys(netns, backend):
    """Two SO_REUSEPORT listeners on one address and port: identical keys."""
    socks = []
    try:
        for _ in range(2):
            s = socket.socket(socket.AF_INET6)
            socks.append(s)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("::1", socks[0].getsockname()[1] if len(socks) > 1 else 0))
            s.listen()
        rows = tcptable.tcp6(sort=True)
        port = socks[0].getsockname()[1]
        assert [(r.state, r.local_addr, r.local_port) for r in rows] == [
            (tcptable.TcpState.LISTEN, "::1", port)
        ] * 2
    finally:
        for s in socks:
            s.close()
