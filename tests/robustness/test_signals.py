"""Signals while polling.

A SIGALRM every millisecond must never turn into an error.  A handler that
raises must make the call raise: the extension retries an interrupted system
call only after running the handlers (PyErr_CheckSignals).  The kernel never
actually interrupts these calls (sock_diag builds each batch inside
recvmsg() and /proc inside read(); neither sleeps), so in-process a handler
runs, and raises, at the bytecode boundary right after the call returns, and
the exception still comes out of the calling statement.  The retry path
itself runs for real in a child where the failure shim makes recvmsg() raise
SIGALRM and fail with EINTR, which is what a sleeping recvmsg() would do.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap

import pytest
import tcptable
from native_tools import asan_preloaded, shim_env
from oracles import counter, ss_rows
from population import Population
from row_checks import check_rows
from tcptable import TcpState

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux-only: SIGALRM, and EINTR from netlink"
)


class Boom(Exception):
    pass


@pytest.fixture
def population(netns):
    """200 IPv6 ESTABLISHED pairs and a listener per family: calls last long
    enough for the timer to fire during them."""
    pop = Population()
    lst = pop.listener(socket.AF_INET6, "::1", backlog=256)
    for _ in range(200):
        pop.connect(lst)
    pop.listener(socket.AF_INET, "127.0.0.1")
    yield pop
    pop.close()


@pytest.fixture
def alarm_every_ms():
    previous = signal.getsignal(signal.SIGALRM)
    yield lambda: signal.setitimer(signal.ITIMER_REAL, 0.001, 0.001)
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    signal.signal(signal.SIGALRM, previous)


def test_signal_storm_causes_no_error(population, alarm_every_ms):
    ticks = []
    signal.signal(signal.SIGALRM, lambda *_: ticks.append(1))
    alarm_every_ms()
    calls = 0
    while calls < 400 or len(ticks) < 1000:
        i = calls % 4
        if i == 0:
            rows = tcptable.tcp6()
            check_rows(rows, socket.AF_INET6)
            assert len(rows) == 401
        elif i == 1:
            assert len(tcptable.tcp4(sort=True)) == 1
        elif i == 2:
            assert tcptable.counts()[TcpState.ESTABLISHED] == 400
        else:
            os.environ["TCPTABLE_BACKEND"] = "proc"
            try:
                assert len(tcptable.tcp6(states={TcpState.ESTABLISHED})) == 400
            finally:
                del os.environ["TCPTABLE_BACKEND"]
        calls += 1


def test_raising_handler_raises_from_the_call(population, alarm_every_ms):
    """The handler raises only while a call is in flight (it runs at the
    first bytecode boundary after the signal, which may be anywhere in the
    loop); its exception must come out of the statement making the call."""
    in_call = [False]

    def handler(*_):
        # Once per call: a second tick can be pending by the time the first
        # Boom leaves the call (a loaded machine), and would land in the
        # except clause below rather than in a call.
        if in_call[0]:
            in_call[0] = False
            raise Boom

    signal.signal(signal.SIGALRM, handler)
    fds = sorted(os.listdir("/proc/self/fd"))
    # No collection inside the call: a finalizer run by the collector (or the
    # unraisable hook it may call) would be Python code where Boom could land.
    gc.collect()
    gc.disable()
    try:
        alarm_every_ms()
        booms = 0
        while booms < 50:
            try:
                in_call[0] = True
                rows = tcptable.tcp6()
                in_call[0] = False
            except Boom:
                in_call[0] = False
                booms += 1
            else:
                check_rows(rows, socket.AF_INET6)
                assert len(rows) == 401
    finally:
        # On every way out, or a failure's report would be where Boom lands.
        in_call[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        gc.enable()
    assert len(tcptable.tcp6()) == 401
    assert sorted(os.listdir("/proc/self/fd")) == fds


# In the child: SIGALRM handler per argv[1] ("count" or "raise"); the shim
# interrupts the first recvmsg() calls.  Reports whether tcp6 itself raised
# (a C-level exception seen by the profiler) and what the calls returned.
CHILD = textwrap.dedent(
    """
    import json, signal, sys
    import tcptable

    class Boom(Exception):
        pass

    ticks = []
    def handler(*_):
        ticks.append(1)
        if sys.argv[1] == "raise":
            raise Boom
    signal.signal(signal.SIGALRM, handler)

    events = []
    def profile(frame, event, arg):
        if event in ("c_return", "c_exception") and getattr(arg, "__name__", "") == "tcp6":
            events.append(event)

    outcomes = []
    for _ in range(2):
        sys.setprofile(profile)
        try:
            rows = tcptable.tcp6()
        except Boom:
            sys.setprofile(None)
            outcomes.append("Boom")
        else:
            sys.setprofile(None)
            outcomes.append([[r[0].name, *r[1:]] for r in rows])
    print(json.dumps({"ticks": len(ticks), "events": events, "outcomes": outcomes}))
    """
)


def run_child(handler: str, interrupts: int) -> dict:
    if asan_preloaded():
        pytest.skip("ASan's recvmsg interceptor comes before the shim's (plain runs test this)")
    env = shim_env(TT_SHIM_RECVMSG_EINTR=str(interrupts), TCPTABLE_BACKEND="netlink")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, handler], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout)


def test_interrupted_recvmsg_runs_handlers_then_retries(population):
    report = run_child("count", interrupts=3)
    assert report["ticks"] == 3
    assert report["events"] == ["c_return", "c_return"]
    for outcome in report["outcomes"]:
        assert counter(outcome) == ss_rows(socket.AF_INET6)


def test_interrupted_recvmsg_raises_the_handlers_exception(population):
    report = run_child("raise", interrupts=1)
    assert report["ticks"] == 1
    assert report["events"] == ["c_exception", "c_return"]  # raised by tcp6 itself
    boom, rows = report["outcomes"]
    assert boom == "Boom"
    assert counter(rows) == ss_rows(socket.AF_INET6)
