"""Private network namespaces for tests, entered by the test process itself.

The calling thread moves into a fresh namespace (unshare(CLONE_NEWNET)) and
back (setns) afterwards, so the extension, /proc/net and every subprocess the
test starts (ss, ip, wine) see only the sockets the test created.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys

import pytest

CLONE_NEWNET = 0x40000000
# Set by the runner of the suite under Windows CPython (tests/windows): this
# process already runs in a private network namespace made for it, whose
# table holds only the sockets its tests create.
ISOLATED = os.environ.get("TCPTABLE_ISOLATED") == "1"
LINUX = sys.platform.startswith("linux")


def _under_wine() -> bool:
    if sys.platform != "win32":
        return False
    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")


# Windows CPython running under Wine (tests/windows), not on real Windows.
WINE = _under_wine()


def skip_or_fail(reason: str, flag: str = "TCPTABLE_REQUIRE_NETNS") -> None:
    """Skip on a user's machine; fail where CI set ``flag`` to demand the test."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{reason} ({flag}=1 demands this test)")
    pytest.skip(reason, allow_module_level=True)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def _returning():
    """Yields libc; on exit, puts the calling thread back in the network
    namespace it was in."""
    libc = ctypes.CDLL(None, use_errno=True)
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        yield libc
    finally:
        try:
            if libc.setns(original, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the original namespace")
        finally:
            os.close(original)


@contextlib.contextmanager
def private_netns():
    """Enter a new network namespace with ``lo`` up; leave it on exit.  Where
    the runner already isolated this process (ISOLATED), there is nothing to
    enter: the table is the test's own."""
    if ISOLATED and not LINUX:
        yield
        return
    if not LINUX:
        skip_or_fail(
            "needs a private TCP table: a Linux network namespace, or TCPTABLE_ISOLATED=1 "
            "from a runner that made one (tests/windows)"
        )
    with _returning() as libc:
        if libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            skip_or_fail(f"cannot create a network namespace (needs root): {os.strerror(err)}")
        ip("link", "set", "lo", "up")
        yield


@contextlib.contextmanager
def entered(path: str):
    """The calling thread inside the existing namespace at `path`, then back."""
    with _returning() as libc:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), f"setns into {path}")
        finally:
            os.close(target)
        yield
