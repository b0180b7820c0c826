"""Many threads polling while others churn connections, and fork().

What "no duplicated row" can honestly mean: a sock_diag dump is resumed
between batches by (hash bucket, position in bucket), so a connection that is
created in a bucket the kernel is halfway through can make an unchanged socket
appear twice, or not at all, in one dump (linux-sock-diag.md, "Consistency"),
exactly as in `ss`.  Within one batch no socket can repeat: each bucket is
walked once under its lock and a socket never changes bucket.  The kernel's
first batch of a dump holds 30 TCP rows, so this test keeps each family's
table below that (churned connections end with RST, leaving no TIME_WAIT) and
checks the bound on every result; then every result must hold each stable
socket exactly once.  Churned rows may repeat: two distinct sockets being
torn down at once can both read CLOSE with zeroed ends (row_checks.py).
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import threading
import time
import warnings

import pytest
import tcptable
from native_tools import asan_preloaded
from oracles import row_tuple
from population import Population
from row_checks import check_once, check_rows
from tcptable import TcpState

POLLERS = 8
POLL_SECONDS = 10.0
CHURN_PER_THREAD = 1000  # at least; churn goes on until polling ends
FIRST_BATCH_ROWS = 30
FAMILIES = {socket.AF_INET6: "::1", socket.AF_INET: "127.0.0.1"}
RST_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


def expected_row(family: int, state: TcpState, local: tuple, remote: tuple) -> tuple:
    """A row as our own sockets' getsockname()/getpeername() describe it."""
    if family == socket.AF_INET6:
        return (state, local[0], 0, local[1], remote[0], 0, remote[1])
    return (state, local[0], local[1], remote[0], remote[1])


def stable_population(pop: Population) -> dict[int, set]:
    """Per family: a listener and four ESTABLISHED pairs (9 rows)."""
    stable = {}
    for family, addr in FAMILIES.items():
        lst = pop.listener(family, addr)
        any_addr = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
        rows = {expected_row(family, TcpState.LISTEN, lst.getsockname(), any_addr)}
        for _ in range(4):
            for s in pop.connect(lst):
                rows.add(
                    expected_row(family, TcpState.ESTABLISHED, s.getsockname(), s.getpeername())
                )
        stable[family] = rows
    return stable


def sort_key(family: int, row: tuple) -> tuple:
    if family == socket.AF_INET6:
        _, la, ls, lp, ra, rs, rp = row
        return (socket.inet_pton(family, la), ls, lp, socket.inet_pton(family, ra), rs, rp)
    _, la, lp, ra, rp = row
    return (socket.inet_pton(family, la), lp, socket.inet_pton(family, ra), rp)


def check_full(rows: tuple, family: int, stable: set) -> None:
    check_rows(rows, family, unique=False)
    assert len(rows) < FIRST_BATCH_ROWS, "table outgrew one dump batch: see module doc"
    check_once(rows, stable, row_tuple)


def poll_once(i: int, stable: dict[int, set]) -> None:
    v6, v4 = socket.AF_INET6, socket.AF_INET
    kind = i % 5
    if kind == 0:
        check_full(tcptable.tcp6(), v6, stable[v6])
    elif kind == 1:
        check_full(tcptable.tcp4(), v4, stable[v4])
    elif kind == 2:
        rows = tcptable.tcp6(sort=True)
        check_full(rows, v6, stable[v6])
        keys = [sort_key(v6, r) for r in rows]
        assert keys == sorted(keys)
    elif kind == 3:
        rows = tcptable.tcp4(states={TcpState.ESTABLISHED})
        check_rows(rows, v4, unique=False)
        assert {r.state for r in rows} <= {TcpState.ESTABLISHED}
        check_once(rows, {r for r in stable[v4] if r[0] is TcpState.ESTABLISHED}, row_tuple)
    else:
        counts = tcptable.counts(None)
        assert set(counts) == set(TcpState)
        assert counts[TcpState.ESTABLISHED] >= 16 and counts[TcpState.LISTEN] >= 2


class Churn:
    """Progress of the churning threads, shared with the pollers."""

    def __init__(self, threads: int) -> None:
        self.counts = [0] * threads
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def enough(self) -> bool:
        return bool(self.errors) or min(self.counts) >= CHURN_PER_THREAD

    def run(self, index: int, family: int) -> None:
        """Opens and closes connections on its own listener until stopped."""
        try:
            with socket.socket(family, socket.SOCK_STREAM) as lst:
                lst.bind((FAMILIES[family], 0))
                lst.listen(8)
                while not self.stop.is_set():
                    with socket.socket(family, socket.SOCK_STREAM) as c:
                        c.connect(lst.getsockname())
                        server, _ = lst.accept()
                        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST_ON_CLOSE)
                    server.close()
                    self.counts[index] += 1
        except BaseException as e:  # re-raised by the test thread
            self.errors.append(e)


def poll(stable, deadline: float, churn: Churn, polls: list, errors: list) -> None:
    """Polls for POLL_SECONDS, and until every churner did its share."""
    try:
        i = 0
        while time.monotonic() < deadline or not churn.enough():
            poll_once(i, stable)
            i += 1
        polls.append(i)
    except BaseException as e:
        errors.append(e)


def test_threads_poll_while_others_churn(netns):
    pop = Population()
    try:
        stable = stable_population(pop)
        families = [family for family in FAMILIES for _ in range(2)]
        churn, polls, errors = Churn(len(families)), [], []
        churners = [
            threading.Thread(target=churn.run, args=(i, family))
            for i, family in enumerate(families)
        ]
        deadline = time.monotonic() + POLL_SECONDS
        pollers = [
            threading.Thread(target=poll, args=(stable, deadline, churn, polls, errors))
            for _ in range(POLLERS)
        ]
        for t in churners + pollers:
            t.start()
        for t in pollers:
            t.join()
        churn.stop.set()
        for t in churners:
            t.join()
    finally:
        pop.close()
    if errors or churn.errors:
        raise (errors + churn.errors)[0]
    print(
        f"\n{sum(polls)} polls by {POLLERS} threads while {sum(churn.counts)} connections churned"
    )
    assert len(polls) == POLLERS and min(polls) > 0
    assert min(churn.counts) >= CHURN_PER_THREAD


def read_child(read_end: int, pid: int) -> object:
    """The child's JSON report; a child stuck for a minute fails the test."""
    ready, _, _ = select.select([read_end], [], [], 60)
    if not ready:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise AssertionError("the forked child hung")
    with os.fdopen(read_end, "rb") as f:
        return json.loads(f.read() or b"null")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX-only: fork()")
def test_child_of_a_polling_process_polls(netns):
    """fork() while another thread is inside the extension: the child's
    tables show the same stable sockets as the parent's.  Under .ci/sanitize
    the parent has no second thread at all: gcc 12's ASan allocator does not
    guard fork(), so a child forked while another thread allocates, or frees
    as it exits (a thread started and told to stop at once did, and one run
    hung), can deadlock inside ASan itself."""
    pop = Population()
    try:
        stable = stable_population(pop)
        stop, errors = threading.Event(), []

        def background():
            i = 0
            while not stop.is_set():
                try:
                    poll_once(i, stable)
                except BaseException as e:
                    errors.append(e)
                    return
                i += 1

        thread = threading.Thread(target=background)
        if not asan_preloaded():
            thread.start()
        views = []
        try:
            for _ in range(20):
                rows = tcptable.tcp6(sort=True)
                assert set(rows) == stable[socket.AF_INET6]
                read_end, write_end = os.pipe()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
                    pid = os.fork()
                if pid == 0:  # the child: poll, report, leave without cleanup
                    code = 1
                    try:
                        os.close(read_end)
                        for i in range(10):
                            poll_once(i, stable)
                        view = [list(map(str, r)) for r in tcptable.tcp6(sort=True)]
                        os.write(write_end, json.dumps(view).encode())
                        code = 0
                    finally:
                        os._exit(code)
                os.close(write_end)
                child_view = read_child(read_end, pid)
                _, status = os.waitpid(pid, 0)
                assert os.waitstatus_to_exitcode(status) == 0
                assert child_view == [list(map(str, r)) for r in rows]  # nothing churns here
                views.append(child_view)
        finally:
            stop.set()
            if thread.is_alive():
                thread.join()
    finally:
        pop.close()
    if errors:
        raise errors[0]
    assert len(views) == 20
