"""netns=: the table of another network namespace, and namespaces().

The test runs in a private namespace of its own (the caller's) and makes two
more: one named with ``ip netns add`` and one held only by a child process
(``/proc/PID/ns/net``).  Each holds its own sockets; every call is compared
with ``ip netns exec NAME ss`` / ``nsenter -t PID -n ss``, and after every
call, failing or not, the calling thread must still be in its namespace."""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import textwrap
import uuid

import oracles
import pytest
import tcptable
from holders import Holder
from netns import LINUX, entered, ip, private_netns, skip_or_fail

pytestmark = pytest.mark.skipif(not LINUX, reason="Linux-only: network namespaces")


def thread_netns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


class Space:
    """A namespace holding a v6 and a v4 Holder (listener + connected pair)."""

    def __init__(self, path: str, prefix: tuple[str, ...]) -> None:
        self.path, self.prefix = path, prefix
        with entered(path):
            self.holders = [
                Holder(0, socket.AF_INET6, "::1"),
                Holder(0, socket.AF_INET, "127.0.0.1"),
            ]

    def ss(self, family: int):
        return oracles.ss_rows(family, self.prefix)

    def close(self) -> None:
        for h in self.holders:
            h.close()


@pytest.fixture
def spaces():
    """(caller's listener, named Space, process-held Space), the test thread in
    a private namespace of its own."""
    if os.geteuid() != 0:
        skip_or_fail("needs root: ip netns add, setns")
    with private_netns():
        own = socket.socket(socket.AF_INET6)
        own.bind(("::1", 0))
        own.listen()
        name = f"tt-{uuid.uuid4().hex[:10]}"
        ip("netns", "add", name)
        made = []
        try:
            ip("-n", name, "link", "set", "lo", "up")
            named = Space(f"/run/netns/{name}", ("ip", "netns", "exec", name))
            made.append(named)
            # A namespace no name holds: only its processes keep it alive.
            with private_netns():
                anchor = Holder(0, socket.AF_INET6, "::1")
            path = f"/proc/{anchor.pid}/ns/net"
            held = Space(path, ("nsenter", "-t", str(anchor.pid), "-n"))
            held.holders.append(anchor)
            made.append(held)
            yield own, named, held
        finally:
            for space in made:
                space.close()
            ip("netns", "delete", name)
            own.close()


@pytest.mark.parametrize("family", [socket.AF_INET6, socket.AF_INET])
def test_rows_of_each_namespace_match_ss_there(spaces, backend, family):
    own, named, held = spaces
    before = thread_netns()
    for space in (named, held):
        got = oracles.table(tcptable, family, netns=space.path)
        assert got == space.ss(family)
        assert sum(got.values()) >= 3  # its listener and connected pair, at least
    # The caller's own table is still its own: one listener, no namespace's rows.
    assert oracles.table(tcptable, socket.AF_INET6) == oracles.ss_rows(socket.AF_INET6)
    assert [r.local_port for r in tcptable.tcp6()] == [own.getsockname()[1]]
    assert thread_netns() == before


def test_an_fd_and_a_pathlike_work_as_the_path_does(spaces, backend):
    _, named, _ = spaces
    expected = named.ss(socket.AF_INET6)
    fd = os.open(named.path, os.O_RDONLY)
    try:
        assert oracles.table(tcptable, socket.AF_INET6, netns=fd) == expected
        os.fstat(fd)  # a caller's fd stays open
    finally:
        os.close(fd)
    assert oracles.table(tcptable, socket.AF_INET6, netns=pathlib.Path(named.path)) == expected
    assert oracles.table(tcptable, socket.AF_INET6, netns=named.path.encode()) == expected


def test_counts_in_a_namespace(spaces, backend):
    _, _, held = spaces
    expected = {s: 0 for s in tcptable.TcpState}
    for family in (socket.AF_INET6, socket.AF_INET):
        for row, n in held.ss(family).items():
            expected[tcptable.TcpState[row.state]] += n
    assert tcptable.counts(None, netns=held.path) == expected


def test_owners_in_a_namespace_are_host_pids(spaces, backend):
    _, named, _ = spaces
    for holder in named.holders:
        fn = tcptable.tcp6 if holder.family == socket.AF_INET6 else tcptable.tcp4
        rows = {oracles.from_tcptable(r): r for r in fn(pids=True, netns=named.path)}
        for held in holder.held:
            row = rows[held.row]
            assert (row.pid, row.inode) == (holder.pid, held.inode)


def test_namespaces_lists_each_with_a_path_that_opens_it(spaces):
    own, named, held = spaces
    found = {ns.inode: ns for ns in tcptable.namespaces()}
    for space in (named, held):
        inode = os.stat(space.path).st_ino
        # The name where one exists; else /proc/PID/ns/net of the lowest pid
        # in it (pids wrap, so not necessarily the first process started).
        ns = found[inode]
        assert ns.path == (space.path if space is named else f"/proc/{min(ns.pids)}/ns/net")
        assert os.stat(ns.path).st_ino == inode
        # An independent walk of /proc: every pid whose namespace this is.
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    if os.stat(f"/proc/{entry}/ns/net").st_ino == inode:
                        pids.append(int(entry))
        assert found[inode].pids == tuple(sorted(pids))
        assert {h.pid for h in space.holders} <= set(found[inode].pids)
    # This process is in the namespace its main thread is in.
    mine = found[os.stat("/proc/self/ns/net").st_ino]
    assert os.getpid() in mine.pids
    # The rows of every listed namespace can be read through its path.
    for ns in (found[os.stat(named.path).st_ino], found[os.stat(held.path).st_ino]):
        assert tcptable.tcp6(netns=ns.path) is not None
    assert [ns.inode for ns in tcptable.namespaces()] == sorted(found)


def test_ip_netns_list_names_are_in_namespaces(spaces):
    _, named, _ = spaces
    names = subprocess.run(["ip", "netns", "list"], check=True, capture_output=True, text=True)
    listed = {line.split()[0] for line in names.stdout.splitlines()}
    paths = {ns.path for ns in tcptable.namespaces()}
    assert {f"/run/netns/{n}" for n in listed} <= paths
    assert named.path in paths


@pytest.mark.parametrize(
    "bad,error,text",
    [
        ("/etc/hostname", ValueError, "not a namespace file"),
        ("/proc/self/ns/mnt", ValueError, "not a network namespace"),
        ("/nonexistent/netns", FileNotFoundError, "/nonexistent/netns"),
        (-1, ValueError, "-1 is not a file descriptor"),
        (2**40, ValueError, "is not a file descriptor"),
        (True, TypeError, "not True"),
        (3.0, TypeError, "not float"),
        ([], TypeError, "not list"),
    ],
)
def test_bad_netns_values_raise_naming_them(netns, bad, error, text):
    before = thread_netns()
    for call in (tcptable.tcp6, tcptable.tcp4, lambda **kw: tcptable.counts(None, **kw)):
        with pytest.raises(error, match=text.replace(".", r"\.")):
            call(netns=bad)
    assert thread_netns() == before


def test_a_closed_fd_is_an_oserror_naming_it(netns):
    fd = os.open("/dev/null", os.O_RDONLY)
    os.close(fd)
    with pytest.raises(OSError, match=f"Bad file descriptor: {fd}"):
        tcptable.tcp6(netns=fd)


def test_a_namespace_whose_last_process_exited(netns):
    with private_netns():
        holder = Holder(0, socket.AF_INET6, "::1")
    path = f"/proc/{holder.pid}/ns/net"
    kept = os.open(path, os.O_RDONLY)  # an fd keeps the namespace itself alive
    try:
        assert len(tcptable.tcp6(netns=path)) == 3
        holder.close()
        before = thread_netns()
        with pytest.raises(FileNotFoundError, match=path):
            tcptable.tcp6(netns=path)
        # Its sockets closed with it; the namespace, held by the fd, is empty.
        assert tcptable.tcp6(netns=kept, states={tcptable.TcpState.LISTEN}) == ()
        assert thread_netns() == before
    finally:
        os.close(kept)


UNPRIVILEGED = textwrap.dedent(
    """
    import os, sys, tcptable
    fd = int(sys.argv[1])
    os.setgroups([]); os.setgid(65534); os.setuid(65534)
    before = os.readlink("/proc/thread-self/ns/net")
    try:
        tcptable.tcp6(netns=fd)
    except PermissionError as e:
        print("PermissionError", e)
    assert os.readlink("/proc/thread-self/ns/net") == before
    """
)


def test_eperm_without_cap_sys_admin_says_what_is_needed(spaces):
    _, named, _ = spaces
    fd = os.open(named.path, os.O_RDONLY)
    try:
        out = subprocess.run(
            [sys.executable, "-c", UNPRIVILEGED, str(fd)],
            pass_fds=(fd,),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        os.close(fd)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout.startswith("PermissionError [Errno 1]")
    assert "CAP_SYS_ADMIN" in out.stdout


def test_signal_storm_leaves_the_thread_where_it_was(spaces, backend):
    _, named, held = spaces
    expected = named.ss(socket.AF_INET6)
    before = thread_netns()
    seen = []
    old = signal.signal(signal.SIGALRM, lambda *_: seen.append(1))
    signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
    try:
        for _ in range(200):
            assert oracles.table(tcptable, socket.AF_INET6, netns=named.path) == expected
            assert thread_netns() == before
            with pytest.raises(ValueError):
                tcptable.tcp6(netns="/proc/self/ns/uts")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert seen  # the storm happened, and its handlers ran
    assert thread_netns() == before


def test_file_descriptors_stay_flat(spaces, backend):
    _, named, held = spaces
    fds = len(os.listdir("/proc/self/fd"))
    for _ in range(300):
        tcptable.tcp6(netns=named.path)
        tcptable.counts(None, netns=held.path)
        with pytest.raises(ValueError):
            tcptable.tcp4(netns="/etc/hostname")
    assert len(os.listdir("/proc/self/fd")) == fds


def test_threads_reading_different_namespaces_at_once(spaces):
    _, named, held = spaces
    expected = {s.path: s.ss(socket.AF_INET6) for s in (named, held)}

    def read(path):
        return all(
            oracles.table(tcptable, socket.AF_INET6, netns=path) == expected[path]
            and thread_netns() == start
            for start in [thread_netns()]
            for _ in range(50)
        )

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        assert all(pool.map(read, [named.path, held.path] * 4))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tcptable", *args], capture_output=True, text=True, timeout=60
    )


def json_rows(text: str, shown: bool = False) -> dict:
    """{namespace inode: Counter of Rows} from --json lines (the one key None
    unless namespaces are `shown`, with "netns" and "netns_inode")."""
    found: dict = collections.defaultdict(collections.Counter)
    for line in text.splitlines():
        data = json.loads(line)
        where = None
        if shown:
            path, where = data.pop("netns"), data.pop("netns_inode")
            assert path.startswith(("/run/netns/", "/proc/"))
        found[where][oracles.Row(**data)] += 1
    return found


def both_families(space: Space):
    return space.ss(socket.AF_INET6) + space.ss(socket.AF_INET)


def test_cli_netns_by_name_and_by_path(spaces):
    _, named, held = spaces
    name = named.path.rsplit("/", 1)[1]
    for arg, space in ((name, named), (held.path, held)):
        out = cli("--netns", arg, "--json")
        assert (out.returncode, out.stderr) == (0, "")
        assert json_rows(out.stdout)[None] == both_families(space)


def test_cli_all_namespaces_names_each_rows_namespace(spaces):
    own, named, held = spaces
    out = cli("--all-namespaces", "--json")
    assert (out.returncode, out.stderr) == (0, "")
    by_inode = json_rows(out.stdout, shown=True)
    for space in (named, held):
        assert by_inode[os.stat(space.path).st_ino] == both_families(space)
    mine = by_inode[os.stat("/proc/thread-self/ns/net").st_ino]
    assert [r.local_port for r in mine.elements()] == [own.getsockname()[1]]
    text = cli("--all-namespaces")
    lines = [line.split() for line in text.stdout.splitlines()]
    assert lines[0] == ["Netns", "Proto", "Local", "Address", "Remote", "Address", "State"]
    assert sum(1 for cells in lines if cells[0] == named.path) == sum(both_families(named).values())


def test_cli_count_per_namespace(spaces):
    _, named, _ = spaces
    out = cli("--all-namespaces", "--count", "-6")
    assert (out.returncode, out.stderr) == (0, "")
    mine = {}
    for line in out.stdout.splitlines():
        path, state, n = line.split()
        if path == named.path:
            mine[state] = int(n)
    expected = {s.name: 0 for s in tcptable.TcpState}
    for row, n in named.ss(socket.AF_INET6).items():
        expected[row.state] += n
    assert mine == expected


def test_cli_list_namespaces(spaces):
    _, named, held = spaces
    out = cli("--list-namespaces")
    assert (out.returncode, out.stderr) == (0, "")
    listed = {}
    for line in out.stdout.splitlines():
        inode, path, *pids = line.split()
        listed[path] = (int(inode), pids)
    by_inode = {inode: (path, pids) for path, (inode, pids) in listed.items()}
    assert by_inode[os.stat(named.path).st_ino][0] == named.path
    _, pids = by_inode[os.stat(held.path).st_ino]
    assert {str(h.pid) for h in held.holders} <= set(pids)


def test_cli_bad_namespaces_exit_with_one_line(netns):
    out = cli("--netns", "/etc/hostname")
    assert out.returncode == 2
    assert out.stderr.startswith("tcptable: netns: '/etc/hostname' is not a namespace file")
    assert out.stderr.count("\n") == 1
    out = cli("--netns", "no-such-name")
    assert (out.returncode, out.stderr) == (
        1,
        "tcptable: No such file or directory: /run/netns/no-such-name\n",
    )
