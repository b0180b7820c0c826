"""Watcher.poll(): change events between polls, compared with what the test
did to its own sockets and with an independent view of the table (/proc on
Linux, psutil elsewhere), both families, both Linux backends.

A model diff written here (model_changes) says what a poll must report
between two known tables; the churn tests replay the event stream over the
first poll and compare the result with a final independent read."""

from __future__ import annotations

import collections
import contextlib
import gc
import os
import random
import socket
import struct
import sys
import threading
import tracemalloc

import pytest
from netns import LINUX, WINE, entered
from oracles import (
    Row,
    from_tcptable,
    proc_rows,
    psutil_rows,
    socket_row,
    ss_rows,
    without_scopes,
)
from population import Population, expected, wait_for
from tcptable import TcpState, Watcher

FAMILIES = {socket.AF_INET6: "::1", socket.AF_INET: "127.0.0.1"}
NAMES = {socket.AF_INET6: "tcp6", socket.AF_INET: "tcp4"}
# SO_LINGER on, 0 s: close() sends RST and leaves no TIME_WAIT (Windows'
# struct linger holds two u_shorts, Linux's two ints).
RST_ON_CLOSE = struct.pack("HH" if sys.platform == "win32" else "ii", 1, 0)
# The kernel's first dump batch holds 30 rows: below that, one dump is one
# consistent walk (see test_concurrency.py), so a change seen is a change made.
FIRST_BATCH_ROWS = 30


def scoped(rows: collections.Counter, backend: str) -> collections.Counter:
    """/proc carries no scope ids: the proc backend reports 0 everywhere."""
    return without_scopes(rows) if backend == "proc" else rows


def key(row: Row) -> tuple:
    return row[:1] + row[2:]  # all but the state


def seen(changes) -> tuple:
    """Changes as multisets of plain Rows: (opened, closed, changed pairs)."""
    return (
        collections.Counter(map(from_tcptable, changes.opened)),
        collections.Counter(map(from_tcptable, changes.closed)),
        collections.Counter((from_tcptable(o), from_tcptable(n)) for o, n in changes.changed),
    )


def model_changes(before: collections.Counter, after: collections.Counter) -> tuple:
    """What a poll must report from table `before` to `after`: rows in both
    are unchanged; of the rest, rows with the same endpoints pair up as
    changed, the others are closed or opened."""
    gone, new = before - after, after - before
    changed = collections.Counter()
    waiting = collections.defaultdict(list)
    for row in new.elements():
        waiting[key(row)].append(row)
    for row in list(gone.elements()):
        if waiting[key(row)]:
            now = waiting[key(row)].pop()
            changed[(row, now)] += 1
            gone[row] -= 1
            new[now] -= 1
    return +new, +gone, changed


def oracle() -> collections.Counter:
    """The table as an independent reader sees it, scope ids aside."""
    if LINUX:
        return proc_rows(socket.AF_INET) + proc_rows(socket.AF_INET6)
    return psutil_rows()


def settle(pop: Population) -> None:
    wait_for(lambda: oracle() == without_scopes(pop.expected), "the table to settle")


def family_rows(rows: collections.Counter, family: int, keep=lambda row: True):
    return collections.Counter(
        {r: n for r, n in rows.items() if r.family == NAMES[family] and keep(r)}
    )


def signed(changes) -> collections.Counter:
    """A poll as a signed multiset: +1 per row in, -1 per row out."""
    opened, closed, changed = seen(changes)
    delta = collections.Counter(opened)
    delta.subtract(closed)
    for old, new in changed.elements():
        delta[old] -= 1
        delta[new] += 1
    return delta


def apply(table: collections.Counter, changes) -> None:
    """Replays one poll over `table`; what it closes or changes must be there."""
    opened, closed, changed = seen(changes)
    for old, new in changed:
        assert key(old) == key(new) and old.state != new.state, (old, new)
    for row in (closed + collections.Counter(old for old, _ in changed.elements())).elements():
        assert table[row] > 0, f"{row} reported gone, but it was not in the table"
        table[row] -= 1
    table.update(opened)
    table.update(new for _, new in changed.elements())
    table += collections.Counter()  # drops zero counts


@pytest.mark.parametrize("family", FAMILIES, ids=NAMES.get)
def test_first_poll_reports_every_row_opened(population, backend, family):
    first = Watcher(family).poll()
    assert seen(first) == (scoped(expected(population, NAMES[family]), backend), {}, {})
    if LINUX:
        assert seen(first)[0] == scoped(ss_rows(family), backend)


@pytest.mark.parametrize("family", FAMILIES, ids=NAMES.get)
def test_filters_apply_to_the_first_poll(population, backend, family):
    rows = scoped(expected(population, NAMES[family]), backend)
    port = next(r.local_port for r in rows if r.state == "LISTEN")
    listening = Watcher(family, states={TcpState.LISTEN}).poll()
    assert seen(listening)[0] == family_rows(rows, family, lambda r: r.state == "LISTEN")
    on_port = Watcher(family, local_ports=[port]).poll()
    assert seen(on_port)[0] == family_rows(rows, family, lambda r: r.local_port == port)
    to_port = Watcher(family, remote_ports=[port], states=[TcpState.ESTABLISHED]).poll()
    assert seen(to_port)[0] == family_rows(
        rows, family, lambda r: r.remote_port == port and r.state == "ESTABLISHED"
    )
    assert Watcher(family, states=[]).poll() == ((), (), ())
    assert Watcher(family, local_ports=()).poll() == ((), (), ())


def watchers(family: int, port: int) -> dict:
    """Watchers of one family, by the filter their rows must pass."""
    kept = {"ESTABLISHED", "FIN_WAIT2"}
    return {
        (lambda r: True): Watcher(family),
        (lambda r: r.state in kept): Watcher(
            family, states={TcpState.ESTABLISHED, TcpState.FIN_WAIT2}
        ),
        (lambda r: r.local_port == port): Watcher(family, local_ports={port}, pids=True),
    }


@pytest.mark.parametrize("family", FAMILIES, ids=NAMES.get)
def test_changes_made_on_purpose_come_back_exactly(netns, backend, family):
    """LISTEN, ESTABLISHED, a half close (FIN_WAIT2 / CLOSE_WAIT), then the
    close (TIME_WAIT on one end, gone on the other): every poll reports the
    step just made, through every filter (a row that leaves a filter's states
    is closed for it)."""
    pop = Population()
    try:
        lst = pop.listener(family, FAMILIES[family])
        watching = watchers(family, lst.getsockname()[1])
        before = collections.Counter()
        steps = []

        def step(what: str) -> None:
            nonlocal before
            settle(pop)
            now = family_rows(pop.expected, family)
            for keep, watcher in watching.items():
                got = seen(watcher.poll())
                want = model_changes(
                    family_rows(before, family, keep), family_rows(now, family, keep)
                )
                assert got == want, what
            steps.append(seen(next(iter(watching.values())).poll()))  # nothing since
            before = now

        step("the listener")
        client, server = pop.connect(lst)
        step("a connection")
        established = family_rows(pop.expected, family, lambda r: r.state == "ESTABLISHED")
        client.shutdown(socket.SHUT_WR)
        wait_for(lambda: server.recv(1) == b"", "the FIN to arrive")
        pop.expected -= established
        pop._expect_pair(client, server, "FIN_WAIT2", "CLOSE_WAIT")
        step("a half close")
        half = family_rows(pop.expected, family, lambda r: r.state in ("FIN_WAIT2", "CLOSE_WAIT"))
        pop.expected -= half
        pop._expect(family, "TIME_WAIT", client.getsockname(), client.getpeername())
        client.close()
        server.close()
        step("the close")
        pop.expected[socket_row(family, "LISTEN", lst.getsockname(), None)] -= 1
        lst.close()
        step("the listener's close")
        assert steps == [({}, {}, {})] * 5
    finally:
        pop.close()


@pytest.mark.parametrize("family", FAMILIES, ids=NAMES.get)
def test_a_half_close_is_two_state_changes(netns, family):
    """The model aside: the transitions themselves, as the sockets made them."""
    pop = Population()
    try:
        client, server = pop.connect(pop.listener(family, FAMILIES[family]))
        settle(pop)
        watcher = Watcher(family)
        watcher.poll()
        client.shutdown(socket.SHUT_WR)
        wait_for(lambda: server.recv(1) == b"", "the FIN to arrive")
        wait_for(lambda: "FIN_WAIT2" in {r.state for r in oracle()}, "FIN_WAIT2")
        ends = [(client, "FIN_WAIT2"), (server, "CLOSE_WAIT")]
        assert seen(watcher.poll()) == (
            {},
            {},
            collections.Counter(
                (
                    socket_row(family, "ESTABLISHED", s.getsockname(), s.getpeername()),
                    socket_row(family, state, s.getsockname(), s.getpeername()),
                )
                for s, state in ends
            ),
        )
    finally:
        pop.close()


class Churn(threading.Thread):
    """Opens connections on `lst`, half closes some (FIN_WAIT2 / CLOSE_WAIT)
    and resets them (RST: no TIME_WAIT), at most LIVE at a time, until
    stopped: a table that stays within one dump batch."""

    LIVE = 6

    def __init__(self, lst: socket.socket) -> None:
        super().__init__(daemon=True)
        self.lst, self.stop, self.error, self.done = lst, threading.Event(), None, 0
        self.pairs: list[tuple[socket.socket, socket.socket]] = []

    def run(self) -> None:
        rng = random.Random(12)
        try:
            while not self.stop.is_set():
                action = rng.random()
                if len(self.pairs) < self.LIVE and (action < 0.5 or not self.pairs):
                    client = socket.create_connection(self.lst.getsockname()[:2])
                    self.pairs.append((client, self.lst.accept()[0]))
                elif action < 0.7:
                    # Once per pair: another FIN would close it into TIME_WAIT.
                    with contextlib.suppress(OSError):
                        self.pairs[rng.randrange(len(self.pairs))][0].shutdown(socket.SHUT_WR)
                else:
                    self.reset(self.pairs.pop(rng.randrange(len(self.pairs))))
                self.done += 1
        except BaseException as e:  # re-raised by the test thread
            self.error = e

    @staticmethod
    def reset(pair: tuple[socket.socket, socket.socket]) -> None:
        for end in pair:
            end.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST_ON_CLOSE)
            end.close()

    def finish(self) -> None:
        self.stop.set()
        self.join()
        for pair in self.pairs:
            self.reset(pair)
        if self.error is not None:
            raise self.error


def final_read(poll) -> collections.Counter:
    """An independent read that holds both before and after one last poll."""
    while True:
        before = oracle()
        poll()
        if oracle() == before:
            return before


def stable_sockets(pop: Population, family: int) -> tuple[socket.socket, collections.Counter]:
    """A listener and two pairs that stay ESTABLISHED: the churn's listener,
    and rows no event after the first may name."""
    lst = pop.listener(family, FAMILIES[family])
    pop.connect(lst)
    pop.connect(lst)
    settle(pop)
    return lst, family_rows(pop.expected, family)


@pytest.mark.parametrize("family", FAMILIES, ids=NAMES.get)
def test_churn_replays_to_the_final_table(netns, backend, family):
    """A thread opens, half closes and resets connections while the test
    polls: no poll raises, each closes only rows the replay holds, and the
    replay of every poll over the first equals a final independent read."""
    pop = Population()
    try:
        lst, stable = stable_sockets(pop, family)
        watcher = Watcher(family)
        table = seen(watcher.poll())[0]
        assert table == stable
        churn = Churn(lst)
        churn.start()
        named = collections.Counter()
        try:
            for _ in range(300):
                changes = watcher.poll()
                apply(table, changes)
                assert sum(table.values()) < FIRST_BATCH_ROWS
                opened, closed, changed = seen(changes)
                named.update(opened + closed)
                named.update(r for pair in changed for r in pair)
        finally:
            churn.finish()
        final = final_read(lambda: apply(table, watcher.poll()))
        assert without_scopes(table) == family_rows(final, family)
        if backend == "netlink" or (backend == "native" and not WINE):
            # /proc is read a page at a time, each read resumed by position:
            # under churn it shows an unchanged socket twice or not at all
            # (so does Wine, which reads it too), and a Watcher reports what
            # the source shows.  A netlink dump this small is one walk.
            assert not set(named) & set(stable), "an untouched socket was reported changed"
        assert churn.done > 50 and sum(named.values()) > 50  # the churn was seen
    finally:
        pop.close()


def test_threads_sharing_a_watcher_add_up_to_the_table(netns, backend):
    """Polls of one Watcher from several threads take turns: whatever order
    their results come back in, together (as signed multisets, which order
    does not change) they add up to the final table."""
    family = socket.AF_INET6
    pop = Population()
    try:
        lst, stable = stable_sockets(pop, family)
        watcher = Watcher(family)
        total = seen(watcher.poll())[0]
        churn = Churn(lst)
        sums, errors = [], []

        def poller() -> None:
            mine = collections.Counter()
            try:
                for _ in range(60):
                    mine.update(signed(watcher.poll()))
            except BaseException as e:
                errors.append(e)
            sums.append(mine)

        threads = [threading.Thread(target=poller) for _ in range(4)]
        churn.start()
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            churn.finish()
        assert errors == []
        for mine in sums:
            total.update(mine)
        final = final_read(lambda: total.update(signed(watcher.poll())))
        assert {r: n for r, n in total.items() if n} == family_rows(final, family)
        assert sum(map(len, sums)) > 0  # the threads saw the churn
    finally:
        pop.close()


@pytest.mark.skipif(not LINUX, reason="Linux-only: SO_REUSEPORT listeners sharing a port")
def test_listeners_sharing_a_port_are_counted_each(netns_if_possible):
    """Rows with one key (SO_REUSEPORT): closing one of three is one closed
    row, and the two left are not taken for changes (the watcher sees only
    their port: other sockets may share the namespace)."""
    listeners = []
    for _ in range(3):
        s = socket.socket(socket.AF_INET6)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("::1", listeners[0].getsockname()[1] if listeners else 0))
        s.listen()
        listeners.append(s)
    row = socket_row(socket.AF_INET6, "LISTEN", listeners[0].getsockname(), None)
    try:
        watcher = Watcher(local_ports={listeners[0].getsockname()[1]})
        assert seen(watcher.poll()) == ({row: 3}, {}, {})
        listeners.pop().close()
        assert seen(watcher.poll()) == ({}, {row: 1}, {})
        assert seen(watcher.poll()) == ({}, {}, {})
    finally:
        for s in listeners:
            s.close()


@pytest.mark.parametrize("family", FAMILIES, ids=NAMES.get)
def test_pids_fill_the_rows_of_events(netns_if_possible, family):
    """pids=True: opened rows carry this process's pid (None under Wine,
    whose tables hold 0 for every owner: see test_own_pids.py)."""
    with socket.socket(family) as lst:
        lst.bind((FAMILIES[family], 0))
        lst.listen()
        ports = {lst.getsockname()[1]}
        opened = Watcher(family, pids=True, local_ports=ports).poll().opened
        assert [from_tcptable(r) for r in opened] == [
            socket_row(family, "LISTEN", lst.getsockname(), None)
        ]
        assert [r.pid for r in opened] == [None if WINE else os.getpid()]
        assert Watcher(family, local_ports=ports).poll().opened[0].pid is None


@pytest.mark.parametrize(
    "args,kwargs,error,text",
    [
        ((None,), {}, ValueError, "one Watcher per family"),
        ((99,), {}, ValueError, "family must be"),
        (("AF_INET",), {}, TypeError, "family must be"),
        ((socket.AF_INET, socket.AF_INET), {}, TypeError, "at most 1"),
        ((), {"states": "LISTEN"}, TypeError, "states must be an iterable"),
        ((), {"states": [13]}, ValueError, "13 is not a TcpState"),
        ((), {"local_ports": [70000]}, ValueError, "local_ports: 70000 is not a port"),
        ((), {"remote_ports": 443}, TypeError, "remote_ports must be an iterable"),
        ((), {"pids": 1}, TypeError, "pids must be a bool"),
        ((), {"sort": True}, TypeError, "sort"),
        ((), {"netns": 1.5}, (TypeError, NotImplementedError), "netns"),
    ],
)
def test_bad_arguments_raise_naming_them(args, kwargs, error, text):
    with pytest.raises(error, match=text):
        Watcher(*args, **kwargs)


def test_poll_takes_no_arguments_and_watcher_no_subclass():
    with pytest.raises(TypeError):
        Watcher().poll(1)
    with pytest.raises(TypeError):
        type("Mine", (Watcher,), {})


@pytest.mark.skipif(LINUX, reason="off Linux only: netns= is Linux's")
def test_netns_off_linux_says_it_is_linux_only():
    with pytest.raises(NotImplementedError, match="Linux-only"):
        Watcher(netns="/run/netns/x")


def test_a_watcher_of_another_namespace_sees_its_changes(named_netns, backend):
    """netns= by path or fd: that namespace's changes, none of the caller's;
    a caller's fd may be closed once the Watcher holds its own copy."""
    fd = os.open(named_netns, os.O_RDONLY)
    by_path, by_fd = Watcher(netns=named_netns), Watcher(netns=fd)
    os.close(fd)
    mine = socket.socket(socket.AF_INET6)
    mine.bind(("::1", 0))
    mine.listen()
    try:
        assert by_path.poll() == by_fd.poll() == ((), (), ())
        with entered(named_netns):
            theirs = socket.socket(socket.AF_INET6)
        with theirs:
            theirs.bind(("::1", 0))
            theirs.listen()
            row = socket_row(socket.AF_INET6, "LISTEN", theirs.getsockname(), None)
            assert seen(by_path.poll()) == seen(by_fd.poll()) == ({row: 1}, {}, {})
        assert seen(by_path.poll()) == seen(by_fd.poll()) == ({}, {row: 1}, {})
    finally:
        mine.close()


def test_watchers_hold_no_descriptor_after_they_go(named_netns):
    def fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    before = fds()
    for _ in range(200):
        Watcher(netns=named_netns).poll()
        with pytest.raises(ValueError):
            Watcher(netns="/proc/self/ns/pid")
    assert fds() == before


def test_no_reference_or_traced_memory_growth(netns):
    """As tests/robustness/test_refcounts.py: thousands of Watchers and polls, each
    seeing a connection open or close, leave TcpState's reference counts
    and traced memory where they were."""
    lst = socket.socket(socket.AF_INET6)
    lst.bind(("::1", 0))
    lst.listen(64)
    ends: list[socket.socket] = []
    watcher = Watcher()

    def round_() -> None:
        """Opens a connection, half closes it, or resets it: each poll sees
        rows opened, changed or closed."""
        if not ends:
            ends.append(socket.create_connection(lst.getsockname()[:2]))
            ends.append(lst.accept()[0])
        elif len(ends) == 2:
            ends[0].shutdown(socket.SHUT_WR)  # FIN_WAIT1 at once, then FIN_WAIT2
            ends.append(ends[0])  # marks the half close done
        else:
            for s in ends[:2]:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, RST_ON_CLOSE)
                s.close()
            ends.clear()
        changes = watcher.poll()
        assert changes.opened or changes.closed or changes.changed
        for family in FAMILIES:
            Watcher(family, pids=True, states={TcpState.ESTABLISHED}).poll()
        for bad, error in (({"states": [13]}, ValueError), ({"local_ports": "1"}, TypeError)):
            with pytest.raises(error):
                Watcher(**bad)

    try:
        members = list(TcpState)
        for _ in range(99):  # warm up: caches, first-call allocations
            round_()
        gc.collect()
        refs = [sys.getrefcount(m) for m in members]
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(999):  # a whole number of open, half close, reset
                round_()
            gc.collect()
            grown = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert [sys.getrefcount(m) for m in members] == refs
        assert grown < 16 * 1024, f"{grown} bytes still traced after 999 rounds"
    finally:
        for s in [*ends, lst]:
            s.close()
