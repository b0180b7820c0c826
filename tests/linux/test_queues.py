"""rx_queue and tx_queue against ss's Recv-Q and Send-Q: unread data, data a
peer does not take, and a listener's full accept queue, on both backends."""

from __future__ import annotations

import socket
import sys

import pytest
import tcptable
from oracles import from_tcptable, socket_row, ss_details
from population import Population, wait_for

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="queues are reported on Linux only"
)

V6 = socket.AF_INET6


def our_queues(row_key) -> tuple[int, int]:
    """(rx, tx) of the one row with this key, from tcptable."""
    (ours,) = [(r.rx_queue, r.tx_queue) for r in tcptable.tcp6() if from_tcptable(r) == row_key]
    return ours


def ss_queues(row_key) -> tuple[int, int]:
    """(rx, tx) of the one row with this key, from ss."""
    (theirs,) = [(d.rx_queue, d.tx_queue) for (row, d) in ss_details(V6) if row == row_key]
    return theirs


def queues_of(row_key, backend) -> tuple[tuple[int, int], tuple[int, int]]:
    """(ours, ss's) (rx, tx) of the one row with this key."""
    return our_queues(row_key), ss_queues(row_key)


@pytest.fixture
def pop(netns):
    p = Population()
    yield p
    p.close()


def test_unread_bytes_are_the_receivers_rx_queue(pop, backend):
    client, server = pop.connect(pop.listener(V6, "::1"))
    client.sendall(b"x" * 1000)
    key = socket_row(V6, "ESTABLISHED", server.getsockname(), server.getpeername())
    wait_for(lambda: queues_of(key, backend)[0][0] == 1000, "1000 bytes to arrive")
    ours, theirs = queues_of(key, backend)
    assert ours == theirs == (1000, 0)


def test_bytes_a_peer_does_not_take_are_the_senders_tx_queue(pop, backend):
    client, server = pop.small_pair(V6, "::1")
    pop.stuff(client)  # the peer never reads: its window closes
    key = socket_row(V6, "ESTABLISHED", client.getsockname(), client.getpeername())
    # The peer's kernel may still open its window a little (collapsing its
    # receive queue), so the send queue only shrinks: ours must lie between
    # ss's looks before and after it.
    before = ss_queues(key)
    ours = our_queues(key)
    after = ss_queues(key)
    assert ours[0] == before[0] == after[0] == 0
    assert before[1] >= ours[1] >= after[1] > 0


def test_a_full_accept_queue_is_the_listeners_rx_queue(pop, backend):
    """A listener with backlog 2 and three connections nobody accepts:
    Recv-Q 3 (the kernel lets backlog + 1 in), Send-Q the backlog limit with
    netlink; /proc has no such column (0)."""
    lst = pop.listener(V6, "::1", backlog=2)
    clients = []
    for _ in range(3):
        c = socket.socket(V6)
        pop.sockets.append(c)
        c.connect(lst.getsockname())
        clients.append(c)
    key = socket_row(V6, "LISTEN", lst.getsockname(), None)
    wait_for(lambda: queues_of(key, backend)[0][0] == 3, "the accept queue to fill")
    ours, theirs = queues_of(key, backend)
    assert theirs == (3, 2)
    assert ours == (3, 2 if backend == "netlink" else 0)
