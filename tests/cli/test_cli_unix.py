"""`tcptable -x` (Linux): the UNIX sockets in text and --json, with -t, -l,
--netns and --all-namespaces, in the test's own namespace, against the
sockets' own getsockname() and os.fstat() inodes, on both backends."""

from __future__ import annotations

import collections
import json
import os
import re
import socket

import pytest
from netns import LINUX, entered
from test_cli import ok, run

pytestmark = pytest.mark.skipif(not LINUX, reason="Linux: the UNIX socket table")

NETID = {socket.SOCK_STREAM: "u_str", socket.SOCK_DGRAM: "u_dgr", socket.SOCK_SEQPACKET: "u_seq"}
WORD = {
    socket.SOCK_STREAM: "stream",
    socket.SOCK_DGRAM: "dgram",
    socket.SOCK_SEQPACKET: "seqpacket",
}


class Made:
    """The test's UNIX sockets, each with its state and peer."""

    def __init__(self) -> None:
        self.sockets: list[tuple[socket.socket, str, socket.socket | None]] = []

    def add(self, s, state, peer=None):
        self.sockets.append((s, state, peer))
        return s

    def close(self) -> None:
        for s, _, _ in self.sockets:
            s.close()


@pytest.fixture
def made(netns, backend, tmp_path):
    """A listener and its accepted connection (on a path), an abstract
    datagram socket, an unbound seqpacket one and a socketpair."""
    m = Made()
    listener = m.add(socket.socket(socket.AF_UNIX), "LISTEN")
    listener.bind(str(tmp_path / "listener"))
    listener.listen(1)
    client = socket.socket(socket.AF_UNIX)
    client.connect(str(tmp_path / "listener"))
    server = listener.accept()[0]
    m.add(client, "ESTABLISHED", server)
    m.add(server, "ESTABLISHED", client)
    m.add(socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM), "CLOSE").bind(
        f"\0tt-cli-{os.getpid()}".encode()
    )
    m.add(socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET), "CLOSE")
    a, b = socket.socketpair()
    m.add(a, "ESTABLISHED", b)
    m.add(b, "ESTABLISHED", a)
    m.backend = backend
    yield m
    m.close()


def inode(s: socket.socket) -> int:
    return os.fstat(s.fileno()).st_ino


def path(s: socket.socket) -> str | None:
    name = s.getsockname()
    if isinstance(name, bytes):
        return os.fsdecode(name.replace(b"\0", b"@")) if name else None
    return name or None


def peer_of(m: Made, peer: socket.socket | None) -> int | None:
    """/proc/net/unix has no peers: None from that backend."""
    return None if peer is None or m.backend == "proc" else inode(peer)


def text_lines(m: Made) -> collections.Counter:
    """The text table's cells for each socket, as ss -x writes them."""
    return collections.Counter(
        (
            NETID[s.type],
            f"{path(s) or '*'} {inode(s)}",
            "*" if peer_of(m, peer) is None else f"* {peer_of(m, peer)}",
            "UNCONN" if state == "CLOSE" else state,
        )
        for s, state, peer in m.sockets
    )


def json_objects(m: Made) -> list[dict]:
    return [
        {
            "family": "unix",
            "type": WORD[s.type],
            "state": state,
            "path": path(s),
            "inode": inode(s),
            "peer_inode": peer_of(m, peer),
        }
        for s, state, peer in m.sockets
    ]


def lines(text: str) -> collections.Counter:
    """The table's rows as cells: columns are two or more spaces apart."""
    header, *rows = text.splitlines()
    assert header.split() == ["Proto", "Local", "Address", "Remote", "Address", "State"]
    return collections.Counter(tuple(re.split(r" {2,}", line)) for line in rows)


def by_inode(objects: list[dict]) -> list[dict]:
    return sorted(objects, key=lambda o: o["inode"])


def test_text_shows_each_socket(made):
    assert lines(ok("-x")) == text_lines(made)
    assert lines(ok("--unix", "--sort")) == text_lines(made)


def test_json_objects(made):
    got = [json.loads(line) for line in ok("-x", "--json").splitlines()]
    assert by_inode(got) == by_inode(json_objects(made))
    assert [o["inode"] for o in map(json.loads, ok("-x", "--json", "--sort").splitlines())] == [
        o["inode"] for o in by_inode(got)
    ]


def test_listening_and_states(made):
    listening = collections.Counter(c for c in text_lines(made) if c[3] == "LISTEN")
    assert lines(ok("-x", "-l")) == listening
    unconnected = [o for o in json_objects(made) if o["state"] == "CLOSE"]
    got = [json.loads(line) for line in ok("-x", "--json", "--state", "CLOSE").splitlines()]
    assert by_inode(got) == by_inode(unconnected)


def test_tcp_with_unix_and_tcp_by_default(made):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        tcp = ("tcp", f"127.0.0.1:{port}", "0.0.0.0:0", "LISTEN")
        assert lines(ok("-t", "-x")) == text_lines(made) + collections.Counter([tcp])
        assert lines(ok()) == collections.Counter([tcp])


def test_netns_and_all_namespaces(named_netns, tmp_path):
    with entered(named_netns):
        there = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    with there, socket.socket(socket.AF_UNIX) as here:
        there.bind(str(tmp_path / "there"))
        mine = ("u_dgr", f"{tmp_path / 'there'} {inode(there)}", "*", "UNCONN")
        assert lines(ok("-x", "--netns", named_netns)) == collections.Counter([mine])
        every = [json.loads(line) for line in ok("-x", "--all-namespaces", "--json").splitlines()]
        assert [(o["inode"], o["path"]) for o in every if o["netns"] == named_netns] == [
            (inode(there), str(tmp_path / "there"))
        ]
        assert lines(ok("-x")) == collections.Counter(
            [("u_str", f"* {inode(here)}", "*", "UNCONN")]
        )


@pytest.mark.parametrize(
    "args,text",
    [
        (["-x", "-4"], "-4 and -6 choose IP families: not with -x"),
        (["-x", "-6", "-t"], "-4 and -6 choose IP families: not with -x"),
        (["-x", "--local-port", "80"], "no --local-port or --remote-port with -x"),
        (["-x", "--remote-port", "80"], "no --local-port or --remote-port with -x"),
        (["-x", "--count"], "-x lists UNIX sockets: not with --count"),
        (["-x", "--stats"], "-x lists UNIX sockets: not with --stats"),
        (["-x", "--watch"], "-x lists UNIX sockets: not with --watch"),
        (["-x", "-u", "-l"], "no --state or -l with -u"),
        (["-x", "--serve", "0"], "--serve takes only"),
    ],
)
def test_bad_combinations_exit_2(args, text):
    result = run(*args)
    assert result.returncode == 2 and text in result.stderr.splitlines()[-1], result
