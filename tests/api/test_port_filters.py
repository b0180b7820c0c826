"""local_ports / remote_ports, and counts(by=...).

Filtered tables are compared with the standard population filtered in
Python, and on Linux with `ss` given the same filter expression, on both
backends, alone and combined with states.  On netlink the filter is sent to
the kernel as bytecode: the LD_PRELOAD shim's log proves the kernel took it
(no error) and sent only the matching sockets."""

from __future__ import annotations

import collections
import json
import os
import random
import re
import socket
import subprocess
import sys
import textwrap

import pytest
import tcptable
from netns import LINUX
from oracles import FAMILY_NAME, comparable, row_tuple, ss_rows, table, without_scopes
from population import expected
from tcptable import TcpState

FAMILIES = [socket.AF_INET6, socket.AF_INET]


def want(row, local=None, remote=None, states=None) -> bool:
    return (
        (local is None or row.local_port in local)
        and (remote is None or row.remote_port in remote)
        and (states is None or TcpState[row.state] in states)
    )


def scopes_seen(rows: collections.Counter) -> collections.Counter:
    """Rows as the current source reports them: /proc has no scope ids."""
    return without_scopes(rows) if os.environ.get("TCPTABLE_BACKEND") == "proc" else rows


def expected_rows(population, family, **filters) -> collections.Counter:
    rows = expected(population, FAMILY_NAME[family])
    kept = collections.Counter({comparable(r): n for r, n in rows.items() if want(r, **filters)})
    return scopes_seen(kept)


def got_rows(family, **kwargs) -> collections.Counter:
    return scopes_seen(
        collections.Counter(
            {comparable(r): n for r, n in table(tcptable, family, **kwargs).items()}
        )
    )


def port_sets(population, family, seed):
    """Port sets drawn from the population's own ports, plus some no socket uses."""
    rows = list(expected(population, FAMILY_NAME[family]))
    ports = sorted({r.local_port for r in rows} | {r.remote_port for r in rows})
    rng = random.Random(seed)
    for _ in range(12):
        chosen = set(rng.sample(ports, rng.randint(1, min(6, len(ports)))))
        if rng.random() < 0.5:
            chosen.add(rng.choice([1, 9, 65535]))
        yield chosen


@pytest.mark.parametrize("family", FAMILIES)
def test_filters_match_a_python_filter(population, backend, family):
    for i, ports in enumerate(port_sets(population, family, family)):
        for local, remote in ((ports, None), (None, ports), (ports, ports)):
            kwargs = {"local_ports": local, "remote_ports": remote}
            assert got_rows(family, **kwargs) == expected_rows(
                population, family, local=local, remote=remote
            ), (i, kwargs)
        states = {TcpState.ESTABLISHED, TcpState.LISTEN, TcpState.TIME_WAIT}
        assert got_rows(family, local_ports=ports, states=states) == expected_rows(
            population, family, local=ports, states=states
        )


def ss_filtered(family, local, remote) -> collections.Counter:
    """`ss` with the filter expression a user would write."""
    terms = []
    if local is not None:
        terms.append("( " + " or ".join(f"sport = :{p}" for p in sorted(local)) + " )")
    if remote is not None:
        terms.append("( " + " or ".join(f"dport = :{p}" for p in sorted(remote)) + " )")
    return ss_rows(family, expression=" and ".join(terms))


@pytest.mark.skipif(not LINUX, reason="Linux-only: ss")
@pytest.mark.parametrize("family", FAMILIES)
def test_filters_match_ss_with_the_same_expression(population, backend, family):
    for ports in port_sets(population, family, 7):
        for local, remote in ((ports, None), (None, ports), (ports, ports)):
            assert got_rows(family, local_ports=local, remote_ports=remote) == scopes_seen(
                ss_filtered(family, local, remote)
            )


@pytest.mark.parametrize("family", FAMILIES)
def test_many_ranges_are_filtered_in_c_with_the_same_rows(population, backend, family):
    """More than 64 ranges per direction stay out of the bytecode."""
    rows = expected(population, FAMILY_NAME[family])
    ports = {r.local_port for r in rows} | set(range(2, 400, 2))
    assert got_rows(family, local_ports=ports) == expected_rows(population, family, local=ports)
    assert got_rows(family, remote_ports=ports) == expected_rows(population, family, remote=ports)


def test_empty_port_sets_match_nothing(population):
    assert tcptable.tcp6(local_ports=[]) == ()
    assert tcptable.tcp4(remote_ports=()) == ()
    assert set(tcptable.counts(None, local_ports=set()).values()) == {0}
    assert tcptable.counts(None, local_ports=[], by="local_port") == {}


@pytest.mark.parametrize("name", ["local_ports", "remote_ports"])
@pytest.mark.parametrize(
    "value,error,text",
    [
        ([True], TypeError, "not True"),
        (["80"], TypeError, "not '80'"),
        ([80.0], TypeError, "not 80.0"),
        ([65536], ValueError, "65536 is not a port"),
        ([-1], ValueError, "-1 is not a port"),
        ([2**70], ValueError, "is not a port"),
        ("80", TypeError, "not '80'"),
        (80, TypeError, "not 80"),
        (object(), TypeError, "not object"),
    ],
)
def test_bad_port_values_name_themselves(name, value, error, text):
    for call in (tcptable.tcp6, tcptable.tcp4, lambda **kw: tcptable.counts(None, **kw)):
        with pytest.raises(error, match=f"{name}.*{re.escape(text)}"):
            call(**{name: value})


def test_ports_accept_any_iterable_and_duplicates(population):
    listener = next(r for r in expected(population, "tcp6") if r.state == "LISTEN")
    port = listener.local_port
    expect = expected_rows(population, socket.AF_INET6, local={port})
    for ports in ([port, port], (p for p in [port]), {port: 1}, range(port, port + 1)):
        assert got_rows(socket.AF_INET6, local_ports=ports) == expect


def group(rows, by, states=None, keys=None):
    """{port: {TcpState: n}} from rows: for ports asked for (`keys`) every
    requested state a key, zeros included; else the states seen."""
    chosen = [s for s in TcpState if states is None or s in states]
    result = {p: dict.fromkeys(chosen, 0) for p in keys or ()}
    for row in rows:
        inner = result.setdefault(getattr(row, by), {})
        inner[row.state] = inner.get(row.state, 0) + 1
    return dict(sorted(result.items()))


@pytest.mark.parametrize("by", ["local_port", "remote_port"])
def test_counts_by_port_match_grouped_rows(population, backend, by):
    assert tcptable.counts(by=by) == group(tcptable.tcp6(), by)
    assert tcptable.counts(socket.AF_INET, by=by) == group(tcptable.tcp4(), by)
    both = tcptable.tcp6() + tcptable.tcp4()
    assert tcptable.counts(None, by=by) == group(both, by)
    states = {TcpState.ESTABLISHED, TcpState.CLOSE_WAIT}
    assert tcptable.counts(None, by=by, states=states) == group(
        [r for r in both if r.state in states], by, states
    )


def test_counts_by_local_port_keys_every_requested_port(population, backend):
    rows = tcptable.tcp6() + tcptable.tcp4()
    asked = {rows[0].local_port, rows[-1].local_port, 9, 65535}
    got = tcptable.counts(None, local_ports=asked, by="local_port")
    assert list(got) == sorted(asked)
    assert got == group([r for r in rows if r.local_port in asked], "local_port", keys=asked)
    assert got[9] == dict.fromkeys(TcpState, 0)
    # remote_ports keys remote ports the same way.
    got = tcptable.counts(None, remote_ports={9}, by="remote_port", states={TcpState.LISTEN})
    assert got == {9: {TcpState.LISTEN: 0}}


@pytest.mark.parametrize("by", ["port", "LOCAL_PORT", b"local_port", 1, ""])
def test_counts_by_other_values(by):
    with pytest.raises(ValueError, match="by must be None, 'local_port' or 'remote_port'"):
        tcptable.counts(by=by)


SHIM_CHILD = textwrap.dedent(
    """
    import json, sys, tcptable
    ports = json.loads(sys.argv[1])
    rows = tcptable.tcp6(local_ports=ports)
    print(len(rows))
    """
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sock_diag")
@pytest.mark.parametrize("ranges", [1, 3, 64, 65])
def test_the_kernel_takes_the_bytecode_and_sends_only_matching_rows(population, tmp_path, ranges):
    """A round trip through the real kernel: the request carries a program,
    no NLMSG_ERROR comes back, and the kernel sent exactly the matching rows
    (the full table is larger); past 64 ranges no program is sent."""
    from native_tools import shim_env

    rows = expected(population, "tcp6")
    listen = sorted({r.local_port for r in rows if r.state == "LISTEN"})
    ports = set(listen[:ranges]) | set(range(2, 2 * (ranges - len(listen[:ranges])) + 1, 2))
    log = tmp_path / "diag.log"
    out = subprocess.run(
        [sys.executable, "-c", SHIM_CHILD, json.dumps(sorted(ports))],
        capture_output=True,
        text=True,
        env=shim_env(TT_SHIM_LOG_DIAG=str(log), TCPTABLE_BACKEND="netlink"),
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    returned = int(out.stdout)
    assert returned == expected_rows(population, socket.AF_INET6, local=ports).total() > 0
    lines = log.read_text().splitlines()
    (request,) = [line for line in lines if line.startswith("idiag_states")]
    program = int(request.split("bytecode=")[1])
    assert not [line for line in lines if line.startswith("error=")]
    sent = sum(int(line[5:]) for line in lines if line.startswith("rows="))
    if ranges <= 64:
        assert program > 0
        assert sent == returned < rows.total()
    else:
        assert program == 0
        assert sent == rows.total()


def test_filters_with_pids_and_sort(population, backend):
    rows = tcptable.tcp6(sort=True)
    ports = {rows[0].local_port, rows[-1].local_port}
    filtered = tcptable.tcp6(sort=True, pids=True, local_ports=ports)
    assert [row_tuple(r) for r in filtered] == [row_tuple(r) for r in rows if r.local_port in ports]
