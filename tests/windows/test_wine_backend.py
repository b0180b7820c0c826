"""The Windows backend (ext/backend_windows.c, the wheel's own source) run under Wine.

Wine 8 serves GetTcp6Table/GetTcpTable from the namespace's real socket table, so
the program sees the sockets each test creates in Python.  Only what Wine
reproduces faithfully is compared (shared/reference/windows-iphlpapi.md):
addresses, ports, states, row counts, the call sequence.  Scope ids are not
(Wine puts an address-class value there), nor Wine's own sort.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import pytest
import tcptable
import wine
from netns import private_netns, skip_or_fail
from population import Population, wait_for
from tcptable import TcpState

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux-side: runs Windows programs under Wine"
)

V6 = socket.AF_INET6
V4 = socket.AF_INET


@pytest.fixture(scope="session")
def wine_env(tmp_path_factory):
    """The exes built once from ext/, and a throwaway prefix (~700 MB) made once."""
    reason = wine.missing_tools()
    if reason:
        skip_or_fail(reason, wine.REQUIRE)
    with private_netns():  # every test runs in one: skip before a minute of building
        pass
    bindir = wine.build(tmp_path_factory.mktemp("wine-bin"))
    env = wine.Wine(Path(tempfile.mkdtemp(prefix="tcptable-wineprefix-")), bindir)
    try:
        first = env.run("tcptable_dump", "4", "--state", "1")  # creates the prefix (~7 s)
        assert first.returncode == 0, first.stderr
        env.end_session()
        yield env
    finally:
        env.end_session()
        shutil.rmtree(env.prefix, ignore_errors=True)


@pytest.fixture
def win(netns, wine_env):
    """Wine with a session of its own inside this test's namespace."""
    wine_env.end_session()  # a session from elsewhere would read another table
    yield wine_env
    wine_env.end_session()


def key(row: dict) -> tuple:
    return (
        row["state"],
        row["local_addr"],
        row["local_port"],
        row["remote_addr"],
        row["remote_port"],
    )


def linux_keys(rows) -> Counter:
    return Counter(
        (int(r.state), r.local_addr, r.local_port, r.remote_addr, r.remote_port) for r in rows
    )


def ends(sock: socket.socket) -> tuple:
    local, peer = sock.getsockname(), sock.getpeername()
    return local[0], local[1], peer[0], peer[1]


def build_population(pop: Population) -> tuple[Counter, Counter]:
    """Sockets in LISTEN, SYN_SENT, ESTABLISHED, FIN_WAIT2, CLOSE_WAIT and TIME_WAIT,
    dual-stack and link-local, and the rows they must give: (IPv6, IPv4) counters."""
    rows = {V6: Counter(), V4: Counter()}

    def add(family, state, local, lport, remote, rport):
        rows[family][(int(state), local, lport, remote, rport)] += 1

    def listening(family, addr, **kw):
        s = pop.listener(family, addr, **kw)
        add(
            family,
            TcpState.LISTEN,
            addr,
            s.getsockname()[1],
            "::" if family == V6 else "0.0.0.0",
            0,
        )
        return s

    for family, loop in ((V6, "::1"), (V4, "127.0.0.1")):
        lst = listening(family, loop)
        for s in pop.connect(lst):
            add(family, TcpState.ESTABLISHED, *ends(s))
        client, server = pop.half_closed(lst)
        add(family, TcpState.FIN_WAIT2, *ends(client))
        add(family, TcpState.CLOSE_WAIT, *ends(server))
        gone = pop.time_wait(lst)
        add(family, TcpState.TIME_WAIT, gone[0], gone[1], loop, lst.getsockname()[1])

        full, pending = pop.syn_sent(family, loop)
        port = full.getsockname()[1]
        add(family, TcpState.LISTEN, loop, port, "::" if family == V6 else "0.0.0.0", 0)
        queued = pop.sockets[-len(pending) - 1]  # the client that filled the queue
        add(family, TcpState.ESTABLISHED, *ends(queued))
        add(family, TcpState.ESTABLISHED, loop, port, *queued.getsockname()[:2])
        for name in pending:
            add(family, TcpState.SYN_SENT, name[0], name[1], loop, port)

    # Dual stack: the IPv4 client is an IPv4 row, the server side a mapped IPv6 row.
    dual = listening(V6, "::", v6only=False)
    client, server = pop.connect(dual, V4, ("127.0.0.1", dual.getsockname()[1]))
    add(V4, TcpState.ESTABLISHED, *ends(client))
    add(V6, TcpState.ESTABLISHED, *ends(server))

    # Link-local over a veth pair: listener, client and server all on fe80::1.
    client, server, _ = pop.link_local()
    listener = pop.sockets[-3]
    add(V6, TcpState.LISTEN, *listener.getsockname()[:2], "::", 0)
    add(V6, TcpState.ESTABLISHED, *ends(client))
    add(V6, TcpState.ESTABLISHED, *ends(server))
    return rows[V6], rows[V4]


@pytest.fixture
def sockets(netns):
    """A fresh population in this test's namespace: (pop, IPv6 rows, IPv4 rows)."""
    pop = Population()
    try:
        yield (pop, *build_population(pop))
    finally:
        pop.close()


RETRY_CODES = ("insufficient_buffer", "unsuccessful", "out_of_memory")


def retries(stats: dict) -> int:
    """Failed calls the sizing loop repeated (every call of a poll but its last)."""
    return sum(stats[code] for code in RETRY_CODES)


def dump(win: wine.Wine, exe: str, family: int, *args: str) -> wine.Result:
    result = win.run(exe, "6" if family == V6 else "4", *args)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result


def check_shape(rows: list[dict], family: int) -> None:
    """Every row has exactly the driver's keys, with values of the right kind."""
    keys = {"state", "local_addr", "local_port", "remote_addr", "remote_port"}
    if family == V6:
        keys |= {"local_scope_id", "remote_scope_id"}
    version = 6 if family == V6 else 4
    for row in rows:
        assert set(row) == keys, row
        assert 1 <= row["state"] <= 12, row
        assert 0 < row["local_port"] < 65536, row
        assert ipaddress.ip_address(row["local_addr"]).version == version, row
        assert ipaddress.ip_address(row["remote_addr"]).version == version, row
        if row["state"] == TcpState.LISTEN:
            assert row["remote_addr"] in ("::", "0.0.0.0") and row["remote_port"] == 0, row
            if family == V6:
                assert row["remote_scope_id"] == 0, row
        else:
            assert 0 < row["remote_port"] < 65536, row


@pytest.mark.parametrize("family", [V6, V4], ids=["tcp6", "tcp4"])
def test_rows_match_own_sockets_and_linux_backend(win, sockets, family):
    _, expected6, expected4 = sockets
    expected = expected6 if family == V6 else expected4
    result = dump(win, "tcptable_dump", family)
    win.check_namespace()
    rows = result.rows()
    check_shape(rows, family)
    linux = tcptable.tcp6() if family == V6 else tcptable.tcp4()

    assert Counter(map(key, rows)) == expected
    assert linux_keys(linux) == expected
    if family == V6:
        # The one scope id Wine reports faithfully: 0 for the unspecified address.
        unspecified = [r["local_scope_id"] for r in rows if r["local_addr"] == "::"]
        assert unspecified == [0]  # the dual-stack listener


@pytest.mark.parametrize("family", [V6, V4], ids=["tcp6", "tcp4"])
def test_sort_is_the_shared_order(win, sockets, family):
    rows = dump(win, "tcptable_dump", family, "--sort").rows()

    # Independent order: address bytes, port, remote address bytes, remote port.
    # Scope ids can be left out: here every address lives on one interface.
    def order(r):
        return (
            ipaddress.ip_address(r["local_addr"]).packed,
            r["local_port"],
            ipaddress.ip_address(r["remote_addr"]).packed,
            r["remote_port"],
        )

    assert [order(r) for r in rows] == sorted(order(r) for r in rows)
    linux = tcptable.tcp6(sort=True) if family == V6 else tcptable.tcp4(sort=True)
    assert [key(r) for r in rows] == [
        (int(r.state), r.local_addr, r.local_port, r.remote_addr, r.remote_port) for r in linux
    ]
    assert len(rows) > 10


@pytest.mark.parametrize("family", [V6, V4], ids=["tcp6", "tcp4"])
def test_state_filter(win, sockets, family):
    _, expected6, expected4 = sockets
    expected = expected6 if family == V6 else expected4
    wanted = {TcpState.LISTEN, TcpState.SYN_SENT, TcpState.TIME_WAIT}
    args = [a for s in sorted(wanted) for a in ("--state", str(int(s)))]
    rows = dump(win, "tcptable_dump", family, *args).rows()
    keep = Counter({k: n for k, n in expected.items() if k[0] in wanted})
    assert Counter(map(key, rows)) == keep
    assert len(keep) >= 4


@pytest.mark.parametrize("family", [V6, V4], ids=["tcp6", "tcp4"])
def test_tiny_first_guess_resizes_every_call(win, sockets, family):
    _, expected6, expected4 = sockets
    expected = expected6 if family == V6 else expected4
    result = dump(win, "tcptable_dump_tiny", family, "--stats")
    (stats,) = result.stats()
    # A 1-byte first buffer cannot hold any table: the first call must have
    # answered ERROR_INSUFFICIENT_BUFFER and a later one succeeded.
    assert stats["insufficient_buffer"] >= 1, stats
    assert stats["calls"] == 1 + retries(stats), stats
    assert stats["rows"] == len(result.rows())
    assert Counter(map(key, result.rows())) == expected


def test_table_that_never_settles_is_an_error(win, sockets):
    # One try with the 1-byte first buffer: the table "never fits".
    result = win.run("tcptable_dump_never", "6")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "GetTcp6Table() (1 calls, the table never settled) failed" in lines[0]
    assert "error 122" in lines[0]


# The codes a call may answer while the table changes size, and the counter
# of the driver's --stats line that counts each.
RETRIED = {122: "insufficient_buffer", 14: "out_of_memory", 0xC0000001: "unsuccessful"}


@pytest.mark.parametrize("code", sorted(RETRIED), ids=lambda c: f"{c:#x}")
@pytest.mark.parametrize("family", [V6, V4], ids=["tcp6", "tcp4"])
def test_each_retried_code_is_called_again(win, sockets, family, code):
    """A build whose first call of each dump answers `code`: the loop calls
    again and returns the whole table."""
    _, expected6, expected4 = sockets
    result = dump(win, f"tcptable_dump_fail_{code}", family, "--stats")
    (stats,) = result.stats()
    assert stats[RETRIED[code]] >= 1 and stats["calls"] == 1 + retries(stats), stats
    assert Counter(map(key, result.rows())) == (expected6 if family == V6 else expected4)


def test_another_code_is_reported_not_retried(win, sockets):
    """ERROR_INVALID_PARAMETER (87) is the API's answer, not a size race."""
    result = win.run("tcptable_dump_fail_87", "4")
    assert (result.returncode, result.stdout) == (1, "")
    (line,) = result.stderr.splitlines()
    assert "GetTcpTable() failed: error 87" in line and "after 1 calls" in line


# The UDP table calls, by (family, pids), as a failure names them.
UDP_CALLS = {
    (V6, False): "GetUdp6Table()",
    (V4, False): "GetUdpTable()",
    (V6, True): "GetExtendedUdpTable(AF_INET6, UDP_TABLE_OWNER_PID)",
    (V4, True): "GetExtendedUdpTable(AF_INET, UDP_TABLE_OWNER_PID)",
}
UDP_IDS = ["udp6", "udp4", "udp6-pids", "udp4-pids"]


@pytest.mark.parametrize("family,pids", UDP_CALLS, ids=UDP_IDS)
def test_udp_tiny_first_guess_resizes_every_call(win, family, pids):
    """The UDP calls through the same sizing loop: a 1-byte first buffer,
    then the whole table, holding the test's own socket."""
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.bind(("::1" if family == V6 else "127.0.0.1", 0))
        result = dump(win, "tcptable_dump_tiny", family, "--udp", "--stats", *["--pids"] * pids)
        name = s.getsockname()
    (stats,) = result.stats()
    assert stats["insufficient_buffer"] >= 1 and stats["calls"] == 1 + retries(stats), stats
    mine = [r for r in result.rows() if r["local_port"] == name[1]]
    assert [(r["local_addr"], r["remote_port"]) for r in mine] == [(name[0], 0)], result.stdout


@pytest.mark.parametrize("family,pids", UDP_CALLS, ids=UDP_IDS)
def test_udp_table_that_never_settles_is_an_error(win, family, pids):
    args = ["6" if family == V6 else "4", "--udp", *["--pids"] * pids]
    result = win.run("tcptable_dump_never", *args)
    assert (result.returncode, result.stdout) == (1, "")
    (line,) = result.stderr.splitlines()
    assert f"{UDP_CALLS[family, pids]} (1 calls, the table never settled) failed" in line
    assert "error 122" in line


def test_bad_usage_exits_2(win):
    result = win.run("tcptable_dump", "5")
    assert result.returncode == 2
    assert result.stdout == ""
    assert "6 or 4" in result.stderr


CHURN_MIN_PAIRS = 2000  # connections added while the exe polls (2 rows each)
CHURN_POLLS = 3  # polls that must start and end while connections are being added
CHURN_BURST = 100


def raise_fd_limit(needed: int) -> None:
    import resource  # POSIX only: this module is collected on Windows too

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.fail(f"RLIMIT_NOFILE hard limit {hard} is below the {needed} sockets needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def polls_of(text: str) -> list[tuple[list[dict], dict]]:
    """Complete polls of a --stats output: (rows, stats line) each."""
    polls, rows = [], []
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break  # the exe is still writing this line
        obj = json.loads(line)
        if "poll" in obj:
            polls.append((rows, obj))
            rows = []
        else:
            rows.append(obj)
    return polls


@pytest.mark.parametrize("exe", ["tcptable_dump", "tcptable_dump_tiny"])
def test_churn_every_poll_succeeds(win, tmp_path, record_property, exe):
    raise_fd_limit(2 * (CHURN_MIN_PAIRS + CHURN_BURST * (CHURN_POLLS + 1)) + 1024)
    pop = Population()
    out_path, err_path, stop = tmp_path / "polls.jsonl", tmp_path / "stderr", tmp_path / "stop"
    try:
        listener = pop.listener(V6, "::1", backlog=4096)
        port = listener.getsockname()[1]
        with open(out_path, "w") as out, open(err_path, "w") as err:
            proc = win.popen(
                exe,
                "6",
                "--stats",
                "--until",
                "Z:" + str(stop).replace("/", "\\"),
                stdout=out,
                stderr=err,
            )
        try:

            def polls_done() -> int:
                return out_path.read_bytes().count(b'{"poll"')

            def wait_polls(n: int) -> None:
                wait_for(
                    lambda: polls_done() >= n or proc.poll() is not None, f"{n} polls", timeout=120
                )

            wait_polls(1)
            before = polls_done()
            pairs = 0
            # Bursts of connections with short pauses until thousands were added,
            # then one burst per poll until several polls ran start to end while
            # the table grew.
            while pairs < CHURN_MIN_PAIRS or polls_done() < before + CHURN_POLLS + 1:
                assert proc.poll() is None, err_path.read_text()
                if pairs >= CHURN_MIN_PAIRS:
                    wait_polls(polls_done() + 1)
                for _ in range(CHURN_BURST):
                    pop.connect(listener)
                pairs += CHURN_BURST
                time.sleep(0.02)
            during = polls_done() - before - 1
            wait_polls(polls_done() + 2)  # at least one poll that began after the churn
            stop.touch()
            assert proc.wait(timeout=120) == 0, err_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert err_path.read_text() == ""

        expected = Counter({(int(TcpState.LISTEN), "::1", port, "::", 0): 1})
        for s in pop.sockets[1:]:
            expected[(int(TcpState.ESTABLISHED), *ends(s))] += 1
        polls = polls_of(out_path.read_text())
        final_rows, _ = polls[-1]
        assert Counter(map(key, final_rows)) == expected
        assert linux_keys(tcptable.tcp6()) == expected

        every_pair = {k[1:] for k in expected}
        growing = {
            int(TcpState.LISTEN),
            int(TcpState.SYN_SENT),
            int(TcpState.SYN_RECV),
            int(TcpState.ESTABLISHED),
        }
        for rows, stats in polls:
            assert stats["rows"] == len(rows), stats
            check_shape(rows, V6)
            assert [r["local_port"] for r in rows if r["state"] == TcpState.LISTEN] == [port]
            for r in rows:
                assert r["state"] in growing, r
                assert key(r)[1:] in every_pair, r
        for _, stats in polls:
            assert stats["calls"] == 1 + retries(stats), stats
        calls = dict(sorted(Counter(stats["calls"] for _, stats in polls).items()))
        retried = {code: sum(stats[code] for _, stats in polls) for code in RETRY_CODES}
        figures = {"pairs": pairs, "polls": len(polls), "during_churn": during}
        figures |= {"calls_per_poll": calls, "retried": retried}
        record_property("wine_churn", figures)
        print(f"churn ({exe}): {figures}")
        assert len({stats["rows"] for _, stats in polls}) >= 3  # the table really grew
    finally:
        pop.close()
