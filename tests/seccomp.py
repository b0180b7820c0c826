"""Make socket(AF_NETLINK, ...) fail with a chosen errno in one thread, the way
a seccomp sandbox (or RestrictAddressFamilies) does, to reach the /proc
fallback for real.  x86_64 only: the filter checks the syscall number there."""

from __future__ import annotations

import ctypes
import platform
import struct
import threading

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
AUDIT_ARCH_X86_64, NR_SOCKET, AF_NETLINK = 0xC000003E, 41, 16
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
LD_ABS, JEQ, RET = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K


def supported() -> bool:
    return platform.machine() == "x86_64"


def _program(errno: int) -> bytes:
    insns = [
        (LD_ABS, 0, 0, 4),  # seccomp_data.arch
        (JEQ, 0, 5, AUDIT_ARCH_X86_64),
        (LD_ABS, 0, 0, 0),  # seccomp_data.nr
        (JEQ, 0, 3, NR_SOCKET),
        (LD_ABS, 0, 0, 16),  # seccomp_data.args[0], low half
        (JEQ, 0, 1, AF_NETLINK),
        (RET, 0, 0, RET_ERRNO | errno),
        (RET, 0, 0, RET_ALLOW),
    ]
    return b"".join(struct.pack("=HBBI", *insn) for insn in insns)


def _install(errno: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    code = ctypes.create_string_buffer(_program(errno))

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
            _install(errno)
            outcome["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller
            outcome["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
