"""Owners (pids=True): pid, uid and inode of every row, against the holders'
own reports (their pid, uid and each socket's fstat() inode), ss -tanpe and
psutil, on both Linux backends."""

from __future__ import annotations

import collections
import os
import socket
import subprocess
import sys
import threading

import pytest
import tcptable
from holders import Holder, owner_view
from netns import skip_or_fail
from oracles import Detail, from_tcptable, ss_details
from population import Population
from unprivileged import run_as

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux owners: /proc/<pid>/fd and ss"
)

V6, V4 = socket.AF_INET6, socket.AF_INET


@pytest.fixture
def holders(netns):
    """Sockets held by children of three uids, one of them forked (two
    processes hold its sockets), plus a TIME_WAIT row and the test's own."""
    if os.geteuid() != 0:
        skip_or_fail("holders of other uids need root")
    made = [
        Holder(0, V6, "::1"),
        Holder(1000, V4, "127.0.0.1"),
        Holder(1001, V6, "::1", fork=True),
        Holder(1002, V4, "127.0.0.1", fork=True),
    ]
    pop = Population()
    pop.time_wait(pop.listener(V6, "::1"))
    pop.connect(pop.listener(V4, "127.0.0.1"))
    try:
        yield made, pop
    finally:
        for h in made:
            h.close()
        pop.close()


def test_every_held_socket_has_its_holders_pid_uid_and_inode(holders, backend):
    made, _ = holders
    for h in made:
        view = owner_view((tcptable.tcp6 if h.family == V6 else tcptable.tcp4)(pids=True))
        for held in h.held:
            assert view[held.row] == [(held.pid, held.uid, held.inode)], held


def test_a_socket_shared_across_fork_has_the_lowest_pid(holders):
    made, _ = holders
    forked = [h for h in made if h.forked]
    assert forked
    for h in forked:
        both = {h.pid, h.forked}
        view = owner_view((tcptable.tcp6 if h.family == V6 else tcptable.tcp4)(pids=True))
        for held in h.held:
            ((pid, _, _),) = view[held.row]
            assert pid == min(both)
        # ss lists both holders of each of those sockets
        details = ss_details(h.family)
        for held in h.held:
            line = subprocess.run(
                ["ss", "-tanpH", "src", f"[{held.row.local_addr}]:{held.row.local_port}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert all(f"pid={p}," in line for p in both), line
        assert details


def owner_details(family: int) -> collections.Counter:
    """tcptable's rows with owners, in ss_details()' shape.  The /proc
    backend's LISTEN rows have no backlog limit (tx_queue 0)."""
    rows = (tcptable.tcp6 if family == V6 else tcptable.tcp4)(pids=True)
    return collections.Counter(
        (from_tcptable(r), Detail(r.rx_queue, r.tx_queue, r.pid, r.uid, r.inode)) for r in rows
    )


def ss_in_backend_terms(family: int, backend: str) -> collections.Counter:
    rows = ss_details(family)
    if backend == "proc":
        rows = collections.Counter(
            {
                (row, d._replace(tx_queue=0) if row.state == "LISTEN" else d): n
                for (row, d), n in rows.items()
            }
        )
    return rows


@pytest.mark.parametrize("family", [V6, V4], ids=["tcp6", "tcp4"])
def test_whole_table_with_owners_equals_ss(holders, backend, family):
    """Every row: endpoints, state, queues, lowest pid, uid and inode as
    ss -tanpe shows them (TIME_WAIT: no pid, uid or inode)."""
    ours = owner_details(family)
    assert ours == ss_in_backend_terms(family, backend)
    if family == V6:
        time_wait = [d for (row, d) in ours if row.state == "TIME_WAIT"]
        assert time_wait and all(d.pid is d.uid is d.inode is None for d in time_wait)


def test_owners_equal_psutil(holders, backend):
    """psutil names one holder of a socket several processes hold (not
    always the lowest pid): there ours must be the lowest of the holders and
    psutil's one of them; everywhere else the pids are equal."""
    psutil = pytest.importorskip("psutil")
    made, _ = holders

    def key(state, laddr, lport, raddr, rport):
        return (state, laddr, lport, *(("", 0) if state == "LISTEN" else (raddr, rport)))

    shared = {
        key(
            h.row.state, h.row.local_addr, h.row.local_port, h.row.remote_addr, h.row.remote_port
        ): {
            holder.pid,
            holder.forked,
        }
        for holder in made
        if holder.forked
        for h in holder.held
    }
    theirs = collections.Counter(
        (key(c.status, c.laddr.ip, c.laddr.port, *(c.raddr or ("", 0))), c.pid)
        for c in psutil.net_connections(kind="tcp")
    )
    ours = collections.Counter(
        (key(r.state.name, r.local_addr, r.local_port, r.remote_addr, r.remote_port), r.pid)
        for r in tcptable.tcp6(pids=True) + tcptable.tcp4(pids=True)
    )
    assert len(shared) == 6
    for k, pids in shared.items():
        ((their_pid,),) = [[p for (kk, p) in theirs if kk == k]]
        assert their_pid in pids
        assert ours[(k, min(pids))] == 1
        del theirs[(k, their_pid)], ours[(k, min(pids))]
    assert ours == theirs


def test_pids_false_leaves_owners_none(holders):
    for r in tcptable.tcp6() + tcptable.tcp4():
        assert r.pid is r.uid is r.inode is None


def unprivileged_view(uid: int) -> dict:
    """In a forked child that drops to `uid` (no capabilities left), with the
    extension already loaded: its own socket pair, and every row with owners."""

    def view() -> dict:
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen()
        client = socket.socket()
        client.connect(lst.getsockname())
        server, _ = lst.accept()
        with lst, client, server:
            rows = tcptable.tcp4(pids=True) + tcptable.tcp6(pids=True)
            return {
                "pid": os.getpid(),
                "inodes": [os.fstat(s.fileno()).st_ino for s in (lst, client, server)],
                "rows": [[r.local_port, r.remote_port, r.pid, r.uid, r.inode] for r in rows],
            }

    return run_as(uid, view)


def test_an_unprivileged_caller_gets_its_own_pids_and_no_others(holders, backend):
    """As uid 65534: its own sockets carry its pid; the other uids' sockets
    keep pid None but still have uid and inode; nothing fails."""
    made, _ = holders
    report = unprivileged_view(65534)
    # By inode, not port: a holder's ::1 socket may have the child's port number.
    own = [r for r in report["rows"] if r[4] in report["inodes"]]
    assert sorted(r[4] for r in own) == sorted(report["inodes"])
    assert all(r[2] == report["pid"] and r[3] == 65534 for r in own)
    # No other process's pid (the child also holds the fds it inherited).
    assert {r[2] for r in report["rows"]} <= {report["pid"], None}
    held_ports = {h.row.local_port for holder in made for h in holder.held}
    others = [r for r in report["rows"] if r[0] in held_ports and r not in own]
    assert len(others) == sum(len(h.held) for h in made)
    assert all(r[2] is None and isinstance(r[3], int) and r[4] for r in others)


def test_sockets_and_processes_that_come_and_go_during_the_scan(holders, backend):
    """Connections opened and closed and processes started and ended while
    owners are looked up: no call fails, and the stable holders keep theirs."""
    made, _ = holders
    stop = threading.Event()

    def churn_sockets():
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen(64)
        while not stop.is_set():
            c = socket.create_connection(lst.getsockname())
            s, _ = lst.accept()
            c.close()
            s.close()
        lst.close()

    def churn_processes():
        while not stop.is_set():
            subprocess.run([sys.executable, "-c", "import socket; socket.socket()"])

    workers = [threading.Thread(target=churn_sockets), threading.Thread(target=churn_processes)]
    for w in workers:
        w.start()
    try:
        for _ in range(100):
            view = owner_view(tcptable.tcp6(pids=True) + tcptable.tcp4(pids=True))
            for h in made:
                for held in h.held:
                    # Under churn a dump may repeat a row (docs/linux.md says
                    # so): every copy must name the holder.
                    assert set(view[held.row]) == {(held.pid, held.uid, held.inode)}
            for owners in view.values():
                assert all(pid is None or pid > 0 for pid, _, _ in owners)
    finally:
        stop.set()
        for w in workers:
            w.join()
