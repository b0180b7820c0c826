"""tcp6()/tcp4() against three independent views of the standard population:
ss, a parse of /proc/net/tcp{,6}, and the sockets' own names.  Multiset
equality: every row once, no duplicates, no misses; for both backends."""

import socket

import pytest
import tcptable
from netns import LINUX, ip
from oracles import proc_rows, ss_rows, table, without_scopes
from population import VETH_A, Population, expected

FAMILIES = [(socket.AF_INET, "tcp4"), (socket.AF_INET6, "tcp6")]


def scopes_as_backend_reports(rows, backend):
    """/proc carries no scope ids: the proc backend reports 0 everywhere."""
    return without_scopes(rows) if backend == "proc" else rows


@pytest.mark.skipif(not LINUX, reason="Linux-only: ss")
@pytest.mark.parametrize("family,name", FAMILIES)
def test_table_equals_ss(population, backend, family, name):
    oracle = ss_rows(family)
    assert table(tcptable, family) == scopes_as_backend_reports(oracle, backend)


@pytest.mark.skipif(not LINUX, reason="Linux-only: /proc")
@pytest.mark.parametrize("family,name", FAMILIES)
def test_table_equals_proc_parse(population, backend, family, name):
    assert without_scopes(table(tcptable, family)) == proc_rows(family)


@pytest.mark.parametrize("family,name", FAMILIES)
def test_table_equals_the_sockets_own_names(population, backend, family, name):
    want = scopes_as_backend_reports(expected(population, name), backend)
    assert table(tcptable, family) == want


@pytest.mark.parametrize("family,name", FAMILIES)
def test_default_backend_is_netlink(population, monkeypatch, family, name):
    monkeypatch.delenv("TCPTABLE_BACKEND", raising=False)
    assert table(tcptable, family) == expected(population, name)


@pytest.mark.skipif(not LINUX, reason="Linux-only: the other states need Linux socket options")
def test_population_covers_every_kind_of_row(population):
    """Guards the oracle tests against a population that lost a case."""
    rows = population.expected
    # Every state Linux can hold still, i.e. all but CLOSE (and Windows' DELETE_TCB).
    assert {r.state for r in rows} == {s.name for s in tcptable.TcpState} - {"CLOSE", "DELETE_TCB"}
    assert any(r.local_addr.startswith("::ffff:127.") for r in rows if r.family == "tcp6")
    assert any(r.local_scope_id and r.remote_scope_id for r in rows)


def test_dual_stack_ipv4_peer_stays_mapped(population, backend):
    """An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d in tcp6()
    and as plain IPv4 in tcp4()."""
    mapped = [r for r in tcptable.tcp6() if r.local_addr.startswith("::ffff:")]
    assert mapped, "no IPv4-mapped row in tcp6()"
    for row in mapped:
        assert row.state is tcptable.TcpState.ESTABLISHED
        assert row.remote_addr == "::ffff:127.0.0.1"
        peer = [
            r
            for r in tcptable.tcp4()
            if (r.local_port, r.remote_port) == (row.remote_port, row.local_port)
        ]
        assert [(r.local_addr, r.remote_addr) for r in peer] == [("127.0.0.1", "127.0.0.1")]


@pytest.mark.skipif(not LINUX, reason="Linux-only: a veth pair made with ip")
def test_link_local_scope_ids(population, backend):
    """Scope ids are if_nametoindex() of each socket's interface (netlink);
    /proc has none, so the proc backend reports 0."""
    rows = [r for r in tcptable.tcp6() if r.local_addr.startswith("fe80:")]
    want = {
        (r.local_addr, r.local_port, r.local_scope_id, r.remote_scope_id)
        for r in expected(population, "tcp6")
        if r.local_addr.startswith("fe80:")
    }
    assert len(rows) == len(want) == 5
    ifindexes = {socket.if_nametoindex(n) for n in ("ttveth0", "ttveth1")}
    for row in rows:
        if backend == "proc":
            assert (row.local_scope_id, row.remote_scope_id) == (0, 0)
        else:
            assert row.local_scope_id in ifindexes
            assert (row.local_addr, row.local_port, row.local_scope_id, row.remote_scope_id) in want


def test_listen_rows_have_an_all_zero_remote_end(population, backend):
    for rows, zero in ((tcptable.tcp6(), ("::", 0, 0)), (tcptable.tcp4(), ("0.0.0.0", 0))):
        listen = [r for r in rows if r.state is tcptable.TcpState.LISTEN]
        assert listen
        for row in listen:
            remote = (
                (row.remote_addr, row.remote_scope_id, row.remote_port)
                if len(row) == 7
                else (row.remote_addr, row.remote_port)
            )
            assert remote == zero


@pytest.mark.skipif(not LINUX, reason="Linux-only: addresses made with ip")
def test_scope_ids_cover_all_of_fe80_slash_10(netns, backend):
    """febf:: is link-local too (fe80::/10): its rows carry the scope id."""
    pop = Population()
    try:
        index, _ = pop._veth()
        ip("addr", "add", "febf:ffff::1/64", "dev", VETH_A, "nodad")
        pop.listener(socket.AF_INET6, "febf:ffff::1", scope_id=index)
        want = scopes_as_backend_reports(expected(pop, "tcp6"), backend)
        assert [r.local_scope_id for r in want] == [0 if backend == "proc" else index]
        assert table(tcptable, socket.AF_INET6) == want
        assert scopes_as_backend_reports(ss_rows(socket.AF_INET6), backend) == want
    finally:
        pop.close()
