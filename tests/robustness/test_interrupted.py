"""Interrupted system calls: every EINTR lets Python signal handlers run; the
dump restarts unless a handler raises, and then the call raises that.

A child process filters recvmsg() (netlink) or read() (/proc) to fail with
EINTR every time, and a repeating timer delivers SIGALRM."""

import errno
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest
import seccomp

CHILD = textwrap.dedent(
    """
    import errno, signal, sys
    import seccomp, tcptable

    class Stop(Exception):
        pass

    calls = 0

    def handler(signum, frame):
        global calls
        calls += 1
        if calls == 3:  # the first two let the dump restart
            raise Stop

    signal.signal(signal.SIGALRM, handler)
    seccomp.install(int(sys.argv[1]), errno.EINTR)
    signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
    try:
        tcptable.tcp6()
    except Stop:
        print("raised after", calls, "signals")
    finally:  # a tick after exit has reset SIGALRM's handler would kill us
        signal.setitimer(signal.ITIMER_REAL, 0)
    """
)


BACKENDS = [("netlink", seccomp.NR_RECVMSG), ("proc", seccomp.NR_READ)]


def run_filtered(script: str, backend: str, nr: int) -> str:
    """`script` in a child whose system call `nr` always fails with EINTR;
    its stdout, once it exited 0 with nothing on stderr."""
    if not seccomp.supported():
        pytest.skip("Linux x86_64 only: the seccomp filter of these tests")
    env = {
        **os.environ,
        "TCPTABLE_BACKEND": backend,
        "PYTHONPATH": str(pathlib.Path(__file__).parent.parent / "support"),  # seccomp
    }
    result = subprocess.run(
        [sys.executable, "-c", script, str(nr)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, "")
    return result.stdout


@pytest.mark.parametrize("backend,nr", BACKENDS)
def test_signal_handlers_run_and_may_raise(netns, backend, nr):
    assert run_filtered(CHILD, backend, nr) == "raised after 3 signals\n"


PERSISTENT = textwrap.dedent(
    """
    import errno, signal, sys
    import seccomp, tcptable

    signal.signal(signal.SIGALRM, lambda *_: None)  # runs, never raises
    seccomp.install(int(sys.argv[1]), errno.EINTR)
    signal.setitimer(signal.ITIMER_REAL, 0.01, 0.01)
    try:
        tcptable.tcp6()
    except InterruptedError as e:
        print("InterruptedError", e.errno)
    finally:  # a tick after exit has reset SIGALRM's handler would kill us
        signal.setitimer(signal.ITIMER_REAL, 0)
    """
)


@pytest.mark.parametrize("backend,nr", BACKENDS)
def test_a_persistent_eintr_ends_the_call(netns, backend, nr):
    """Every recvmsg()/read() fails with EINTR and no handler raises: the call
    gives up with InterruptedError after its bounded tries (about a second of
    pauses), instead of restarting the dump forever at full CPU."""
    assert run_filtered(PERSISTENT, backend, nr) == f"InterruptedError {errno.EINTR}\n"
