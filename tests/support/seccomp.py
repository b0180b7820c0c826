"""Make one system call fail with a chosen errno, the way a seccomp sandbox (or
RestrictAddressFamilies) does: socket(AF_NETLINK, ...) to reach the /proc
fallback for real, recvmsg()/read() to interrupt a dump.  x86_64 only: the
filter checks x86_64 syscall numbers."""

from __future__ import annotations

import ctypes
import platform
import struct
import sys
import threading

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
AUDIT_ARCH_X86_64, AF_NETLINK = 0xC000003E, 16
NR_READ, NR_SOCKET, NR_RECVMSG = 0, 41, 47
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
LD_ABS, JEQ, RET = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K


def supported() -> bool:
    """Linux on x86_64: the filter checks x86_64 Linux syscall numbers."""
    return sys.platform.startswith("linux") and platform.machine() == "x86_64"


def _program(nr: int, errno: int, arg0: int | None) -> bytes:
    """Fail syscall nr (with first argument arg0, if given) with errno."""
    fail = [(RET, 0, 0, RET_ERRNO | errno)]
    if arg0 is not None:
        fail = [(LD_ABS, 0, 0, 16), (JEQ, 0, 1, arg0), *fail]  # seccomp_data.args[0], low half
    insns = [
        (LD_ABS, 0, 0, 4),  # seccomp_data.arch
        (JEQ, 0, len(fail) + 2, AUDIT_ARCH_X86_64),
        (LD_ABS, 0, 0, 0),  # seccomp_data.nr
        (JEQ, 0, len(fail), nr),
        *fail,
        (RET, 0, 0, RET_ALLOW),
    ]
    return b"".join(struct.pack("=HBBI", *insn) for insn in insns)


def install(nr: int, errno: int, arg0: int | None = None) -> None:
    """Filter the calling thread (and threads it starts) for good."""
    libc = ctypes.CDLL(None, use_errno=True)
    code = ctypes.create_string_buffer(_program(nr, errno, arg0))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Prog(len(code.raw) // 8, ctypes.addressof(code))
    for args in (
        (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0),
    ):
        if libc.prctl(*[ctypes.c_ulong(a) for a in args]) != 0:
            raise OSError(ctypes.get_errno(), "prctl")


def call_without_netlink(errno: int, fn, *args, **kwargs):
    """fn(*args, **kwargs) in a fresh thread whose netlink sockets fail with
    errno; the thread (and its filter) ends with the call."""
    outcome: dict = {}

    def run() -> None:
        try:
            install(NR_SOCKET, errno, AF_NETLINK)
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
