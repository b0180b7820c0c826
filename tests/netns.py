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


def skip_or_fail(reason: str, flag: str = "TCPTABLE_REQUIRE_NETNS") -> None:
    """Skip on a user's machine; fail where CI set ``flag`` to demand the test."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{reason} ({flag}=1 demands this test)")
    pytest.skip(reason)


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def private_netns():
    """Enter a new network namespace with ``lo`` up; leave it on exit."""
    if not sys.platform.startswith("linux"):
        skip_or_fail("network namespaces need Linux")
    libc = ctypes.CDLL(None, use_errno=True)
    original = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.unshare(CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            skip_or_fail(f"cannot create a network namespace (needs root): {os.strerror(err)}")
        try:
            ip("link", "set", "lo", "up")
            yield
        finally:
            if libc.setns(original, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the original namespace")
    finally:
        os.close(original)
