"""`python -m tcptable` and the `tcptable` script, run as subprocesses inside
the namespace of the standard population (subprocesses inherit it)."""

import collections
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest
import tcptable
from netns import LINUX, WINE
from oracles import JSON_KEYS, Row, comparable
from population import Population, expected
from tcptable import TcpState

SCRIPT = pathlib.Path(sys.executable).parent / "tcptable"


def run(*args, env=None, script=False):
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "tcptable"]
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=30,
    )


def ok(*args, **kwargs):
    result = run(*args, **kwargs)
    assert (result.returncode, result.stderr) == (0, ""), result
    return result.stdout


def endpoint_text(addr, scope, port):
    """The endpoint as the issue specifies it, written here independently."""
    if ":" in addr:
        return f"[{addr}%{scope}]:{port}" if scope else f"[{addr}]:{port}"
    return f"{addr}:{port}"


def text_lines(rows):
    return collections.Counter(
        (
            "tcp6" if r.family == "tcp6" else "tcp",
            endpoint_text(r.local_addr, r.local_scope_id, r.local_port),
            endpoint_text(r.remote_addr, r.remote_scope_id, r.remote_port),
            r.state,
        )
        for r in rows.elements()
    )


def parse_text(out):
    lines = out.splitlines()
    assert lines[0].split() == ["Proto", "Local", "Address", "Remote", "Address", "State"]
    if WINE:  # Wine's scope ids are not compared (oracles.comparable)
        lines = [re.sub(r"%\d+\]", "]", line) for line in lines]
    return collections.Counter(tuple(line.split()) for line in lines[1:])


def parse_json(out):
    rows = collections.Counter()
    for line in out.splitlines():
        obj = json.loads(line)
        assert list(obj) == JSON_KEYS
        rows[comparable(Row(*(obj[k] for k in Row._fields)))] += 1
    return rows


def everything(population):
    return expected(population, "tcp4") + expected(population, "tcp6")


def only(rows, **fields):
    return collections.Counter(
        {r: n for r, n in rows.items() if all(getattr(r, k) in v for k, v in fields.items())}
    )


@pytest.mark.parametrize("script", [False, True], ids=["python-m", "script"])
def test_text_table_shows_every_endpoint(population, script):
    if script and not SCRIPT.exists() and not LINUX:
        pytest.skip("no console script here: the Windows test runtime runs the package in place")
    assert parse_text(ok(script=script)) == text_lines(everything(population))


@pytest.mark.skipif(not LINUX, reason="Linux-only: TCPTABLE_BACKEND and /proc")
def test_text_table_through_the_proc_backend(population):
    rows = everything(population)
    rows = collections.Counter(
        {r._replace(local_scope_id=0, remote_scope_id=0): n for r, n in rows.items()}
    )
    assert parse_text(ok(env={"TCPTABLE_BACKEND": "proc"})) == text_lines(rows)


def test_json_rows(population):
    assert parse_json(ok("--json")) == everything(population)


@pytest.mark.parametrize("flag,family", [("-4", "tcp4"), ("-6", "tcp6")])
def test_one_family(population, flag, family):
    assert parse_json(ok(flag, "--json")) == expected(population, family)
    assert parse_text(ok(flag)) == text_lines(expected(population, family))


@pytest.mark.parametrize("flag", ["-l", "--listening"])
def test_listening(population, flag):
    assert parse_json(ok(flag, "--json")) == only(everything(population), state={"LISTEN"})


def test_state_is_repeatable(population):
    got = parse_json(ok("--state", "ESTABLISHED", "--state", "time_wait", "--json"))
    want = only(everything(population), state={"ESTABLISHED", "TIME_WAIT"})
    assert got == want and len(got) > 4


def test_sort(population):
    out = ok("--sort", "--json")
    rows = [
        comparable(Row(*(json.loads(line)[k] for k in Row._fields))) for line in out.splitlines()
    ]
    assert collections.Counter(rows) == everything(population)

    def key(r):
        family = socket.AF_INET6 if r.family == "tcp6" else socket.AF_INET
        return (
            r.family != "tcp4",
            socket.inet_pton(family, r.local_addr),
            r.local_scope_id,
            r.local_port,
            socket.inet_pton(family, r.remote_addr),
            r.remote_scope_id,
            r.remote_port,
        )

    assert rows == sorted(rows, key=key)  # IPv4 first, each family in Windows order


def test_count(population):
    lines = ok("--count").splitlines()
    got = {name: int(n) for name, n in (line.split() for line in lines)}
    tally = collections.Counter(r.state for r in everything(population).elements())
    assert got == {s.name: tally[s.name] for s in TcpState}
    assert got == {s.name: n for s, n in tcptable.counts(None).items()}
    six = {name: int(n) for name, n in (line.split() for line in ok("-6", "--count").splitlines())}
    assert six == {s.name: n for s, n in tcptable.counts(socket.AF_INET6).items()}
    listen = ok("-l", "--count").split()
    assert listen == ["LISTEN", str(tally["LISTEN"])]


@pytest.mark.parametrize(
    "args",
    [
        ["--bogus"],
        ["--state", "BOGUS"],
        ["--state", "0"],
        ["--state", "13"],
        ["--state"],
        ["-4", "-6"],
        ["--json", "--count"],
        ["--count", "--stats"],
        ["--local-port", "http"],
        ["--remote-port", "65536"],
        ["--by", "local_port"],
        ["--count", "--by", "port"],
        ["x"],
    ],
)
def test_bad_options_exit_2(args):
    result = run(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "usage: tcptable" in result.stderr


@pytest.mark.skipif(not LINUX, reason="Linux-only: TCPTABLE_BACKEND and /proc")
def test_unknown_backend_exits_2_with_one_line(netns_if_possible):
    result = run(env={"TCPTABLE_BACKEND": "bogus"})
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "tcptable: TCPTABLE_BACKEND must be 'netlink', 'proc' or unset, not 'bogus'"
    ]


@pytest.mark.skipif(not LINUX, reason="Linux-only: TCPTABLE_BACKEND and /proc")
def test_os_error_of_the_proc_backend_exits_1_with_one_line(netns):
    """A mount namespace with an empty /proc: opening /proc/net/tcp fails."""
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux unshare")
    result = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            # /proc/$$/net is what /proc/net shows this shell and, after exec,
            # Python, and /proc/$$/task/$$/net what /proc/thread-self/net shows
            # its main thread; the rest of /proc stays (ASan reads /proc/self/maps).
            "mount -t tmpfs none /proc/$$/net && mount -t tmpfs none /proc/$$/task/$$/net"
            ' && exec "$@"',
            "sh",
            sys.executable,
            "-m",
            "tcptable",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "TCPTABLE_BACKEND": "proc"},
        timeout=30,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [
        "tcptable: opening /proc/thread-self/net/tcp failed: No such file or directory"
    ]


@pytest.mark.skipif(not LINUX, reason="Linux-only: netlink and RLIMIT_NOFILE")
def test_os_error_of_the_netlink_backend_exits_1_with_one_line(netns_if_possible):
    """No file descriptor left: the netlink socket() fails with EMFILE.  The
    parser is made and used once first: what argparse imports lazily (3.14:
    _colorize) is imported while files can still be opened."""
    code = (
        "import resource, sys; from tcptable.cli import _parser, main; _parser().parse_args([]); "
        "resource.setrlimit(resource.RLIMIT_NOFILE, (3, 3)); sys.exit(main([]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.splitlines() == [f"tcptable: netlink socket() failed: {os.strerror(24)}"]


def test_help_exits_0():
    result = run("--help")
    assert result.returncode == 0 and "--count" in result.stdout


def test_a_reader_that_left_ends_it_quietly(netns_if_possible):
    """stdout is a pipe nobody reads any more: no traceback, status 1."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tcptable"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (1, "")


def test_listening_adds_listen_to_the_states(population):
    got = parse_json(ok("-l", "--state", "CLOSE_WAIT", "--json"))
    assert got == only(everything(population), state={"LISTEN", "CLOSE_WAIT"})


def test_states_by_number(population):
    by_number = parse_json(ok("--state", "5", "--state", "2", "--json"))
    assert by_number == parse_json(ok("--state", "ESTABLISHED", "--state", "listen", "--json"))
    assert by_number == only(everything(population), state={"ESTABLISHED", "LISTEN"})


@pytest.fixture
def big_table(netns):
    """About 1,600 rows: the text and JSON outputs are far larger than a pipe
    holds (64 KiB), so a writer must wait for its reader."""
    pop = Population()
    lst = pop.listener(socket.AF_INET6, "::1", backlog=1024)
    for _ in range(800):
        pop.connect(lst)
    yield pop
    pop.close()


def test_a_slow_reader_of_a_nonblocking_pipe_gets_every_line(big_table):
    """Unbuffered (-u) output into a non-blocking pipe: every line arrives
    whole although most writes find the pipe full."""
    if not LINUX:
        pytest.skip("POSIX-only: a non-blocking pipe as stdout")
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "tcptable", "-6", "--json"],
        stdout=write_end,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    time.sleep(0.5)  # let the pipe fill: the writer meets EAGAIN
    with os.fdopen(read_end, "rb") as reader:
        out = reader.read()
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert proc.stderr.read() == b""
    lines = out.decode().splitlines()
    assert len(lines) == len(tcptable.tcp6()) > 1600
    assert all(json.loads(line)["family"] == "tcp6" for line in lines)


def test_a_reader_leaving_mid_output_ends_it_with_status_1(big_table):
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "tcptable"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # readline() takes the one line, not a buffer's worth (3.14: 128 KiB)
    )
    assert proc.stdout.readline().split()[0] == b"Proto"
    proc.stdout.close()  # the reader leaves with most of the table unwritten
    assert proc.wait(timeout=60) == 1
    assert proc.stderr.read() == b""


@pytest.mark.skipif(not LINUX, reason="Linux-only: /dev/full")
def test_a_full_device_is_one_line_and_status_1(population):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "tcptable"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=30,
        )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"tcptable: cannot write the output: {os.strerror(28)}"]


@pytest.mark.skipif(not LINUX, reason="POSIX-only: sh closes the stdout")
def test_a_closed_stdout_is_one_line_and_status_1(population):
    result = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m", "tcptable"],
        stderr=subprocess.PIPE,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "tcptable: cannot write the output: standard output is closed"
    ]


def test_port_filters(population):
    rows = everything(population)
    port = next(r.local_port for r in rows if r.state == "LISTEN" and r.family == "tcp6")
    assert parse_json(ok("--local-port", str(port), "--json")) == only(rows, local_port={port})
    assert parse_json(ok("--remote-port", str(port), "--remote-port", "9", "--json")) == only(
        rows, remote_port={port, 9}
    )
    text = ok("--local-port", str(port), "--state", "LISTEN")
    assert parse_text(text) == text_lines(only(rows, local_port={port}, state={"LISTEN"}))


def test_count_by_port_is_a_table_of_ports_by_states(population):
    rows = everything(population)
    ports = sorted({r.local_port for r in rows if r.state == "LISTEN"})
    args = [a for p in ports for a in ("--local-port", str(p))]
    lines = [line.split() for line in ok("--count", "--by", "local_port", *args).splitlines()]
    assert lines[0] == ["Port", *(s.name for s in TcpState)]
    got = {int(cells[0]): [int(n) for n in cells[1:]] for cells in lines[1:]}
    tally = collections.Counter((r.local_port, r.state) for r in rows.elements())
    assert got == {p: [tally[p, s.name] for s in TcpState] for p in ports}
    lines = ok("--count", "--by", "remote_port", "--state", "LISTEN").splitlines()
    assert lines == ["Port  LISTEN", f"0     {tally_state(rows, 'LISTEN')}"]
    # Without ports, the ports seen: states they lack print as 0.
    lines = [line.split() for line in ok("--count", "--by", "local_port").splitlines()]
    got = {int(cells[0]): [int(n) for n in cells[1:]] for cells in lines[1:]}
    seen = {r.local_port for r in rows}
    assert got == {p: [tally[p, s.name] for s in TcpState] for p in sorted(seen)}


def tally_state(rows, state):
    return sum(n for r, n in rows.items() if r.state == state)


def test_stats_prints_every_counter(population):
    from oracles import snmp_tcp

    can_compare = LINUX or WINE
    before = snmp_tcp() if can_compare else {}
    lines = [line.split() for line in ok("--stats").splitlines()]
    after = snmp_tcp() if can_compare else {}
    assert [name for name, _ in lines] == list(tcptable.TcpStats.__match_args__)
    got = dict(lines)
    for name in before:
        assert min(before[name], after[name]) <= int(got[name]) <= max(before[name], after[name])
    assert got["num_conns"] == "-" if LINUX else got["num_conns"].isdigit()
