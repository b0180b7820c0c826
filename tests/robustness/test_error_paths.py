"""Every failure of the OS or of memory, caused for real.

tests/native/failshim.so (LD_PRELOAD, so in a fresh interpreter) makes
socket(AF_NETLINK) fail as sandboxes and old kernels do, /proc/net/tcp*
unopenable, or the extension's own allocations fail from the n-th on; a
private mount namespace hides /proc/net.  The child prints JSON; the parent
compares it with ss and checks the child's open descriptors did not change.
"""

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
from native_tools import LINUX, OFF_LINUX, asan_preloaded, shim_env
from oracles import counter, ss_rows, without_scopes
from population import Population

pytestmark = pytest.mark.skipif(not LINUX, reason=OFF_LINUX)

FALLBACK_ERRNOS = [errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.EPERM]

# Runs `calls` (a list of (function, kwargs)) `repeat` times in the child and
# reports each outcome of the last round plus the open fds before and after.
CHILD = textwrap.dedent(
    """
    import ctypes, json, os, socket, sys
    import tcptable

    def fds():
        return sorted(os.listdir("/proc/self/fd"))

    def outcome(fn, kwargs):
        try:
            result = getattr(tcptable, fn)(**kwargs)
        except Exception as e:
            return {"error": type(e).__name__, "errno": getattr(e, "errno", None),
                    "message": str(e)}
        if isinstance(result, dict):
            return {"counts": {s.name: n for s, n in result.items()}}
        return {"rows": [[r[0].name, *r[1:]] for r in result]}

    spec = json.loads(sys.argv[1])
    try:  # is socket(AF_NETLINK) really failing in this process?
        socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 4).close()
        netlink = 0
    except OSError as e:
        netlink = e.errno
    before = fds()
    for _ in range(spec["repeat"]):
        outcomes = [outcome(fn, kwargs) for fn, kwargs in spec["calls"]]
    # the extension's blocks still allocated (failshim.c), when it counts them
    live = ctypes.CDLL(None).tt_shim_live_blocks
    live.restype = ctypes.c_long
    print(json.dumps({"netlink": netlink, "outcomes": outcomes, "live_blocks": live(),
                      "fds_before": before, "fds_after": fds()}))
    """
)


def run_child(calls, env=None, repeat=1, wrapper=None):
    """Runs CHILD in a fresh interpreter with the shim preloaded; ``wrapper``
    is code that prepares the process and then executes CHILD."""
    # A limit no test reaches still makes the shim count the extension's blocks.
    env = {"TT_SHIM_ALLOC_FAIL_FROM": str(2**62), **(env or {})}
    spec = json.dumps({"calls": calls, "repeat": repeat})
    proc = subprocess.run(
        [sys.executable, "-c", *([wrapper] if wrapper else []), CHILD, spec],
        capture_output=True,
        text=True,
        env=shim_env(**(env or {})),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout)
    assert report["fds_before"] == report["fds_after"]
    assert report["live_blocks"] == 0, "the extension leaked memory"
    return report


@pytest.fixture
def population(netns):
    pop = Population()
    for family, addr in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
        lst = pop.listener(family, addr)
        pop.connect(lst)
        pop.half_closed(lst)
        pop.time_wait(lst)
    dual = pop.listener(socket.AF_INET6, "::", v6only=False)
    pop.connect(dual, socket.AF_INET, ("127.0.0.1", dual.getsockname()[1]))
    yield pop
    pop.close()


@pytest.mark.parametrize("code", FALLBACK_ERRNOS, ids=errno.errorcode.get)
def test_netlink_unavailable_falls_back_to_proc(population, code):
    env = {"TT_SHIM_NETLINK_ERRNO": str(code), "TCPTABLE_BACKEND": ""}
    report = run_child([["tcp6", {}], ["tcp4", {}], ["counts", {"family": None}]], env)
    assert report["netlink"] == code
    tcp6, tcp4, counts = report["outcomes"]
    v6, v4 = ss_rows(socket.AF_INET6), ss_rows(socket.AF_INET)
    # /proc has no scope ids
    assert counter(tcp6["rows"]) == without_scopes(v6)
    assert counter(tcp4["rows"]) == without_scopes(v4)
    assert sum(counts["counts"].values()) == v6.total() + v4.total()


@pytest.mark.parametrize("code", FALLBACK_ERRNOS, ids=errno.errorcode.get)
def test_netlink_forced_raises_naming_the_step(population, code):
    env = {"TT_SHIM_NETLINK_ERRNO": str(code), "TCPTABLE_BACKEND": "netlink"}
    report = run_child([["tcp6", {}], ["counts", {}]], env, repeat=100)
    assert report["netlink"] == code
    for outcome in report["outcomes"]:
        assert outcome["error"] in {"OSError", "PermissionError"}
        assert outcome["errno"] == code
        assert outcome["message"].startswith(f"[Errno {code}] netlink socket() failed")


@pytest.mark.parametrize("code", [errno.EACCES, errno.ENOENT], ids=errno.errorcode.get)
def test_proc_unopenable_too(population, code):
    env = {
        "TT_SHIM_NETLINK_ERRNO": str(errno.EAFNOSUPPORT),
        "TT_SHIM_PROC_ERRNO": str(code),
        "TCPTABLE_BACKEND": "",
    }
    report = run_child([["tcp6", {}], ["tcp4", {"sort": True}], ["counts", {}]], env, repeat=100)
    tables = ["tcp6", "tcp", "tcp6"]
    for outcome, table in zip(report["outcomes"], tables, strict=True):
        assert outcome["errno"] == code
        opening = f"opening /proc/thread-self/net/{table} failed: {os.strerror(code)}"
        assert opening in outcome["message"]


def test_proc_net_empty_in_a_mount_namespace(population):
    env = {"TT_SHIM_NETLINK_ERRNO": str(errno.EPERM), "TCPTABLE_BACKEND": ""}
    calls = [["tcp6", {}], ["tcp4", {}]]
    report = run_child(calls, env, repeat=100, wrapper=procmask.prelude("hidden"))
    for outcome, table in zip(report["outcomes"], ["tcp6", "tcp"], strict=True):
        assert outcome["errno"] == errno.ENOENT
        opening = f"opening /proc/thread-self/net/{table} failed: No such file or directory"
        assert opening in outcome["message"]
        assert "netlink socket() failed: Operation not permitted" in outcome["message"]
    assert os.path.exists("/proc/net/tcp6")  # the parent's view is untouched


@pytest.mark.parametrize("thread_self", [True, False], ids=["thread-self", "before-3.17"])
def test_errors_name_the_proc_file_read(netns, thread_self):
    """Before Linux 3.17 (no /proc/thread-self) stats() and the /proc
    fallback read /proc/net/{snmp,tcp6}: their errors name that file."""
    env = {
        "TT_SHIM_NETLINK_ERRNO": str(errno.EAFNOSUPPORT),
        "TT_SHIM_PROC_ERRNO": str(errno.EACCES),
        "TT_SHIM_SNMP_ERRNO": str(errno.ENOENT),
        "TCPTABLE_BACKEND": "",
        **({} if thread_self else {"TT_SHIM_NO_THREAD_SELF": "1"}),
    }
    report = run_child([["stats", {}], ["tcp6", {}]], env)
    folder = "/proc/thread-self/net" if thread_self else "/proc/net"
    stats, tcp6 = report["outcomes"]
    assert stats["errno"] == errno.ENOENT
    assert f"opening {folder}/snmp failed: {os.strerror(errno.ENOENT)}" in stats["message"]
    assert tcp6["errno"] == errno.EACCES
    assert f"opening {folder}/tcp6 failed: {os.strerror(errno.EACCES)}" in tcp6["message"]


# Allocations one call makes from the extension: the receive (or /proc read)
# buffer, then the row array at 256, 512 and 1024 rows.
ALLOCS_PER_CALL = 4


@pytest.fixture
def big_population(netns):
    """About 700 IPv6 rows: the row array is reallocated mid-table."""
    pop = Population()
    lst = pop.listener(socket.AF_INET6, "::1", backlog=512)
    for _ in range(350):
        pop.connect(lst)
    yield pop
    pop.close()


@pytest.mark.parametrize("first_call", ["tcp6", "counts"])
@pytest.mark.parametrize("backend", ["netlink", "proc"])
@pytest.mark.parametrize("fail_from", range(1, ALLOCS_PER_CALL + 2))
def test_out_of_memory_mid_table(big_population, backend, fail_from, first_call):
    """From the n-th allocation on every one fails: while n is within the
    first call that call raises MemoryError, else the first call succeeds in
    full and the next one fails.  run_child() checks that no block the
    extension allocated stays allocated and no descriptor stays open."""
    if asan_preloaded():
        pytest.skip("ASan's malloc is preloaded first, so the shim cannot fail it (plain runs do)")
    env = {"TT_SHIM_ALLOC_FAIL_FROM": str(fail_from), "TCPTABLE_BACKEND": backend}
    report = run_child([[first_call, {}], ["tcp6", {"sort": True}], ["counts", {}]], env)
    first, *later = report["outcomes"]
    if fail_from <= ALLOCS_PER_CALL:
        assert first == {"error": "MemoryError", "errno": None, "message": ""}
    elif first_call == "tcp6":
        assert counter(first["rows"]) == without_scopes(ss_rows(socket.AF_INET6))
        assert len(first["rows"]) > 700
    else:
        assert sum(first["counts"].values()) == ss_rows(socket.AF_INET6).total() > 700
    assert [outcome["error"] for outcome in later] == ["MemoryError"] * 2
    calls = [["tcp6", {}], ["tcp4", {}], ["counts", {"family": None}]]
    failing = run_child(calls, env, repeat=200)  # fds checked there
    assert {o["error"] for o in failing["outcomes"]} == {"MemoryError"}


# Allocations of one tcp6(pids=True) call on the small population: the
# receive (or /proc read) buffer, the row array, the owner map's slots and
# the /proc walk's two directory buffers.
ALLOCS_WITH_OWNERS = 5


@pytest.mark.parametrize("backend", ["netlink", "proc"])
@pytest.mark.parametrize("fail_from", range(1, ALLOCS_WITH_OWNERS + 2))
def test_out_of_memory_in_the_owner_scan(population, backend, fail_from):
    """Every allocation of the owner lookup can fail: MemoryError, nothing
    leaked, no descriptor left open (the /proc walk's directories included)."""
    if asan_preloaded():
        pytest.skip("ASan's malloc is preloaded first, so the shim cannot fail it (plain runs do)")
    env = {"TT_SHIM_ALLOC_FAIL_FROM": str(fail_from), "TCPTABLE_BACKEND": backend}
    call = ["tcp6", {"pids": True}]
    first, second = run_child([call, call], env)["outcomes"]
    memory_error = {"error": "MemoryError", "errno": None, "message": ""}
    if fail_from <= ALLOCS_WITH_OWNERS:
        assert first == memory_error
    else:
        assert counter(first["rows"]) == without_scopes(ss_rows(socket.AF_INET6))
    assert second == memory_error
    run_child([call], env, repeat=50)  # no leak, no fd left open, over many failures
