"""Changing what /proc/net shows one child process, in a private mount
namespace of that child alone.

``prelude(mask)`` is Python code for ``python -c PRELUDE CODE ARGS...``: it
unshares the mount namespace, makes every mount private, applies the mask to
both views of the calling thread's network tables (``/proc/<pid>/net``, what
/proc/net shows, and ``/proc/<pid>/task/<tid>/net``, what
/proc/thread-self/net shows), then runs CODE with ARGS as sys.argv[1:].

Masks: "hidden" (both tables missing), "no-tcp6" (tcp present, tcp6 missing:
a kernel booted with ipv6.disable=1), "empty-tcp6" (tcp present, tcp6 an
empty file, as a table masked with /dev/null reads).
"""

from __future__ import annotations

import textwrap

MASKS = ("hidden", "no-tcp6", "empty-tcp6")

_PRELUDE = textwrap.dedent(
    """
    import ctypes, os, sys, tempfile, threading
    libc = ctypes.CDLL(None, use_errno=True)
    MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000

    def mount(source, target, fstype, flags):
        if libc.mount(source and source.encode(), target.encode(),
                      fstype and fstype.encode(), flags, None) != 0:
            sys.exit(f"mount {{source}} on {{target}}: " + os.strerror(ctypes.get_errno()))

    if libc.unshare(0x20000) != 0:  # CLONE_NEWNS
        sys.exit("unshare(CLONE_NEWNS): " + os.strerror(ctypes.get_errno()))
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    pid, tid = os.getpid(), threading.get_native_id()
    mask = {mask!r}
    # A tmpfs over each net folder; "tcp" in it is the real table (bound from
    # a spare tmpfs before the folder is hidden), "tcp6" an empty file.
    for net in (f"/proc/{{pid}}/net", f"/proc/{{pid}}/task/{{tid}}/net"):
        keep = None
        if mask != "hidden":
            keep = tempfile.mkdtemp()
            mount("none", keep, "tmpfs", 0)
            open(keep + "/tcp", "w").close()
            mount(net + "/tcp", keep + "/tcp", None, MS_BIND)
        mount("none", net, "tmpfs", 0)
        if keep:
            open(net + "/tcp", "w").close()
            mount(keep + "/tcp", net + "/tcp", None, MS_BIND)
        if mask == "empty-tcp6":
            open(net + "/tcp6", "w").close()
    code = sys.argv.pop(1)
    exec(compile(code, "<masked>", "exec"))
    """
)


def prelude(mask: str) -> str:
    if mask not in MASKS:
        raise ValueError(f"unknown mask {mask!r}: choose from {MASKS}")
    return _PRELUDE.format(mask=mask)
