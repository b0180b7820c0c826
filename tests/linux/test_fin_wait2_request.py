"""FIN_WAIT2 queries: orphaned FIN_WAIT2 sockets live on as TIME_WAIT
mini-sockets that report FIN_WAIT2.  Kernels since 3.13 match those on their
FIN_WAIT2 substate, so the request asks for FIN_WAIT2 alone; older kernels
need the TIME_WAIT bit too (and every TIME_WAIT row then crosses netlink to be
filtered out).  The shim fakes uname()'s release to take the old path on this
kernel, and logs the states each request asked for."""

from __future__ import annotations

import collections
import json
import socket
import subprocess
import sys
import textwrap

import pytest
from native_tools import shim_env
from oracles import counter, ss_rows, without_scopes
from population import Population

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux sock_diag")

FIN_WAIT2, TIME_WAIT = 1 << 5, 1 << 6  # Linux state bits in idiag_states

CHILD = textwrap.dedent(
    """
    import json, tcptable
    from tcptable import TcpState
    fw2 = {TcpState.FIN_WAIT2}
    print(json.dumps([[[r[0].name, *r[1:]] for r in t] for t in
                      (tcptable.tcp6(states=fw2), tcptable.tcp4(states=fw2))]))
    """
)


@pytest.fixture
def population(netns):
    """Live and orphaned FIN_WAIT2 sockets and plain TIME_WAIT ones."""
    pop = Population()
    for family, addr in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
        lst = pop.listener(family, addr)
        pop.half_closed(lst)
        pop.orphan_fin_wait2(lst)
        pop.time_wait(lst)
    yield pop
    pop.close()


def fin_wait2(family: int) -> collections.Counter:
    rows = without_scopes(ss_rows(family))
    return collections.Counter({r: n for r, n in rows.items() if r.state == "FIN_WAIT2"})


@pytest.mark.parametrize(
    "release,asked", [(None, FIN_WAIT2), ("3.12.0", FIN_WAIT2 | TIME_WAIT)], ids=["now", "3.12"]
)
def test_fin_wait2_rows_on_both_request_paths(population, tmp_path, release, asked):
    log = tmp_path / "diag.log"
    settings = {"TT_SHIM_LOG_DIAG": str(log), "TCPTABLE_BACKEND": "netlink"}
    if release:
        settings["TT_SHIM_UNAME_RELEASE"] = release
    proc = subprocess.run(
        [sys.executable, "-c", CHILD],
        capture_output=True,
        text=True,
        env=shim_env(**settings),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    tcp6, tcp4 = json.loads(proc.stdout)
    for rows, family in ((tcp6, socket.AF_INET6), (tcp4, socket.AF_INET)):
        expected = fin_wait2(family)
        assert expected.total() == 2  # the live one and the orphan
        assert without_scopes(counter(rows)) == expected
    requests = [line for line in log.read_text().splitlines() if line.startswith("idiag")]
    assert requests == [f"idiag_states={asked:#x} bytecode=0"] * 2, requests
