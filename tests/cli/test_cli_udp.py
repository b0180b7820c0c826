"""`tcptable -u` (Linux): the UDP sockets in text, --json, --stats, --watch
and --netns, in the test's own namespace, against the sockets' own
getsockname()/getpeername() and /proc/net/snmp{,6}; -t with -u gives both
tables, and no flag still gives TCP alone."""

from __future__ import annotations

import collections
import json
import socket
from types import SimpleNamespace

import pytest
from netns import LINUX, entered
from oracles import between, snmp_udp
from test_cli import endpoint_text, ok, run
from test_cli_watch import Watch

pytestmark = pytest.mark.skipif(not LINUX, reason="Linux: the UDP tables")

V4, V6 = socket.AF_INET, socket.AF_INET6
LOOPBACK = {V4: "127.0.0.1", V6: "::1"}
PROTO = {V4: "udp", V6: "udp6"}


@pytest.fixture
def sockets(netns):
    """Per family an unconnected socket and one connected to it."""
    made = []
    for family, addr in LOOPBACK.items():
        a = socket.socket(family, socket.SOCK_DGRAM)
        b = socket.socket(family, socket.SOCK_DGRAM)
        made += [a, b]
        a.bind((addr, 0))
        b.bind((addr, 0))
        b.connect(a.getsockname())
    yield made
    for s in made:
        s.close()


def peer(s: socket.socket):
    try:
        return s.getpeername()
    except OSError:
        return None


def text_line(s: socket.socket) -> tuple:
    """The text table's cells for a socket, written here from its names."""
    local, remote = s.getsockname(), peer(s)
    return (
        PROTO[s.family],
        endpoint_text(local[0], 0, local[1]),
        endpoint_text(remote[0], 0, remote[1]) if remote else "*:*",
        "ESTABLISHED" if remote else "UNCONN",
    )


def json_object(s: socket.socket) -> dict:
    local, remote = s.getsockname(), peer(s)
    return {
        "family": PROTO[s.family] + ("" if s.family == V6 else "4"),
        "connected": remote is not None,
        "local_addr": local[0],
        "local_port": local[1],
        "local_scope_id": 0,
        "remote_addr": remote[0] if remote else None,
        "remote_port": remote[1] if remote else None,
        "remote_scope_id": (0 if remote else None),
        "drops": 0,
    }


def lines(out: str) -> collections.Counter:
    rows = out.splitlines()
    assert rows[0].split() == ["Proto", "Local", "Address", "Remote", "Address", "State"]
    return collections.Counter(tuple(line.split()) for line in rows[1:])


@pytest.mark.parametrize("flags,family", [(["-u"], None), (["-u", "-4"], V4), (["-u", "-6"], V6)])
def test_text_shows_each_socket(sockets, backend, flags, family):
    want = collections.Counter(text_line(s) for s in sockets if family in (None, s.family))
    assert lines(ok(*flags)) == want


def test_tcp_and_udp_together_and_tcp_by_default(sockets):
    with socket.socket(V4) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        tcp = ("tcp", f"127.0.0.1:{listener.getsockname()[1]}", "0.0.0.0:0", "LISTEN")
        udp = collections.Counter(text_line(s) for s in sockets)
        assert lines(ok("-t", "-u")) == udp + collections.Counter([tcp])
        assert lines(ok()) == lines(ok("-t")) == collections.Counter([tcp])


def test_json_objects(sockets, backend):
    got = [json.loads(line) for line in ok("-u", "--json").splitlines()]
    assert sorted(got, key=json.dumps) == sorted(map(json_object, sockets), key=json.dumps)
    assert {tuple(obj) for obj in got} == {tuple(json_object(sockets[0]))}


def test_port_filters(sockets):
    a, b = sockets[0], sockets[1]  # IPv4: b is connected to a
    port = str(a.getsockname()[1])
    assert lines(ok("-u", "--local-port", port)) == collections.Counter([text_line(a)])
    assert lines(ok("-u", "-4", "--remote-port", port)) == collections.Counter([text_line(b)])


@pytest.mark.parametrize("flag,family", [("-4", V4), ("-6", V6), (None, V6)])
def test_stats_are_the_udp_counters(netns, flag, family):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.sendto(b"x", (LOOPBACK[family], 9))  # a closed port: NoPorts 1
        before = snmp_udp(family)
        out = ok("-u", "--stats", *([flag] if flag else []))
        after = snmp_udp(family)
    got = {name: value for name, value in (line.split() for line in out.splitlines())}
    assert got.pop("num_addrs") == "-"  # Linux has no such counter
    assert list(got) == list(before)
    assert between(before, SimpleNamespace(**{k: int(v) for k, v in got.items()}), after) == []
    assert int(got["no_ports"]) >= 1


def test_watch_reports_opened_and_closed(netns):
    watch = Watch("-u", "--json", "-4")
    try:
        s = socket.socket(V4, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        table = collections.Counter()

        def apply(table, line):
            event = json.loads(line)
            assert event["connected"] is False and "state" not in event
            table[event["local_port"]] += 1 if event["event"] == "opened" else -1

        watch.until(table, collections.Counter({port: 1}), apply)
        s.close()
        watch.until(table, collections.Counter({port: 0}), apply)
        status, err = watch.interrupt()
        assert (status, err) == (0, "")
    finally:
        watch.close()


def test_netns_and_all_namespaces(named_netns):
    with entered(named_netns), socket.socket(V6, socket.SOCK_DGRAM) as there:
        there.bind(("::1", 0))
        assert lines(ok("-u", "--netns", named_netns)) == collections.Counter([text_line(there)])
        every = [json.loads(line) for line in ok("-u", "--all-namespaces", "--json").splitlines()]
        named = [{**json_object(there), "netns": named_netns}]
        assert [
            {k: v for k, v in o.items() if k != "netns_inode"}
            for o in every
            if o["netns"] == named_netns
        ] == named
    with socket.socket(V4, socket.SOCK_DGRAM) as here:
        here.bind(("127.0.0.1", 0))
        assert lines(ok("-u")) == collections.Counter([text_line(here)])


@pytest.mark.parametrize(
    "args,text",
    [
        (["-u", "-l"], "no --state or -l with -u"),
        (["-u", "--state", "LISTEN"], "no --state or -l with -u"),
        (["-u", "--count"], "--count counts TCP states"),
        (["-t", "-u", "--stats"], "-t or -u, not both"),
        (["-u", "--serve", "0", "--sort"], "--serve takes only"),
        (["-u", "--serve", "0", "--port-metrics", "443"], "add -t to -u"),
    ],
)
def test_bad_combinations_exit_2(args, text):
    result = run(*args)
    assert result.returncode == 2 and text in result.stderr.splitlines()[-1], result
