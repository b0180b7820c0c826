"""Threads without a GIL: importing tcptable keeps a free-threaded build
free-threaded, and 8 threads calling every entry point at once, one Watcher
shared by all, while another process churns connections in the test's
namespace, get well formed results and Watcher events that replay exactly.

Each thread also polls a Watcher of its own and replays every poll over its
first in order (test_watcher.apply: whatever a poll closes must be in the
replay); the shared Watcher's polls come back to the threads in any order,
so they are summed as signed multisets (test_watcher.signed).  After the
churn stops, every replay must equal an independent read of the table
(/proc).  The table stays below one dump batch (see test_concurrency.py), so
each netlink dump is one consistent walk and the replays can be exact.

.ci/tsan runs this module against a ThreadSanitizer build."""

from __future__ import annotations

import collections
import os
import pkgutil
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

import pytest
import tcptable
from netns import LINUX, entered
from oracles import from_tcptable, without_scopes
from population import Population
from row_checks import check_once, check_rows
from tcptable import TcpState, Watcher
from test_watcher import FIRST_BATCH_ROWS, apply, family_rows, oracle, seen, signed

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
THREADS = 8
# 20 s where threads really run at once.  With the GIL they take turns: the
# same calls and checks in 5 s prove the same results, and the parallel
# interleavings the long run is for cannot happen there.
SECONDS = float(os.environ.get("TCPTABLE_STRESS_SECONDS") or (20 if FREE_THREADED else 5))
# A thread slower than this past the end is stuck (TSan runs ~10x slower).
JOIN_GRACE = 120.0
HERE = Path(__file__).parent
# test_watcher and the support code it imports.
CHILD_PATH = [str(HERE), str(HERE.parent / "support")]
# The churning process: test_watcher.Churn on a listener per family (at most
# 6 pairs each, half closed and reset: no TIME_WAIT), until SIGTERM.
CHURN = f"""
import signal, socket, sys, threading
sys.path[:0] = {CHILD_PATH!r}
from test_watcher import Churn
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
churns = []
for family, addr in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
    lst = socket.socket(family)
    lst.bind((addr, 0))
    lst.listen(16)
    churns.append(Churn(lst))
for c in churns:
    c.start()
print("churning", flush=True)
stop.wait()
for c in churns:
    c.finish()
print(sum(c.done for c in churns), flush=True)
"""

pytestmark = pytest.mark.skipif(not LINUX, reason="Linux-only: namespaces and a churning process")


def test_importing_every_module_leaves_the_gil_off():
    if not FREE_THREADED:
        pytest.skip("a GIL build: sys._is_gil_enabled() is True whatever is imported")
    # All but __main__, which runs the CLI when imported (tcptable.cli is its code).
    names = [m.name for m in pkgutil.walk_packages(tcptable.__path__, "tcptable.")]
    names = [name for name in names if name != "tcptable.__main__"]
    assert {"tcptable._tcptable", "tcptable.watch", "tcptable.cli"} <= set(names)
    code = (
        f"import importlib, sys\nfor name in {names!r}:\n    importlib.import_module(name)\n"
        "print(sys._is_gil_enabled())"
    )
    # PYTHON_GIL=1 would turn it on whatever the modules declare.
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    # A module without Py_mod_gil would re-enable it, with a RuntimeWarning.
    assert proc.stdout == "False\n", proc.stderr
    assert "GIL" not in proc.stderr, proc.stderr


class Stable:
    """Sockets that live through the run: per family a listener and two
    ESTABLISHED pairs in the test's namespace, a listener in a named one."""

    def __init__(self, pop: Population, other_netns: str) -> None:
        self.rows, self.ports = {}, {}
        for family, addr in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
            lst = pop.listener(family, addr)
            pop.connect(lst)
            pop.connect(lst)
            self.ports[family] = lst.getsockname()[1]
            self.rows[family] = set(family_rows(pop.expected, family))
        with entered(other_netns):
            self.elsewhere = socket.socket(socket.AF_INET6)
        self.elsewhere.bind(("::1", 0))
        self.elsewhere.listen()
        self.elsewhere_port = self.elsewhere.getsockname()[1]


def check_table(rows: tuple, family: int, stable: Stable, pids: bool = False) -> None:
    check_rows(rows, family, unique=False)  # churned rows may repeat (row_checks.py)
    assert len(rows) < FIRST_BATCH_ROWS, "the table outgrew one dump batch: see the module doc"
    check_once(rows, stable.rows[family], from_tcptable)
    if pids:
        mine = [r for r in rows if from_tcptable(r) in stable.rows[family]]
        assert {(r.pid, r.uid) for r in mine} == {(os.getpid(), os.getuid())}


class Worker:
    """One thread's calls, in turn starting at its own index, and their checks."""

    def __init__(self, index: int, stable: Stable, shared: Watcher, netns_path: str) -> None:
        self.index, self.stable, self.shared, self.path = index, stable, shared, netns_path
        self.calls = self.replays = 0
        self.shared_sum: collections.Counter = collections.Counter()
        self.own = Watcher(socket.AF_INET)
        self.table = seen(self.own.poll())[0]
        self.active_opens = 0
        self.error: BaseException | None = None

    def tcp6(self) -> None:
        check_table(tcptable.tcp6(), socket.AF_INET6, self.stable)

    def tcp4_pids(self) -> None:
        check_table(tcptable.tcp4(pids=True), socket.AF_INET, self.stable, pids=True)

    def counts_by(self) -> None:
        for family, by in ((socket.AF_INET6, "local_port"), (socket.AF_INET, "remote_port")):
            got = tcptable.counts(family, by=by)
            for port, states in got.items():  # the states seen on each port
                assert type(port) is int and 0 <= port <= 65535
                assert states and all(type(s) is TcpState and n > 0 for s, n in states.items())
            if by == "local_port":  # the listener and its two accepted ends
                port = got[self.stable.ports[family]]
                assert port[TcpState.LISTEN] == 1 and port[TcpState.ESTABLISHED] == 2

    def stats(self) -> None:
        got = tcptable.stats(socket.AF_INET)
        assert all(type(v) is int for v in got[:14]), got
        assert all(v >= 0 for v in got[4:14]), got  # the counters (max_conn is -1 here)
        assert got.curr_estab >= 4  # the stable pairs of both families
        assert got.active_opens >= self.active_opens, "a counter went back"
        self.active_opens = got.active_opens

    def namespaces(self) -> None:
        here = os.stat("/proc/thread-self/ns/net").st_ino
        by_inode = {ns.inode: ns for ns in tcptable.namespaces()}
        assert os.getpid() in by_inode[here].pids
        assert self.path in {ns.path for ns in by_inode.values()}

    def elsewhere(self) -> None:
        rows = tcptable.tcp6(netns=self.path)
        check_rows(rows, socket.AF_INET6)
        assert [(r.state, r.local_port) for r in rows] == [
            (TcpState.LISTEN, self.stable.elsewhere_port)
        ]
        assert tcptable.counts(None, netns=self.path)[TcpState.LISTEN] == 1

    def shared_poll(self) -> None:
        self.shared_sum.update(signed(self.shared.poll()))

    def own_poll(self) -> None:
        apply(self.table, self.own.poll())  # asserts what it closes was there
        assert sum(self.table.values()) < FIRST_BATCH_ROWS
        self.replays += 1

    CALLS = ("tcp6", "tcp4_pids", "counts_by", "stats", "namespaces", "elsewhere")
    CALLS += ("shared_poll", "own_poll")

    def run(self, until: float) -> None:
        calls = [getattr(self, name) for name in self.CALLS]
        i = self.index
        try:
            while time.monotonic() < until:
                calls[i % len(calls)]()
                self.calls += 1
                i += 1
        except BaseException as e:  # re-raised by the test thread
            self.error = e


def start_churn() -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", CHURN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()
    assert line == "churning\n", proc.stderr.read()
    return proc


def stop_churn(proc: subprocess.Popen) -> int:
    """Stops the churn, its connections reset; returns how many steps it made."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return int(out)


def test_eight_threads_at_every_entry_point_under_churn(named_netns):
    pop = Population()
    try:
        stable = Stable(pop, named_netns)
        shared = Watcher(socket.AF_INET6)
        shared_table = seen(shared.poll())[0]
        assert set(shared_table) == stable.rows[socket.AF_INET6]
        workers = [Worker(i, stable, shared, named_netns) for i in range(THREADS)]
        churn = start_churn()
        try:
            until = time.monotonic() + SECONDS
            threads = [threading.Thread(target=w.run, args=(until,), daemon=True) for w in workers]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=max(0.0, until - time.monotonic()) + JOIN_GRACE)
            stuck = [i for i, t in enumerate(threads) if t.is_alive()]
            assert not stuck, f"threads {stuck} still running {JOIN_GRACE} s past the end"
        finally:
            steps = stop_churn(churn)
        for w in workers:
            if w.error is not None:
                raise w.error
        # Churn over: the table holds still, and every replay must equal it.
        final = oracle()
        for w in workers:
            apply(w.table, w.own.poll())
            assert without_scopes(w.table) == family_rows(final, socket.AF_INET)
            shared_table.update(w.shared_sum)
        shared_table.update(signed(shared.poll()))
        assert without_scopes(+shared_table) == family_rows(final, socket.AF_INET6)
        assert oracle() == final
        stable.elsewhere.close()
        replays = sum(w.replays for w in workers)
        print(
            f"\nstress: {THREADS} threads, {SECONDS:.0f} s, "
            f"{'free-threaded' if FREE_THREADED else 'GIL'} build, churn {steps} steps; "
            f"calls/s per thread: {' '.join(f'{w.calls / SECONDS:.0f}' for w in workers)}; "
            f"replay checks: {replays} in-order polls, {len(workers) + 1} final tables"
        )
        assert steps > 100, "the churn hardly ran"
        assert all(w.calls > len(Worker.CALLS) for w in workers), "a thread hardly ran"
        assert sum(sum(map(abs, w.shared_sum.values())) for w in workers) > 0
    finally:
        pop.close()
