"""`tcptable --watch`: a subprocess in the test's namespace, its lines read
as they come while the test changes its own sockets; the events replayed
must give the table the sockets' own names describe, and SIGINT ends it
with status 0 and nothing on stderr."""

from __future__ import annotations

import collections
import contextlib
import datetime
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading

import pytest
from netns import LINUX, WINE, entered, ip
from oracles import JSON_KEYS
from population import Population
from test_cli import endpoint_text, run

FAMILIES = {socket.AF_INET6: "::1", socket.AF_INET: "127.0.0.1"}
PROTO = {socket.AF_INET6: "tcp6", socket.AF_INET: "tcp"}


class Watch:
    """`python -m tcptable --watch 0.05 ARGS`, its stdout read line by line
    on a thread (a pipe cannot be waited on with a timeout on Windows)."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tcptable", "--watch", "0.05", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def until(self, table: collections.Counter, want: collections.Counter, apply) -> list[str]:
        """Lines until replaying them (apply(table, line)) gives `want`."""
        got = []
        while table != want:
            try:
                line = self.lines.get(timeout=30)
            except queue.Empty:
                status = self.proc.poll()
                err = self.proc.communicate(timeout=30)[1] if status is not None else ""
                raise AssertionError(
                    f"no line for 30 s; status {status}, stderr {err!r}; replayed {table}"
                ) from None
            got.append(line)
            apply(table, line)
        return got

    def interrupt(self) -> tuple[int, str]:
        """SIGINT where there is one (POSIX); else the process is terminated
        and only its output was tested."""
        if sys.platform == "win32":
            self.proc.terminate()
        else:
            self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.communicate()


def text_row(family: int, state: str, s: socket.socket, peer: bool = True) -> tuple:
    """A row as the text form shows it, from the socket's own names."""
    local = s.getsockname()
    remote = s.getpeername() if peer else (("::" if family == socket.AF_INET6 else "0.0.0.0"), 0)
    return (
        PROTO[family],
        endpoint_text(local[0], 0, local[1]),
        endpoint_text(remote[0], 0, remote[1]),
        state,
    )


def apply_text(table: collections.Counter, line: str) -> None:
    if WINE:  # Wine's scope ids are not compared (oracles.comparable)
        line = re.sub(r"%\d+\]", "]", line)
    head, *cells = line.rstrip("\n").split("  ")
    sign, when = head.split(" ")
    assert datetime.datetime.fromisoformat(when).utcoffset() == datetime.timedelta(0)
    if sign == "~":
        old, new = cells[-1].split(" -> ")
        assert old != new
        table[(*cells[:-1], old)] -= 1
        table[(*cells[:-1], new)] += 1
    else:
        assert sign in "+-" and len(cells) == 4, line
        table[tuple(cells)] += 1 if sign == "+" else -1
    table += collections.Counter()  # drops zero counts


@pytest.mark.parametrize("family", FAMILIES, ids=PROTO.get)
def test_text_events_replay_to_the_sockets(netns, family):
    pop = Population()
    lst = pop.listener(family, FAMILIES[family])
    pop.settle()
    flag = "-6" if family == socket.AF_INET6 else "-4"
    watch = Watch(flag)
    try:
        table: collections.Counter = collections.Counter()
        want = collections.Counter([text_row(family, "LISTEN", lst, peer=False)])
        first = watch.until(table, want, apply_text)
        assert [line[0] for line in first] == ["+"]
        client, server = pop.connect(lst)
        want += collections.Counter(
            [text_row(family, "ESTABLISHED", client), text_row(family, "ESTABLISHED", server)]
        )
        assert {line[0] for line in watch.until(table, want, apply_text)} == {"+"}
        client.shutdown(socket.SHUT_WR)
        want -= collections.Counter(
            [text_row(family, "ESTABLISHED", client), text_row(family, "ESTABLISHED", server)]
        )
        want += collections.Counter(
            [text_row(family, "FIN_WAIT2", client), text_row(family, "CLOSE_WAIT", server)]
        )
        assert "~" in {line[0] for line in watch.until(table, want, apply_text)}
        listener_row = text_row(family, "LISTEN", lst, peer=False)
        lst.close()
        want -= collections.Counter([listener_row])
        assert watch.until(table, want, apply_text)[-1].startswith("- ")
        status, err = watch.interrupt()
        if sys.platform != "win32":
            assert (status, err) == (0, "")
    finally:
        watch.close()
        pop.close()


def apply_json(table: collections.Counter, line: str) -> None:
    event = json.loads(line)
    extra = ["old_state"] if event["event"] == "changed" else []
    where = ["netns", "netns_inode"] if "netns" in event else []
    assert list(event) == ["event", "time", *JSON_KEYS, *extra, *where]
    datetime.datetime.fromisoformat(event["time"])
    row = (event["family"], event["local_addr"], event["local_port"], event["remote_port"])
    sign = {"opened": 1, "closed": -1, "changed": 0}[event["event"]]
    table[(*row, event["state"])] += sign or 1
    if extra:
        table[(*row, event["old_state"])] -= 1
    table += collections.Counter()


def test_json_events_honour_the_filters(netns_if_possible):
    """-4 --local-port P --state ESTABLISHED: only the server side of a
    connection to P, opened and then closed when it leaves ESTABLISHED (so
    the filters show only the test's own sockets, whatever else is there)."""
    pop = Population()
    lst = pop.listener(socket.AF_INET, "127.0.0.1")
    other = pop.listener(socket.AF_INET6, "::1")
    port = lst.getsockname()[1]
    watch = Watch("-4", "--json", "--local-port", str(port), "--state", "ESTABLISHED")
    try:
        table: collections.Counter = collections.Counter()
        pop.connect(other)  # another family, another port: never shown
        client, server = pop.connect(lst)
        row = ("tcp4", "127.0.0.1", port, client.getsockname()[1])
        watch.until(table, collections.Counter({(*row, "ESTABLISHED"): 1}), apply_json)
        client.shutdown(socket.SHUT_WR)
        lines = watch.until(table, collections.Counter(), apply_json)
        assert [json.loads(line)["event"] for line in lines] == ["closed"]
        status, err = watch.interrupt()
        if sys.platform != "win32":
            assert (status, err) == (0, "")
    finally:
        watch.close()
        pop.close()


@pytest.mark.skipif(not LINUX, reason="Linux-only: network namespaces")
def test_all_namespaces_names_each_events_namespace(named_netns):
    """--all-namespaces: events carry the namespace, and one that goes away
    (its name deleted, no process in it) has its rows reported closed."""
    inode = os.stat(named_netns).st_ino
    with entered(named_netns):
        theirs = socket.socket(socket.AF_INET6)
    theirs.bind(("::1", 0))
    theirs.listen()
    port = theirs.getsockname()[1]
    watch = Watch("-6", "--json", "--all-namespaces", "--local-port", str(port))
    try:
        ours: collections.Counter = collections.Counter()
        mine = collections.Counter({("tcp6", "::1", port, 0, "LISTEN"): 1})

        def apply_ours(table, line) -> None:
            event = json.loads(line)
            if event["netns_inode"] == inode:
                assert event["netns"] == named_netns
                apply_json(table, line)

        watch.until(ours, mine, apply_ours)
        ip("netns", "delete", os.path.basename(named_netns))
        watch.until(ours, collections.Counter(), apply_ours)
        status, err = watch.interrupt()
        assert (status, err) == (0, "")
    finally:
        watch.close()
        theirs.close()


@pytest.mark.skipif(not LINUX, reason="Linux-only: network namespaces")
def test_netns_by_name(named_netns):
    with entered(named_netns):
        theirs = socket.socket(socket.AF_INET)
    with theirs:
        theirs.bind(("127.0.0.1", 0))
        theirs.listen()
        watch = Watch("--netns", os.path.basename(named_netns))
        try:
            table: collections.Counter = collections.Counter()
            want = collections.Counter([text_row(socket.AF_INET, "LISTEN", theirs, peer=False)])
            watch.until(table, want, apply_text)
        finally:
            watch.close()


@pytest.mark.parametrize(
    "args,text",
    [
        (["--watch", "0"], "'0' is not a number of seconds above 0"),
        (["--watch", "soon"], "'soon' is not a number of seconds above 0"),
        (["--watch", "nan"], "'nan' is not a number of seconds above 0"),
        (["--watch", "--count"], "--watch prints rows as they change"),
        (["--watch", "1", "--stats"], "--watch prints rows as they change"),
    ],
)
def test_bad_watch_options_exit_2(args, text):
    result = run(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert text in result.stderr.splitlines()[-1], result.stderr
