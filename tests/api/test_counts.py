"""counts(): the per-state tally of the rows tcp6()/tcp4() return."""

import collections
import socket

import pytest
import tcptable
from tcptable import TcpState


def tally(rows, states=tuple(TcpState)):
    seen = collections.Counter(r.state for r in rows)
    return {s: seen[s] for s in states}


@pytest.mark.parametrize(
    "family,fn", [(socket.AF_INET6, tcptable.tcp6), (socket.AF_INET, tcptable.tcp4)]
)
def test_counts_equal_the_tally_of_the_table(population, backend, family, fn):
    got = tcptable.counts(family)
    assert got == tally(fn())
    assert list(got) == list(TcpState)  # every state a key, in value order
    assert got[TcpState.LISTEN] >= 2 and got[TcpState.TIME_WAIT] == 2


def test_default_family_is_ipv6(population, backend):
    assert tcptable.counts() == tally(tcptable.tcp6())


def test_none_counts_both_families(population, backend):
    both = tally(tcptable.tcp6() + tcptable.tcp4())
    assert tcptable.counts(None) == both
    assert tcptable.counts(family=None) == both
    v4, v6 = tcptable.counts(socket.AF_INET), tcptable.counts(socket.AF_INET6)
    assert both == {s: v4[s] + v6[s] for s in TcpState}


def test_every_requested_state_is_a_key_zeros_included(population, backend):
    states = [TcpState.CLOSE, TcpState.CLOSING, TcpState.DELETE_TCB, TcpState.LISTEN]
    got = tcptable.counts(None, states=states)
    assert set(got) == set(states)
    assert got[TcpState.CLOSE] == 0 and got[TcpState.DELETE_TCB] == 0
    closing = sum(n for r, n in population.expected.items() if r.state == "CLOSING")
    assert got[TcpState.CLOSING] == closing
    assert got[TcpState.LISTEN] == len(tcptable.tcp6(states={2})) + len(tcptable.tcp4(states={2}))
    assert all(type(k) is TcpState for k in got)


def test_counts_of_fin_wait2_exclude_time_wait(population, backend):
    got = tcptable.counts(None, states={TcpState.FIN_WAIT2})
    want = sum(n for r, n in population.expected.items() if r.state == "FIN_WAIT2")
    assert got == {TcpState.FIN_WAIT2: want}
    assert tcptable.counts(None, states={TcpState.TIME_WAIT}) == {TcpState.TIME_WAIT: 4}


def test_empty_states_give_an_empty_dict(population, backend):
    assert tcptable.counts(None, states=()) == {}
