"""The module declares per-interpreter GIL support: it must work, with its own
TcpState members, in isolated and legacy subinterpreters (CPython >= 3.12)."""

import socket
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    try:
        import _interpreters as interpreters  # 3.13
        configs = ["isolated", "legacy"]
    except ImportError:
        import _xxsubinterpreters as interpreters  # 3.12
        configs = [True, False]
    CODE = '''
    import tcptable
    rows = tcptable.tcp6(states={tcptable.TcpState.LISTEN})
    assert [(r.state, r.local_addr) for r in rows] == [(tcptable.TcpState.LISTEN, "::1")]
    assert type(rows[0].state) is tcptable.TcpState
    print("ok", tcptable.counts()[tcptable.TcpState.LISTEN])
    '''
    for config in configs:
        if isinstance(config, bool):
            iid = interpreters.create(isolated=config)
        else:
            iid = interpreters.create(config)
        failure = interpreters.run_string(iid, CODE)
        assert failure is None, failure
        interpreters.destroy(iid)
    import tcptable
    print("ok", len(tcptable.tcp6()))
    """
)


@pytest.mark.skipif(
    sys.version_info < (3, 12), reason="subinterpreters with their own GIL need 3.12"
)
def test_subinterpreters(netns):
    with socket.socket(socket.AF_INET6) as listener:
        listener.bind(("::1", 0))
        listener.listen()
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
        )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == ["ok 1", "ok 1", "ok 1"]
