"""Arbitrary arguments to tcp6/tcp4/counts: the outcome must be exactly what
the documented contract (not the implementation) predicts, a result of the
right types, or TypeError/ValueError; never a crash or another exception."""

from __future__ import annotations

import socket

import tcptable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from row_checks import check_rows
from tcptable import TcpState

SETTINGS = settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-3, 15),
    st.floats(),
    st.text(max_size=8),
    st.binary(max_size=8),
    st.sampled_from(list(TcpState)),
    st.sampled_from([socket.AF_INET, socket.AF_INET6, getattr(socket, "AF_UNIX", 1)]),
)
containers = st.one_of(
    st.lists(scalars, max_size=6),
    st.sets(st.sampled_from(list(TcpState))),
    st.frozensets(st.integers(-3, 15)),
    st.tuples(scalars, scalars),
    st.dictionaries(st.integers(0, 14), scalars, max_size=4),
    st.iterables(st.integers(1, 12), max_size=6),
    st.builds(bytearray, st.binary(max_size=4)),
)
values = st.one_of(scalars, containers)
kwarg_names = st.sampled_from(["states", "sort", "family", "state", "bogus"])


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def valid_states(states) -> frozenset | None:
    """The requested state set per the contract, or None if invalid."""
    if states is None:
        return frozenset(TcpState)
    if isinstance(states, str | bytes | bytearray | int):
        return None
    try:
        items = list(states)
    except TypeError:
        return None
    if not all(is_int(v) and 1 <= v <= 12 for v in items):
        return None
    return frozenset(TcpState(v) for v in items)


def fresh_states(kwargs: dict, states: frozenset | None) -> None:
    """valid_states() consumed a one-shot iterable: give the call a copy."""
    if states is not None and kwargs.get("states") is not None:
        kwargs["states"] = list(states)


def call(fn, args, kwargs):
    try:
        return fn(*args, **kwargs), None
    except (TypeError, ValueError) as e:
        return None, e


@SETTINGS
@given(
    family=st.sampled_from([socket.AF_INET6, socket.AF_INET]),
    args=st.lists(values, max_size=2),
    kwargs=st.dictionaries(kwarg_names, values, max_size=3),
)
def test_tables(one_pair_each, family, args, kwargs):
    fn = tcptable.tcp6 if family == socket.AF_INET6 else tcptable.tcp4
    states = valid_states(kwargs.get("states"))
    fresh_states(kwargs, states)
    ok = not args and set(kwargs) <= {"states", "sort"} and states is not None
    ok = ok and type(kwargs.get("sort", False)) is bool
    result, error = call(fn, args, kwargs)
    if not ok:
        assert error is not None, f"accepted {args} {kwargs}"
        return
    assert error is None, error
    check_rows(result, family)
    assert {row.state for row in result} <= states


@SETTINGS
@given(
    args=st.lists(values, max_size=2),
    kwargs=st.dictionaries(kwarg_names, values, max_size=2),
)
def test_counts(one_pair_each, args, kwargs):
    states = valid_states(kwargs.get("states"))
    fresh_states(kwargs, states)
    family = args[0] if args else kwargs.get("family", socket.AF_INET6)
    ok = (
        len(args) + ("family" in kwargs) <= 1
        and set(kwargs) <= {"states", "family"}
        and states is not None
        and (family is None or (is_int(family) and family in (socket.AF_INET, socket.AF_INET6)))
    )
    result, error = call(tcptable.counts, args, kwargs)
    if not ok:
        assert error is not None, f"accepted {args} {kwargs}"
        return
    assert error is None, error
    assert type(result) is dict and set(result) == states
    assert all(type(k) is TcpState and type(n) is int and n >= 0 for k, n in result.items())
