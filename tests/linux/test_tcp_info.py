"""tcp6(info=True) and tcp4(info=True) on Linux: each connection's TcpInfo
against ``ss -tanimH`` in the test's own namespace, the bytes of a transfer of
known size, and None where the OS gives none.  The argument's errors are in
tests/api/test_arguments.py (every platform)."""

from __future__ import annotations

import os
import pickle
import platform
import socket
import sys

import pytest
import tcptable
from oracles import from_tcptable, ss_info
from population import Population, wait_for
from tcptable import TcpState

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux-only: tcp_info comes from sock_diag"
)

FAMILIES = [(socket.AF_INET6, "::1", tcptable.tcp6), (socket.AF_INET, "127.0.0.1", tcptable.tcp4)]
SENT, ANSWERED = 100_000, 5_000  # bytes client -> server, server -> client


def kernel() -> tuple[int, int]:
    major, minor = platform.release().split(".")[:2]
    return int(major), int(minor)


def recv_exactly(sock: socket.socket, n: int) -> None:
    while n:
        chunk = sock.recv(min(n, 65536))
        assert chunk
        n -= len(chunk)


def quiet_pair(pop: Population, family: int, addr: str, table):
    """A connection that moved SENT bytes one way and ANSWERED the other, every
    byte acknowledged: (client, server) sockets."""
    client, server = pop.connect(pop.listener(family, addr))
    client.sendall(b"x" * SENT)
    recv_exactly(server, SENT)
    server.sendall(b"y" * ANSWERED)
    recv_exactly(client, ANSWERED)

    def settled() -> bool:
        rows = [r for r in table(info=True) if r.state == TcpState.ESTABLISHED]
        return len(rows) == 2 and all(r.info.unacked == 0 and r.tx_queue == 0 for r in rows)

    wait_for(settled, "both ends to have every byte acknowledged")
    return client, server


def our_row(table, sock: socket.socket):
    """The one ESTABLISHED row of `sock` (its local port)."""
    (row,) = [
        r
        for r in table(info=True, local_ports={sock.getsockname()[1]})
        if r.state == TcpState.ESTABLISHED
    ]
    return row


# The fields that do not move on a quiet connection, and how ss names them.
STEADY = ("snd_mss", "rcv_mss", "snd_cwnd", "snd_ssthresh", "bytes_acked", "bytes_received")


def steady(info) -> tuple:
    return (*(getattr(info, f) for f in STEADY), info.rtt_us, info.rttvar_us, info.congestion)


@pytest.fixture
def pop(netns):
    p = Population()
    yield p
    p.close()


@pytest.mark.parametrize("family, addr, table", FAMILIES, ids=["tcp6", "tcp4"])
def test_matches_ss(pop, family, addr, table):
    """Per connection, the figures that hold still on a quiet connection
    equal ss's, the RTT within ss's rounding (ms, %g), and the memory
    counters equal ss -m's skmem."""
    quiet_pair(pop, family, addr, table)
    for _ in range(10):  # a figure that moved between our look and ss's: look again
        before = {from_tcptable(r): r.info for r in table(info=True)}
        theirs = ss_info(family)
        after = {from_tcptable(r): r.info for r in table(info=True)}
        if all(steady(before[k]) == steady(after[k]) for k in before):
            break
    assert set(after) == set(theirs)
    established = [k for k in after if k.state == "ESTABLISHED"]
    assert len(established) == 2
    for key in established:
        ours, ss = after[key], theirs[key]
        assert ours.snd_mss == int(ss["mss"])
        assert ours.rcv_mss == int(ss["rcvmss"])
        assert ours.snd_cwnd == int(ss["cwnd"])
        # ss prints ssthresh only once it is set (below 0xFFFF)
        assert ours.snd_ssthresh == int(ss.get("ssthresh", 2**31 - 1))
        assert ours.congestion in ss["words"].split()
        assert ours.bytes_acked == int(ss.get("bytes_acked", 0))
        assert ours.bytes_received == int(ss.get("bytes_received", 0))
        assert ours.bytes_sent == int(ss.get("bytes_sent", 0))
        assert ours.rcv_space == int(ss["rcv_space"])
        assert "retrans" not in ss  # ss prints retrans:cur/total only when non-zero
        assert ours.total_retrans == ours.retransmits == ours.lost == 0
        rtt, rttvar = ss["rtt"].split("/")
        assert f"{ours.rtt_us / 1000:g}" == rtt
        assert f"{ours.rttvar_us / 1000:g}" == rttvar
        assert f"{ours.rto_us / 1000:g}" == ss["rto"]
        assert ours.min_rtt_us / 1000 == pytest.approx(float(ss["minrtt"]))
        for field, name in [("rmem_alloc", "r"), ("rcvbuf", "rb"), ("sndbuf", "tb")]:
            assert getattr(ours, field) == int(ss[f"skmem_{name}"]), field
        assert ours.drops == int(ss["skmem_d"])
        assert ours.ca_state == 0  # TCP_CA_Open
    listener = [k for k in after if k.state == "LISTEN"]
    assert len(listener) == 1 and after[listener[0]] is not None


@pytest.mark.parametrize("family, addr, table", FAMILIES, ids=["tcp6", "tcp4"])
def test_bytes_of_a_known_transfer(pop, family, addr, table):
    """bytes_acked counts the SYN on the side that sent it (the client's
    SYN is acknowledged like a byte; the server's SYN-ACK is acknowledged
    before its socket exists): SENT + 1 and ANSWERED; bytes_received counts
    data only, and bytes_sent the data sent."""
    client, server = quiet_pair(pop, family, addr, table)
    mine, theirs = our_row(table, client).info, our_row(table, server).info
    assert (mine.bytes_acked, mine.bytes_received, mine.bytes_sent) == (SENT + 1, ANSWERED, SENT)
    assert (theirs.bytes_acked, theirs.bytes_received, theirs.bytes_sent) == (
        ANSWERED,
        SENT,
        ANSWERED,
    )
    assert mine.data_segs_out >= 1 and theirs.data_segs_in >= 1
    assert mine.segs_out >= mine.data_segs_out and theirs.segs_in >= theirs.data_segs_in
    assert mine.bytes_retrans == theirs.bytes_retrans == 0


def test_every_field_on_this_kernel(pop):
    """Linux 4.19 and later send every field TcpInfo reads (6.18's struct is
    280 bytes): none is None; units are plausible for loopback."""
    if kernel() < (4, 19):
        pytest.skip("a kernel before 4.19 leaves later fields None (test_tcp_info_lengths)")
    client, _ = quiet_pair(pop, socket.AF_INET6, "::1", tcptable.tcp6)
    info = our_row(tcptable.tcp6, client).info
    assert isinstance(info, tcptable.TcpInfo) and len(info) == 40
    assert all(v is not None for v in info)
    assert isinstance(info.congestion, str) and info.congestion
    assert 0 < info.rtt_us < 1_000_000 and info.rto_us >= 200_000
    assert info.last_data_sent_ms < 60_000


def test_none_for_time_wait_and_request_sockets(pop):
    listener = pop.listener(socket.AF_INET6, "::1")
    pop.time_wait(listener)
    pop.syn_recv(socket.AF_INET6, "::1")
    rows = tcptable.tcp6(info=True)
    by_state = {}
    for r in rows:
        by_state.setdefault(r.state, []).append(r.info)
    assert by_state[TcpState.TIME_WAIT] == [None]
    assert by_state[TcpState.SYN_RECV] == [None]
    assert all(i is not None for i in by_state[TcpState.LISTEN])
    assert all(i is not None for i in by_state[TcpState.ESTABLISHED])


def test_none_without_info_and_from_proc(pop, backend):
    """Without info=True every row's info is None; from /proc (no tcp_info
    there) too, with info=True: documented, not an error."""
    pop.connect(pop.listener(socket.AF_INET6, "::1"))
    assert all(r.info is None for r in tcptable.tcp6())
    assert all(r.info is None for r in tcptable.tcp6(info=False))
    with_info = tcptable.tcp6(info=True)
    assert len(with_info) == 3
    if backend == "proc":
        assert all(r.info is None for r in with_info)
    else:
        assert all(isinstance(r.info, tcptable.TcpInfo) for r in with_info)


def test_rows_pickle_compare_and_print_as_before(pop):
    client, _ = pop.connect(pop.listener(socket.AF_INET6, "::1"))
    plain = tcptable.tcp6(sort=True)
    rich = tcptable.tcp6(sort=True, info=True)
    assert rich == plain  # the tuple part only: info is by name
    assert [repr(r) for r in rich] == [repr(r) for r in plain]
    assert all("info" not in repr(r) for r in rich)
    assert [tuple(r) for r in rich] == [tuple(r) for r in plain]
    for r in rich:
        back = pickle.loads(pickle.dumps(r))
        assert back == r and back.info == r.info and type(back.info) is type(r.info)
    info = rich[0].info
    assert pickle.loads(pickle.dumps(info)) == info
    assert tcptable.TcpInfo.__match_args__[:2] == ("rtt_us", "rttvar_us")


def test_sorted_rows_keep_their_own_info(pop):
    """Sorting moves rows with their info: each row's figures are its own
    connection's (its sent and received bytes)."""
    listener = pop.listener(socket.AF_INET6, "::1")
    pairs = [pop.connect(listener) for _ in range(5)]
    for n, (client, server) in enumerate(pairs, 1):
        client.sendall(b"z" * n * 1000)
        recv_exactly(server, n * 1000)
    ports = {c.getsockname()[1]: n * 1000 for n, (c, _) in enumerate(pairs, 1)}
    wait_for(
        lambda: all(
            r.info.bytes_acked == ports[r.local_port] + 1
            for r in tcptable.tcp6(info=True, local_ports=set(ports))
        ),
        "every byte acknowledged",
    )
    for sort in (False, True):
        for r in tcptable.tcp6(info=True, sort=sort, local_ports=set(ports)):
            assert r.info.bytes_sent == ports[r.local_port]


def test_info_with_other_options(pop):
    """info composes with pids, states and ports, and a query that matches
    nothing answers without the OS."""
    client, _ = pop.connect(pop.listener(socket.AF_INET6, "::1"))
    (row,) = tcptable.tcp6(
        info=True,
        pids=True,
        states={TcpState.ESTABLISHED},
        local_ports={client.getsockname()[1]},
    )
    assert row.pid == os.getpid() and row.info.snd_mss > 0
    assert tcptable.tcp6(info=True, states=()) == ()
