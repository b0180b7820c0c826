"""unix() on Linux, on both backends, in the test's own network namespace:
rows against the sockets' own getsockname()/os.fstat(), ``ss -xanpeH`` and
/proc/net/unix; owners, queues, peers, states, sort order and netns=."""

from __future__ import annotations

import collections
import os
import pickle
import socket

import pytest
import tcptable
from netns import LINUX, entered
from oracles import UnixView, unix_from_tcptable, unix_proc, unix_ss
from tcptable import TcpState

pytestmark = pytest.mark.skipif(not LINUX, reason="Linux: the UNIX socket table")

STREAM, DGRAM, SEQPACKET = socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET


def inode_of(s: socket.socket) -> int:
    return os.fstat(s.fileno()).st_ino


def path_of(s: socket.socket) -> str | None:
    """The name as ss shows it: '@' for each NUL of an abstract one."""
    name = s.getsockname()
    if isinstance(name, bytes):
        return os.fsdecode(name.replace(b"\0", b"@")) if name else None
    return name or None


class Sockets:
    """The test's UNIX sockets, each with the state and peer it should show."""

    def __init__(self, tmp_path) -> None:
        self.dir = tmp_path
        self.made: list[tuple[socket.socket, str, socket.socket | None]] = []

    def add(self, s: socket.socket, state: str, peer: socket.socket | None = None):
        self.made.append((s, state, peer))
        return s

    def pair(self, kind: int) -> tuple[socket.socket, socket.socket]:
        a, b = socket.socketpair(socket.AF_UNIX, kind)
        return self.add(a, "ESTABLISHED", b), self.add(b, "ESTABLISHED", a)

    def unconnected(self, kind: int, name: str | bytes | None = None) -> socket.socket:
        s = self.add(socket.socket(socket.AF_UNIX, kind), "CLOSE")
        if name is not None:
            s.bind(name)
        return s

    def listener(self, name: str | bytes, kind: int = STREAM, backlog: int = 5):
        s = self.add(socket.socket(socket.AF_UNIX, kind), "LISTEN")
        s.bind(name)
        s.listen(backlog)
        return s

    def connect(self, listener: socket.socket, accept: bool) -> socket.socket:
        """A client of `listener`; accepted, or queued (its peer then has no
        inode yet: no peer shows)."""
        c = socket.socket(socket.AF_UNIX, listener.type)
        c.connect(listener.getsockname())
        if not accept:
            return self.add(c, "ESTABLISHED")
        server, _ = listener.accept()
        self.add(server, "ESTABLISHED", c)
        return self.add(c, "ESTABLISHED", server)

    def inodes(self) -> set[int]:
        return {inode_of(s) for s, _, _ in self.made}

    def expected(self) -> dict[int, tuple]:
        """(path, type, state, inode, peer inode) by inode."""
        return {
            inode_of(s): (
                path_of(s),
                s.type,
                state,
                inode_of(s),
                inode_of(peer) if peer is not None else None,
            )
            for s, state, peer in self.made
        }

    def close(self) -> None:
        for s, _, _ in self.made:
            s.close()


@pytest.fixture
def unix(netns, backend, tmp_path):
    sockets = Sockets(tmp_path)
    yield sockets
    sockets.close()


def mixed(unix: Sockets) -> None:
    """Every type bound to a path, abstract and unnamed; socketpairs; a
    listener with an accepted and a queued connection; unread data."""
    d = unix.dir
    for kind, name in ((STREAM, "stream"), (DGRAM, "dgram"), (SEQPACKET, "seqpacket")):
        unix.unconnected(kind, str(d / name))
        unix.unconnected(kind, f"\0tt-{os.getpid()}-{name}".encode())
        unix.unconnected(kind)
        a, b = unix.pair(kind)
        a.send(b"x" * 100)
    unix.unconnected(DGRAM, b"\0tt\0embedded")
    listener = unix.listener(str(d / "listener"))
    unix.connect(listener, accept=True)
    unix.connect(listener, accept=False)
    seq = unix.listener(f"\0tt-{os.getpid()}-seq".encode(), SEQPACKET)
    unix.connect(seq, accept=True)


def ours(unix: Sockets, **kwargs) -> dict[int, tcptable.UnixRow]:
    rows = {r.inode: r for r in tcptable.unix(**kwargs) if r.inode in unix.inodes()}
    assert len(rows) == len(unix.inodes())  # one row each, none twice
    return rows


def test_rows_equal_the_sockets_ss_and_proc(unix, backend):
    mixed(unix)
    rows = ours(unix, pids=True)
    got = {i: (r.path, r.type, r.state.name, r.inode, r.peer_inode) for i, r in rows.items()}
    expected = unix.expected()
    if backend == "proc":  # /proc/net/unix has no peers
        expected = {i: (*e[:4], None) for i, e in expected.items()}
    assert got == expected
    views = {i: unix_from_tcptable(r) for i, r in rows.items()}
    ss = {i: v for i, v in unix_ss().items() if i in views}
    proc = {i: v for i, v in unix_proc().items() if i in views}
    assert {i: v[:4] for i, v in proc.items()} == {i: v[:4] for i, v in views.items()}
    if backend == "netlink":
        assert views == ss
    else:
        assert views == {i: UnixView(*v[:4], pid=v.pid) for i, v in ss.items()}


def test_queues_listener_backlog_and_unread_data(unix, backend):
    listener = unix.listener(str(unix.dir / "l"), backlog=7)
    unix.connect(listener, accept=False)
    unix.connect(listener, accept=False)
    a, b = unix.pair(STREAM)
    a.send(b"y" * 1234)
    d1, d2 = unix.pair(DGRAM)
    d1.send(b"z" * 10)
    d1.send(b"z" * 20)
    rows = ours(unix)
    if backend == "proc":
        assert {(r.rx_queue, r.tx_queue) for r in rows.values()} == {(None, None)}
        return
    assert (rows[inode_of(listener)].rx_queue, rows[inode_of(listener)].tx_queue) == (2, 7)
    assert rows[inode_of(b)].rx_queue == 1234
    assert rows[inode_of(a)].tx_queue > 0  # the bytes in flight, as the kernel counts them
    assert rows[inode_of(d2)].rx_queue == 10  # a datagram socket: the next datagram's size


def test_owners(unix, backend):
    mixed(unix)
    rows = ours(unix, pids=True)
    assert {r.pid for r in rows.values()} == {os.getpid()}
    uids = {r.uid for r in rows.values()}
    # UNIX_DIAG_UID came with Linux 5.3; /proc/net/unix has no uid column.
    release = tuple(int(x) for x in os.uname().release.split(".")[:2])
    want_uid = backend == "netlink" and release >= (5, 3)
    assert uids == ({os.geteuid()} if want_uid else {None})
    plain = ours(unix)
    assert {(r.pid, r.uid) for r in plain.values()} == {(None, None)}
    assert set(plain) == set(rows)  # a UNIX row has its inode without pids


def test_row_fields_and_types(unix, backend):
    mixed(unix)
    for r in ours(unix).values():
        assert isinstance(r, tcptable.UnixRow)
        assert r == (r.path, r.type, r.state)
        assert r.path is None or isinstance(r.path, str)
        assert type(r.type) is int and r.type in (STREAM, DGRAM, SEQPACKET)
        assert isinstance(r.state, TcpState)
        assert r.state in (TcpState.LISTEN, TcpState.ESTABLISHED, TcpState.CLOSE)
        assert pickle.loads(pickle.dumps(r)) == r


def test_undecodable_path_as_os_fsdecode_gives_it(unix, backend):
    raw = os.fsencode(str(unix.dir)) + b"/caf\xe9"
    s = unix.unconnected(DGRAM, raw)
    (row,) = ours(unix).values()
    assert row.path == os.fsdecode(raw) == s.getsockname()


def test_states_filter(unix, backend):
    mixed(unix)
    by_state = collections.Counter(r.state for r in ours(unix).values())
    assert set(by_state) == {TcpState.LISTEN, TcpState.ESTABLISHED, TcpState.CLOSE}
    for state in by_state:
        kept = [r for r in tcptable.unix(states={state}) if r.inode in unix.inodes()]
        assert len(kept) == by_state[state]
        assert {r.state for r in kept} == {state}
    assert tcptable.unix(states=()) == ()


def test_sort_orders_by_inode(unix, backend):
    mixed(unix)
    inodes = [r.inode for r in tcptable.unix(sort=True)]
    assert inodes == sorted(inodes) and len(inodes) >= len(unix.inodes())


def test_netns_argument_reads_another_namespace(named_netns, backend, tmp_path):
    """A UNIX socket belongs to the namespace it was made in: it shows there,
    with its path, and not in the caller's."""
    with entered(named_netns):
        there = socket.socket(socket.AF_UNIX, STREAM)
    try:
        there.bind(str(tmp_path / "there"))
        here = socket.socket(socket.AF_UNIX, DGRAM)
        with here:
            rows = {r.inode: r for r in tcptable.unix(netns=named_netns)}
            assert rows[inode_of(there)].path == str(tmp_path / "there")
            assert inode_of(here) not in rows
            mine = {r.inode for r in tcptable.unix()}
            assert inode_of(here) in mine and inode_of(there) not in mine
    finally:
        there.close()


def test_unix_takes_no_ports_nor_positionals():
    with pytest.raises(TypeError, match="'local_ports' is an invalid keyword argument for unix"):
        tcptable.unix(local_ports=[1])
    with pytest.raises(TypeError, match="takes no positional arguments"):
        tcptable.unix(socket.AF_UNIX)
