"""Run a function as another uid, without capabilities, in a forked child
(Linux, as root): what a caller without privilege sees."""

from __future__ import annotations

import ctypes
import json
import os
import traceback
from collections.abc import Callable


def run_as(uid: int, view: Callable[[], object]) -> object:
    """`view()` in a forked child that dropped to `uid`, with every module the
    parent loaded; its JSON-ready result, read back through a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running any cleanup
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            # Changing credentials makes a process non-dumpable, which hides
            # its own /proc/<pid>/fd from it; a process started as `uid` is
            # dumpable, so be one (PR_SET_DUMPABLE).
            ctypes.CDLL(None, use_errno=True).prctl(4, 1, 0, 0, 0)
            os.write(write_end, json.dumps(view()).encode())
        except BaseException:
            traceback.print_exc()  # the parent's assertion says no more
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as f:
        text = f.read()
    os.waitpid(pid, 0)
    assert text, "the unprivileged child reported nothing"
    return json.loads(text)
