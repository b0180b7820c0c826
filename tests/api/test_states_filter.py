"""The states= filter: every row returned has a requested state, and each
state's query returns exactly that state's part of the full table."""

import collections
import itertools
import socket

import pytest
import tcptable
from netns import LINUX
from oracles import table
from population import expected
from tcptable import TcpState

FAMILIES = [socket.AF_INET, socket.AF_INET6]


def subset(rows: collections.Counter, names) -> collections.Counter:
    return collections.Counter({r: n for r, n in rows.items() if r.state in names})


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("state", list(TcpState), ids=lambda s: s.name)
def test_each_state_alone(population, backend, family, state):
    full = table(tcptable, family)
    assert table(tcptable, family, states={state}) == subset(full, {state.name})


@pytest.mark.parametrize("family", FAMILIES)
def test_state_combinations(population, backend, family):
    full = table(tcptable, family)
    shown = sorted({TcpState[r.state] for r in full})
    assert len(shown) >= (6 if LINUX else 4)  # population.standard() builds fewer off Linux
    for combo in itertools.chain(
        itertools.combinations(shown, 2), itertools.combinations(shown, len(shown) - 1)
    ):
        want = subset(full, {s.name for s in combo})
        assert table(tcptable, family, states=combo) == want, combo


@pytest.mark.parametrize("family", FAMILIES)
def test_empty_set_gives_an_empty_tuple(population, backend, family):
    fn = tcptable.tcp6 if family == socket.AF_INET6 else tcptable.tcp4
    assert fn(states=set()) == ()
    assert fn(states=iter(())) == ()


@pytest.mark.parametrize("family", FAMILIES)
def test_none_means_every_state(population, backend, family):
    full = table(tcptable, family)
    assert table(tcptable, family, states=None) == full
    assert table(tcptable, family, states=list(TcpState)) == full


@pytest.mark.parametrize("family", FAMILIES)
def test_ints_equal_to_members_are_accepted(population, backend, family):
    as_members = table(tcptable, family, states=[TcpState.LISTEN, TcpState.TIME_WAIT])
    assert as_members
    assert table(tcptable, family, states=[2, 11]) == as_members
    assert table(tcptable, family, states=(2, 2, 11, TcpState.LISTEN)) == as_members


@pytest.mark.parametrize("family", FAMILIES)
def test_time_wait_and_fin_wait2_never_mix(population, backend, family):
    """Orphaned FIN_WAIT2 sockets are TIME_WAIT mini-sockets in the kernel:
    they must show only under FIN_WAIT2, TIME_WAIT ones only under TIME_WAIT."""
    tw = table(tcptable, family, states={TcpState.TIME_WAIT})
    fw2 = table(tcptable, family, states={TcpState.FIN_WAIT2})
    assert tw and fw2
    assert {r.state for r in tw} == {"TIME_WAIT"}
    assert {r.state for r in fw2} == {"FIN_WAIT2"}
    # Every FIN_WAIT2 row of the population is there, the orphan included.
    name = "tcp6" if family == socket.AF_INET6 else "tcp4"
    want = subset(expected(population, name), {"FIN_WAIT2"})
    assert sum(fw2.values()) == sum(want.values()) >= (4 if LINUX else 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_listen_only_equals_listen_subset(population, backend, family):
    full = table(tcptable, family)
    listen = table(tcptable, family, states={TcpState.LISTEN})
    assert listen == subset(full, {"LISTEN"})
    assert listen and all(r.state == "LISTEN" for r in listen)


def test_rows_of_a_filtered_query_carry_the_requested_members(population, backend):
    for row in tcptable.tcp6(states=[5]):
        assert row.state is TcpState.ESTABLISHED
