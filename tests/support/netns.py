"""Private network namespaces for tests, entered by the test process itself.

The calling thread moves into a fresh namespace (unshare(CLONE_NEWNET)) and
back (setns) afterwards, so the extension, /proc/net and every subprocess the
test starts (ss, ip, wine) see only the sockets the test created.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import socket
import struct
import subprocess
import sys

import pytest

CLONE_NEWNET = 0x40000000
# Set by the runner of the suite under Windows CPython (tests/windows): this
# process already runs in a private network namespace made for it, whose
# table holds only the sockets its tests create.
ISOLATED = os.environ.get("TCPTABLE_ISOLATED") == "1"
LINUX = sys.platform.startswith("linux")
NETNS_FLAG = "TCPTABLE_REQUIRE_NETNS"


def _under_wine() -> bool:
    if sys.platform != "win32":
        return False
    return hasattr(ctypes.WinDLL("ntdll"), "wine_get_version")


# Windows CPython running under Wine (tests/windows), not on real Windows.
WINE = _under_wine()


def skip_or_fail(reason: str, flag: str = NETNS_FLAG) -> None:
    """Skip on a user's machine; fail where CI set ``flag`` to demand the test."""
    if os.environ.get(flag) == "1":
        pytest.fail(f"{reason} ({flag}=1 demands this test)")
    pytest.skip(reason, allow_module_level=True)


def need_tool(name: str, package: str) -> None:
    """Skip (or fail, under TCPTABLE_REQUIRE_TOOLS) when `name` is not on PATH."""
    if shutil.which(name) is None:
        skip_or_fail(f"needs {name} ({package})", "TCPTABLE_REQUIRE_TOOLS")


def ip(*args: str) -> None:
    need_tool("ip", "iproute2")
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextlib.contextmanager
def _left(move, or_host: bool = False):
    """Runs ``move(libc)``, which takes the calling thread into another network
    namespace, and puts the thread back on exit.  Where ``move`` cannot (it
    returns an error text), the thread never left, and nothing is put back
    (setns needs CAP_SYS_ADMIN even to return, which a container does not
    give): the test skips, or with ``or_host`` runs where it is."""
    libc = ctypes.CDLL(None, use_errno=True)
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        err = move(libc)
        if err and (not or_host or os.environ.get(NETNS_FLAG) == "1"):
            skip_or_fail(f"cannot create or enter a network namespace (needs CAP_SYS_ADMIN): {err}")
        if err:
            yield
            return
        try:
            yield
        finally:
            if libc.setns(original, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back to the original namespace")
    finally:
        os.close(original)


@contextlib.contextmanager
def private_netns(or_host: bool = False):
    """Enter a new network namespace with ``lo`` up; leave it on exit.  Where
    the runner already isolated this process (ISOLATED), there is nothing to
    enter: the table is the test's own.  ``or_host``: where no namespace can
    be had (a container, real Windows) and none is demanded, the test runs in
    the caller's, for tests that look only at their own sockets."""
    if ISOLATED and not LINUX:
        yield
        return
    if not LINUX and or_host and os.environ.get(NETNS_FLAG) != "1":
        yield
        return
    if not LINUX:
        skip_or_fail(
            "needs a private TCP table: a Linux network namespace, or TCPTABLE_ISOLATED=1 "
            "from a runner that made one (tests/windows)"
        )

    def unshare(libc) -> str:
        if libc.unshare(CLONE_NEWNET) != 0:
            return os.strerror(ctypes.get_errno())
        _loopback_up()
        return ""

    with _left(unshare, or_host):
        yield


def _loopback_up() -> None:
    """``ip link set lo up`` without iproute2: SIOCGIFFLAGS, then SIOCSIFFLAGS."""
    import fcntl  # Linux only, as this is

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, 0x8913, request))[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH22x", b"lo", flags | 1))  # IFF_UP


@contextlib.contextmanager
def entered(path: str):
    """The calling thread inside the existing namespace at `path`, then back
    (nothing to do, and no privilege needed, when it is the caller's own)."""
    if _same_file(path, "/proc/thread-self/ns/net"):
        yield
        return

    def setns(libc) -> str:
        target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return "" if libc.setns(target, CLONE_NEWNET) == 0 else os.strerror(ctypes.get_errno())
        finally:
            os.close(target)

    with _left(setns):
        yield


def _same_file(a: str, b: str) -> bool:
    sa, sb = os.stat(a), os.stat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
