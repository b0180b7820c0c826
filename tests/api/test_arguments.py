"""Bad arguments raise TypeError/ValueError naming the bad value; nothing crashes."""

import enum
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest
import tcptable
from tcptable import TcpState

LINUX = sys.platform.startswith("linux")
# unix() takes the same states and sort (Linux; elsewhere it takes nothing).
TABLES = [tcptable.tcp6, tcptable.tcp4, *([tcptable.unix] if LINUX else [])]


@pytest.mark.parametrize("fn", TABLES)
@pytest.mark.parametrize("states", ["LISTEN", b"LISTEN", 5, TcpState.LISTEN, 3.5, object()])
def test_states_that_are_not_an_iterable_of_states(fn, states):
    with pytest.raises(TypeError, match="states") as info:
        fn(states=states)
    message = str(info.value)
    assert repr(states) in message or type(states).__name__ in message


@pytest.mark.parametrize("fn", TABLES)
def test_a_str_is_named_in_the_error(fn):
    with pytest.raises(TypeError, match="'LISTEN'"):
        fn(states="LISTEN")


@pytest.mark.parametrize("fn", TABLES)
@pytest.mark.parametrize("value", [0, 13, -1, 2**70, -(2**70), 99])
def test_unknown_state_numbers(fn, value):
    with pytest.raises(ValueError, match=re.escape(str(value))):
        fn(states=[TcpState.LISTEN, value])


@pytest.mark.parametrize("fn", TABLES)
@pytest.mark.parametrize("item", [True, False, 1.0, None, "LISTEN", b"\x02"])
def test_state_items_of_the_wrong_type(fn, item):
    with pytest.raises(TypeError, match=re.escape(repr(item))):
        fn(states=[item])


@pytest.mark.parametrize("fn", TABLES)
@pytest.mark.parametrize("sort", [1, 0, "yes", None, 1.0])
def test_sort_must_be_a_bool(fn, sort):
    with pytest.raises(TypeError, match=re.escape(f"sort must be a bool, not {sort!r}")):
        fn(sort=sort)


@pytest.mark.parametrize("fn", [tcptable.tcp6, tcptable.tcp4])
@pytest.mark.parametrize("info", [1, 0, "yes", None, 1.0])
def test_info_must_be_a_bool(fn, info):
    with pytest.raises(TypeError, match=re.escape(f"info must be a bool, not {info!r}")):
        fn(info=info)


@pytest.mark.parametrize(
    "call", ["udp6", "udp4", "counts", "stats", "udp_stats", *(["unix"] if LINUX else [])]
)
def test_info_is_for_tcp_tables_only(call):
    with pytest.raises(TypeError, match="'info' is an invalid keyword argument"):
        getattr(tcptable, call)(info=True)


def test_info_is_accepted_everywhere(netns_if_possible):
    """Every platform takes info=True; Windows leaves every row's info None
    (extended statistics are not read yet: docs/windows.md)."""
    listener = socket.socket(socket.AF_INET6)
    listener.bind(("::1", 0))
    listener.listen()
    try:
        (row,) = tcptable.tcp6(info=True, local_ports={listener.getsockname()[1]})
        if LINUX and os.environ.get("TCPTABLE_BACKEND") != "proc":
            assert isinstance(row.info, tcptable.TcpInfo)
        else:
            assert row.info is None
        (plain,) = tcptable.tcp6(local_ports={listener.getsockname()[1]})
        assert plain.info is None and plain == row
    finally:
        listener.close()


@pytest.mark.parametrize("fn", TABLES)
def test_arguments_are_keyword_only(fn):
    with pytest.raises(TypeError):
        fn(None)
    with pytest.raises(TypeError):
        fn(None, False)
    with pytest.raises(TypeError, match="bogus"):
        fn(bogus=1)


@pytest.mark.parametrize("fn", TABLES)
def test_an_exception_inside_the_states_iterable_propagates(fn):
    class Boom(Exception):
        pass

    def states():
        yield TcpState.LISTEN
        raise Boom("from the iterable")

    with pytest.raises(Boom, match="from the iterable"):
        fn(states=states())


def test_counts_family_type():
    for family in ("x", 2.0, True, b"\x0a"):
        with pytest.raises(TypeError, match="family"):
            tcptable.counts(family=family)


def test_counts_family_value():
    for family in (99, 0, -1, 2**70, getattr(socket, "AF_UNIX", 1)):
        with pytest.raises(ValueError, match=re.escape(repr(family))):
            tcptable.counts(family=family)


def test_counts_accepts_none_and_both_families():
    for family in (None, socket.AF_INET, socket.AF_INET6, int(socket.AF_INET6)):
        got = tcptable.counts(family)
        assert list(got) == list(TcpState) and all(isinstance(n, int) for n in got.values())


def test_counts_argument_errors():
    with pytest.raises(TypeError):
        tcptable.counts(None, {TcpState.LISTEN})  # states is keyword-only
    with pytest.raises(TypeError, match="unknown"):
        tcptable.counts(unknown=1)
    with pytest.raises(TypeError, match="'LISTEN'"):
        tcptable.counts(states="LISTEN")
    with pytest.raises(ValueError, match="13"):
        tcptable.counts(states=[13])


LINUX_ONLY = pytest.mark.skipif(
    not LINUX, reason="Linux-only: TCPTABLE_BACKEND picks a Linux source"
)


@pytest.mark.skipif(LINUX, reason="off Linux only: unix() reads sock_diag AF_UNIX")
def test_unix_is_not_implemented_off_linux():
    with pytest.raises(NotImplementedError, match="Linux only"):
        tcptable.unix()


@LINUX_ONLY
@pytest.mark.parametrize("call", [tcptable.tcp6, tcptable.tcp4, tcptable.unix, tcptable.counts])
def test_an_unknown_backend_name_is_a_value_error(call, monkeypatch):
    monkeypatch.setenv("TCPTABLE_BACKEND", "bogus")
    with pytest.raises(ValueError, match="TCPTABLE_BACKEND"):
        call()


@LINUX_ONLY
def test_an_empty_backend_name_means_the_default(monkeypatch):
    monkeypatch.setenv("TCPTABLE_BACKEND", "")
    assert isinstance(tcptable.tcp4(states={TcpState.LISTEN}), tuple)


class Color(enum.IntEnum):
    RED = 2


class Flag(enum.IntFlag):
    BIT = 5


class Plain(int):
    """An int subclass that is no enum: still a state number."""


@pytest.mark.parametrize("fn", [*TABLES, tcptable.counts])
@pytest.mark.parametrize("member", [socket.AF_INET6, Color.RED, Flag.BIT])
def test_members_of_other_enums_are_no_states(fn, member):
    """socket.AF_INET6 is 10, LAST_ACK's value: taking it would silently
    filter on the wrong state."""
    with pytest.raises(TypeError, match=re.escape(repr(member))):
        fn(states=[TcpState.LISTEN, member])


@pytest.mark.parametrize("fn", TABLES)
def test_states_ints_and_int_subclasses_are_states(fn):
    for states in ([TcpState.LISTEN], [2], [Plain(2)], (s for s in [TcpState.LISTEN, 2])):
        assert all(r.state is TcpState.LISTEN for r in fn(states=states))


ENDLESS = textwrap.dedent(
    """
    import itertools, sys, tcptable
    print("ready", flush=True)
    tcptable.tcp6(states=itertools.repeat(2))
    """
)


def test_an_endless_states_iterable_stays_interruptible():
    """Ctrl-C (SIGINT) ends a call reading an endless iterable of states."""
    if not hasattr(signal, "SIGINT") or sys.platform == "win32":
        pytest.skip("sends SIGINT to a child process (POSIX)")
    proc = subprocess.Popen(
        [sys.executable, "-c", ENDLESS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.2)  # inside the call by now
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("SIGINT did not end tcp6(states=itertools.repeat(2))") from None
    assert "KeyboardInterrupt" in err


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="elsewhere than Linux")
def test_tcptable_backend_means_nothing_where_there_is_one_source(monkeypatch):
    monkeypatch.setenv("TCPTABLE_BACKEND", "bogus")
    assert isinstance(tcptable.tcp4(states={TcpState.LISTEN}), tuple)


@pytest.mark.parametrize("call", [tcptable.udp6, tcptable.udp4])
def test_udp_tables_take_no_states_nor_positional_arguments(call):
    with pytest.raises(TypeError, match="'states' is an invalid keyword argument for udp"):
        call(states=None)
    with pytest.raises(TypeError, match="takes no positional arguments"):
        call(socket.AF_INET)
    with pytest.raises(ValueError):
        call(local_ports=[70000])


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="off Linux only: there netns= works")
@pytest.mark.parametrize("call", [tcptable.tcp6, tcptable.tcp4, tcptable.counts])
def test_netns_off_linux_says_namespaces_are_linux_only(call):
    assert isinstance(call(netns=None), (tuple, dict))  # None: the caller's table
    with pytest.raises(NotImplementedError, match="Linux-only"):
        call(netns="/run/netns/x")
    with pytest.raises(NotImplementedError, match="Linux-only"):
        tcptable.namespaces()
