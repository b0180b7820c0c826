"""The /proc fallback at the edges of what a kernel shows (issue 9): no
tcp6 beside tcp (ipv6.disable=1), a tcp6 without its header (masked with
/dev/null), and both sources failing at once.  Each case runs in a child with
a private mount namespace (procmask.py) inside the test's network namespace."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import textwrap

import procmask
import pytest
from native_tools import shim_env
from oracles import counter, ss_rows, without_scopes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")

# Runs each (function, kwargs) and prints each outcome as JSON.
CALLS = textwrap.dedent(
    """
    import json, sys, tcptable
    out = []
    for fn, kwargs in json.loads(sys.argv[1]):
        try:
            result = getattr(tcptable, fn)(**kwargs)
        except OSError as e:
            cause = e.__cause__
            out.append({"error": type(e).__name__, "errno": e.errno, "message": str(e),
                        "cause": cause and [type(cause).__name__, cause.errno],
                        "context_is_cause": e.__context__ is cause})
            continue
        if isinstance(result, dict):
            out.append({"counts": {s.name: n for s, n in result.items()}})
        else:
            out.append({"rows": [[r[0].name, *r[1:]] for r in result]})
    print(json.dumps(out))
    """
)


def run_masked(mask: str, calls, env: dict[str, str]) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-c", procmask.prelude(mask), CALLS, json.dumps(calls)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def proc_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "TCPTABLE_BACKEND": "proc", **extra}


def test_no_tcp6_beside_tcp_is_an_empty_ipv6_table(one_pair_each):
    """A kernel without IPv6 has /proc/net/tcp only: tcp6() is () as with
    netlink, and everything that also reads IPv4 keeps working."""
    tcp6, tcp4, both = run_masked(
        "no-tcp6", [["tcp6", {}], ["tcp4", {}], ["counts", {"family": None}]], proc_env()
    )
    assert tcp6 == {"rows": []}
    assert counter(tcp4["rows"]) == ss_rows(socket.AF_INET) and tcp4["rows"]
    assert sum(both["counts"].values()) == len(tcp4["rows"])


@pytest.mark.parametrize("args", [[], ["--count"]])
def test_the_cli_works_without_tcp6(one_pair_each, args):
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            procmask.prelude("no-tcp6"),
            "import runpy; runpy.run_module('tcptable', run_name='__main__')",
            *args,
        ],
        capture_output=True,
        text=True,
        env=proc_env(),
        timeout=60,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert "127.0.0.1" in proc.stdout if not args else "ESTABLISHED  2" in proc.stdout


def test_no_tables_at_all_is_file_not_found(one_pair_each):
    (tcp6,) = run_masked("hidden", [["tcp6", {}]], proc_env())
    assert tcp6["errno"] == errno.ENOENT and tcp6["error"] == "FileNotFoundError"
    assert "/net/tcp6" in tcp6["message"]


def test_a_table_without_its_header_is_malformed(one_pair_each):
    """An empty tcp6 (as /dev/null over it reads) is no table: EPROTO, not ()."""
    (tcp6,) = run_masked("empty-tcp6", [["tcp6", {}]], proc_env())
    assert tcp6["errno"] == errno.EPROTO
    assert "parsing /proc/thread-self/net/tcp6" in tcp6["message"]


def test_netlink_blocked_and_proc_failing_names_both(one_pair_each):
    """The /proc error keeps why netlink was not used: in its message, and as
    __cause__ (an OSError with netlink's errno)."""
    env = shim_env(TT_SHIM_NETLINK_ERRNO=str(errno.EAFNOSUPPORT), TCPTABLE_BACKEND="")
    tcp6, tcp4 = run_masked("hidden", [["tcp6", {}], ["tcp4", {}]], env)
    for outcome, table in ((tcp6, "tcp6"), (tcp4, "tcp")):
        assert outcome["errno"] == errno.ENOENT
        assert f"opening /proc/thread-self/net/{table} failed" in outcome["message"]
        assert "netlink socket() failed: Address family not supported" in outcome["message"]
        assert outcome["cause"] == ["OSError", errno.EAFNOSUPPORT]
        assert outcome["context_is_cause"]


def test_netlink_blocked_falls_back_to_proc_without_tcp6(one_pair_each):
    env = shim_env(TT_SHIM_NETLINK_ERRNO=str(errno.EPERM), TCPTABLE_BACKEND="")
    tcp6, tcp4 = run_masked("no-tcp6", [["tcp6", {}], ["tcp4", {}]], env)
    assert tcp6 == {"rows": []}
    assert counter(tcp4["rows"]) == without_scopes(ss_rows(socket.AF_INET))
