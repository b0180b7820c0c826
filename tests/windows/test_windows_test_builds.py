"""Test builds of the Windows extension (tests/windows/cpython.py makes them).

Each is the extension with tests/windows/fake_calls.c (the backend, its API
calls behind fakes) in place of ext/arch/windows/tables.c and stats.c.

TT_FAKE_FIRST_CALL_CODE: the first table call of each dump answers a chosen
code.  The codes of a table that changed size while it was read are called
again and the table comes back whole; any other code is an OSError whose
winerror is that code and whose message names the call.  The same for every
table call: TCP and UDP, with and without owners.

TT_FAKE_NO_STATS2: GetTcpStatisticsEx2 is not found, and stats() takes its
fallback, GetTcpStatisticsEx, as on Windows before 10."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from netns import skip_or_fail
from oracles import snmp_tcp

pytestmark = pytest.mark.skipif(sys.platform != "win32", reason="Windows test builds")

CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import tcptable
    try:
        table = getattr(tcptable, sys.argv[2])
        rows = sorted(tuple(r) for r in table(pids=sys.argv[3] == "pids"))
        print(json.dumps({"file": tcptable._tcptable.__file__, "rows": rows}))
    except OSError as e:
        print(json.dumps({"file": tcptable._tcptable.__file__, "error": type(e).__name__,
                          "winerror": e.winerror, "errno": e.errno, "message": str(e)}))
    """
)

RETRIED = [122, 14, 0xC0000001]  # ERROR_INSUFFICIENT_BUFFER, ERROR_OUTOFMEMORY, STATUS_UNSUCCESSFUL


def builds() -> dict[str, str]:
    """build name (a code, or no-stats2) -> folder holding its tcptable package."""
    spec = os.environ.get("TCPTABLE_TEST_BUILDS")
    if not spec:
        skip_or_fail("needs the test builds of tests/windows/cpython.py", "TCPTABLE_REQUIRE_WINE")
    return dict(part.split("=", 1) for part in spec.split(";"))


def in_build(path: str, table: str = "tcp4", pids: bool = False) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, path, table, "pids" if pids else "-"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["file"].startswith(path), report["file"]  # the test build, not ours
    return report


@pytest.fixture
def listener(netns):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    yield s.getsockname()
    s.close()


@pytest.mark.parametrize("code", RETRIED, ids=hex)
def test_a_retried_code_gives_the_whole_table(listener, code):
    report = in_build(builds()[str(code)])
    assert "error" not in report, report
    assert [2, listener[0], listener[1], "0.0.0.0", 0] in report["rows"]  # 2: LISTEN


def test_another_code_is_an_oserror_with_winerror(listener):
    report = in_build(builds()["87"])
    assert report["error"] == "OSError" and report["winerror"] == 87, report
    assert report["errno"] == 22  # EINVAL, as Python maps ERROR_INVALID_PARAMETER
    assert report["message"].startswith("[WinError 87] GetTcpTable() failed"), report


@pytest.fixture
def udp_sockets(netns):
    """A bound UDP socket per family: (family, its table, its local row)."""
    import socket

    made = []
    for family, addr, table in (
        (socket.AF_INET, "127.0.0.1", "udp4"),
        (socket.AF_INET6, "::1", "udp6"),
    ):
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.bind((addr, 0))
        made.append((s, table))
    yield {table: s.getsockname() for s, table in made}
    for s, _ in made:
        s.close()


# The UDP table calls: (table, pids) -> the call a failure names.
UDP_CALLS = {
    ("udp4", False): "GetUdpTable()",
    ("udp6", False): "GetUdp6Table()",
    ("udp4", True): "GetExtendedUdpTable(AF_INET, UDP_TABLE_OWNER_PID)",
    ("udp6", True): "GetExtendedUdpTable(AF_INET6, UDP_TABLE_OWNER_PID)",
}


@pytest.mark.parametrize("code", RETRIED, ids=hex)
@pytest.mark.parametrize("table,pids", UDP_CALLS, ids=lambda v: str(v))
def test_a_retried_code_gives_the_whole_udp_table(udp_sockets, code, table, pids):
    report = in_build(builds()[str(code)], table, pids)
    assert "error" not in report, report
    name = udp_sockets[table]
    # The tuple of a UDP row: local address (and scope id for udp6), port.
    assert [row[0] for row in report["rows"]] == [name[0]], report
    assert report["rows"][0][-1] == name[1], report


@pytest.mark.parametrize("table,pids", UDP_CALLS, ids=lambda v: str(v))
def test_another_code_is_an_oserror_naming_the_udp_call(udp_sockets, table, pids):
    report = in_build(builds()["87"], table, pids)
    assert report["error"] == "OSError" and report["winerror"] == 87, report
    assert report["message"].startswith(f"[WinError 87] {UDP_CALLS[table, pids]} failed"), report


STATS_CHILD = textwrap.dedent(
    """
    import json, sys
    sys.path.insert(0, sys.argv[1])
    import tcptable
    stats = dict(zip(tcptable.TcpStats.__match_args__, tcptable.stats()))
    print(json.dumps({"file": tcptable._tcptable.__file__, "stats": stats}))
    """
)


def test_the_stats_fallback_reads_the_same_counters(netns):
    """GetTcpStatisticsEx (32-bit counters), against the host's snmp
    counters read around it, as test_stats.py checks the main build."""
    path = builds()["no-stats2"]
    before = snmp_tcp()
    proc = subprocess.run(
        [sys.executable, "-c", STATS_CHILD, path], capture_output=True, text=True, timeout=120
    )
    after = snmp_tcp()
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["file"].startswith(path), report["file"]
    got = report["stats"]
    for name in before:
        assert min(before[name], after[name]) <= got[name] <= max(before[name], after[name]), name
    assert got["max_conn"] == -1 and isinstance(got["num_conns"], int)
