"""tcptable.compat.net_connections() against psutil.net_connections() on the
same table (from both Linux backends): the standard population (every state
the tests can hold, IPv4, IPv6, dual stack, link-local) and UDP sockets
bound, connected and dual stack (on Linux also SO_REUSEPORT twins and
link-local), plus sockets held by child processes, on Linux some of them
shared across fork; on Linux also UNIX sockets
("unix", "all") in a namespace of their own.  Whole tuples are compared
as multisets; what remains different (docs/compat.md)
is taken out explicitly and checked on its own: psutil's fd on Linux, the pid
it names for a socket several processes hold, the identical tuples its set
merges, the namespace it reads from a thread that entered another, and its
UNIX rows for connections not yet accepted and for descriptors sharing one
socket."""

from __future__ import annotations

import collections
import json
import os
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass

import pytest
from holders import Holder
from netns import LINUX, WINE, private_netns, skip_or_fail
from oracles import FAMILY_NAME
from population import LL_A, VETH_A
from tcptable import TcpState
from tcptable.compat import addr, net_connections
from unprivileged import run_as

V6, V4 = socket.AF_INET6, socket.AF_INET
TCP_KINDS = {"tcp": {V4, V6}, "tcp4": {V4}, "tcp6": {V6}}
UDP_KINDS = {"udp": {V4, V6}, "udp4": {V4}, "udp6": {V6}}
INET_KINDS = {"inet": {V4, V6}, "inet4": {V4}, "inet6": {V6}}
# psutil's kinds with TCP and UDP sockets only, each with its families; on
# Windows "all" is one of them (psutil's has no UNIX sockets there).
FAMILIES = {**INET_KINDS, **TCP_KINDS, **UDP_KINDS}
if not LINUX:
    FAMILIES["all"] = {V4, V6}
# psutil's pid for a socket no process it can see holds: on Windows the
# owning pid as the table reports it (0 for TIME_WAIT, say), on Linux None.
NO_OWNER = 0 if sys.platform == "win32" else None
# The kinds with UNIX sockets (Linux), compared in a namespace of their own.
UNIX_KINDS = ("unix", "all") if LINUX else ()
# Every kind, in the order the error names them: psutil's documented order.
SUPPORTED = [*INET_KINDS, *TCP_KINDS, *UDP_KINDS, *UNIX_KINDS] if LINUX else [*FAMILIES]
# psutil's kind Windows has not (psutil refuses it there too), and strings no one accepts.
REFUSED = [] if LINUX else ["unix"]
REFUSED += ["TCP", "", "tcp46", "udp46", "inet46"]
linux_only = pytest.mark.skipif(not LINUX, reason="Linux: uids, SO_REUSEPORT, /proc/<pid>/fd")


@pytest.fixture(scope="module")
def psutil():
    try:
        import psutil
    except ImportError:
        skip_or_fail("needs psutil, the oracle (pip install psutil)", "TCPTABLE_REQUIRE_TOOLS")
    return psutil


def need_root() -> None:
    if os.geteuid() != 0:
        skip_or_fail("dropping to another uid needs root")


@pytest.fixture(scope="module")
def udp(population):
    """UDP sockets in the population's namespace: unconnected on loopback
    and wildcards, connected, a dual-stack one with an IPv4 peer, one a child
    holds, and on Linux two SO_REUSEPORT twins and one on a link-local
    address.  Yields this process's sockets and the child's pid."""
    made = []

    def sock(family, addr, **options):
        s = socket.socket(family, socket.SOCK_DGRAM)
        made.append(s)
        for name, value in options.items():
            level = socket.IPPROTO_IPV6 if name == "IPV6_V6ONLY" else socket.SOL_SOCKET
            s.setsockopt(level, getattr(socket, name), value)
        s.bind(addr)
        return s

    child = subprocess.Popen(
        [sys.executable, "-c", UDP_HOLDER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        child.stdout.readline()  # bound
        v4 = sock(V4, ("127.0.0.1", 0))
        v6 = sock(V6, ("::1", 0))
        sock(V4, ("0.0.0.0", 0))
        sock(V6, ("::", 0), IPV6_V6ONLY=1)
        sock(V4, ("127.0.0.1", 0)).connect(v4.getsockname())
        sock(V6, ("::1", 0)).connect(v6.getsockname())
        dual = sock(V6, ("::", 0), IPV6_V6ONLY=0)
        dual.connect(("::ffff:127.0.0.1", v4.getsockname()[1]))
        if LINUX:
            twin = sock(V4, ("127.0.0.1", 0), SO_REUSEPORT=1)
            sock(V4, twin.getsockname(), SO_REUSEPORT=1)
            sock(V6, (LL_A, 0, 0, socket.if_nametoindex(VETH_A)))
        yield UdpSockets(made, child.pid)
    finally:
        child.stdin.close()
        child.wait()
        for s in made:
            s.close()


@dataclass
class UdpSockets:
    sockets: list[socket.socket]  # this process's
    child: int  # the pid of the child holding one more on ::1

    def count(self, families) -> int:
        """How many of them (the child's included) are of these families."""
        return sum(s.family in families for s in self.sockets) + (V6 in families)


# A child holding an unconnected UDP socket on ::1 until its stdin closes.
UDP_HOLDER = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n"
    "s.bind(('::1', 0))\n"
    "print(flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture(scope="module")
def holders(population):
    """Children holding a listener and a connected pair each, in the
    population's namespace; on Linux, two of them fork (each of their
    sockets is held by two processes)."""
    made = [Holder(0, V6, "::1"), Holder(0, V4, "127.0.0.1")]
    if LINUX:
        made += [Holder(0, V6, "::1", fork=True), Holder(0, V4, "127.0.0.1", fork=True)]
    try:
        yield made
    finally:
        for h in made:
            h.close()


def theirs(psutil, kind: str) -> collections.Counter:
    """psutil's answer; on Linux its fd is the holder's descriptor, which
    tcptable does not know (it says -1, as psutil does on Windows)."""
    return collections.Counter(
        c._replace(fd=-1) if LINUX else c for c in psutil.net_connections(kind)
    )


def endpoints(c) -> tuple:
    return (c.family, c.laddr, c.raddr, c.status)


def shared_sockets(holders) -> dict[tuple, set[int]]:
    """The endpoints of each socket two processes hold, with both pids."""
    shared = {}
    for h in holders:
        if h.forked:
            for held in h.held:
                r = held.row
                local = (r.local_addr, r.local_port)
                remote = (r.remote_addr, r.remote_port) if r.state != "LISTEN" else ()
                shared[(h.family, local, remote, r.state)] = {h.pid, h.forked}
    return shared


def one_pid_per_shared_socket(conns, shared) -> collections.Counter:
    """`conns` with the pid of every shared socket replaced by "shared",
    once it is checked to be one of the socket's holders."""
    out = collections.Counter()
    for c, n in conns.items():
        holders = shared.get(endpoints(c))
        if holders is not None:
            assert c.pid in holders, (c, holders)
            c = c._replace(pid="shared")
        out[c] += n
    return out


@pytest.mark.parametrize("kind", FAMILIES)
def test_equals_psutil_on_the_population(population, udp, backend, psutil, kind):
    ours = collections.Counter(net_connections(kind))
    assert ours == theirs(psutil, kind)
    assert {c.family for c in ours} == FAMILIES[kind]
    # every state the population holds was compared, and every UDP socket
    names = {FAMILY_NAME[f] for f in FAMILIES[kind]}
    states = {r.state for r in population.expected if r.family in names}
    if kind not in UDP_KINDS:
        assert {c.status for c in ours if c.type == socket.SOCK_STREAM} == states
    if kind not in TCP_KINDS:
        datagrams = [c for c in ours.elements() if c.type == socket.SOCK_DGRAM]
        assert {c.status for c in datagrams} == {"NONE"}
        assert len(datagrams) == udp.count(FAMILIES[kind])
        if not WINE:  # Wine reports owner 0 for IPv6 sockets (the child's is one)
            assert (udp.child in {c.pid for c in datagrams}) == (V6 in FAMILIES[kind])


@pytest.mark.parametrize("kind", FAMILIES)
def test_equals_psutil_with_sockets_of_several_processes(holders, udp, backend, psutil, kind):
    """Every holder's sockets carry its pid in both answers (the holders'
    TCP sockets, the UDP child's).  A socket two processes hold gets the lowest
    of their pids here; psutil names one of them (on Linux the last it
    reads, the highest)."""
    shared = shared_sockets(holders)
    ours = collections.Counter(net_connections(kind))
    for c in ours:
        if endpoints(c) in shared:
            assert c.pid == min(shared[endpoints(c)]), c
    assert one_pid_per_shared_socket(ours, shared) == one_pid_per_shared_socket(
        theirs(psutil, kind), shared
    )
    pids = {c.pid for c in ours}
    held_by = set()
    if kind not in UDP_KINDS:
        held_by = {h.pid for h in holders if h.family in FAMILIES[kind]}
    if kind not in TCP_KINDS and V6 in FAMILIES[kind]:
        held_by.add(udp.child)
    # no pid but this process's and the holders' (the lowest, for a shared socket)
    assert pids <= held_by | {os.getpid(), NO_OWNER}
    if not WINE:  # Wine reports 0 for most owners (all IPv6 ones), psutil alike
        assert held_by <= pids
    if LINUX and kind == "tcp":
        assert len(shared) == 6


def udp_tuple(s: socket.socket) -> tuple:
    """A UDP socket as psutil writes it, from its own getsockname() and
    getpeername(): no scope id, raddr () while unconnected, and always on
    Windows (its UDP tables have no peer)."""
    try:
        peer = addr(*s.getpeername()[:2]) if LINUX else ()
    except OSError:
        peer = ()
    return (-1, s.family, socket.SOCK_DGRAM, addr(*s.getsockname()[:2]), peer, "NONE", os.getpid())


def own_udp(conns, udp) -> collections.Counter:
    """The UDP tuples of this process's sockets in `conns`: by pid, and
    under Wine, which reports owner 0 for IPv6 sockets, by local end too
    (with the pid made this process's where Wine says 0)."""
    if not WINE:
        return collections.Counter(c for c in conns if c.pid == os.getpid())
    ends = {addr(*s.getsockname()[:2]) for s in udp.sockets}
    return collections.Counter(
        c._replace(pid=c.pid or os.getpid())
        for c in conns
        if c.pid in (os.getpid(), NO_OWNER) and c.laddr in ends
    )


@pytest.mark.parametrize("kind", UDP_KINDS)
def test_udp_endpoints_are_the_sockets_own(udp, backend, kind):
    """Against the sockets themselves too: an unconnected socket's raddr is
    (), a connected one's on Linux its peer (the dual-stack socket's IPv4
    peer as ::ffff:127.0.0.1), on Windows () (psutil reads no peer there);
    the link-local address has no scope."""
    ours = own_udp(net_connections(kind), udp)
    wanted = [s for s in udp.sockets if s.family in UDP_KINDS[kind]]
    assert ours == collections.Counter(udp_tuple(s) for s in wanted)
    peers = {c.raddr.ip for c in ours if c.raddr}
    if not LINUX:
        assert peers == set()
    elif kind == "udp":
        assert peers == {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
        assert LL_A in {c.laddr.ip for c in ours}


@pytest.mark.parametrize("kind", [*INET_KINDS, "all"])
def test_udp_rows_of_tcp_and_udp_kinds_are_the_udp_kinds(udp, population, backend, kind):
    """The kinds of both protocols hold the UDP kinds' tuples, the one
    oracle test_udp_endpoints_are_the_sockets_own checked."""
    families = FAMILIES.get(kind, {V4, V6})
    udp_kind = {frozenset({V4, V6}): "udp", frozenset({V4}): "udp4", frozenset({V6}): "udp6"}
    datagrams = [
        c for c in net_connections(kind) if c.type == socket.SOCK_DGRAM and c.family in families
    ]
    assert own_udp(datagrams, udp) == own_udp(net_connections(udp_kind[frozenset(families)]), udp)


def shape(c) -> tuple:
    """The types psutil's users see, beyond the values."""
    return (
        type(c).__name__,
        c._fields,
        type(c.family),
        type(c.type),
        type(c.status),
        *[(type(a).__name__, getattr(a, "_fields", None)) for a in (c.laddr, c.raddr)],
    )


def test_types_and_fields_are_psutils(population, udp, psutil):
    ours = net_connections("tcp")
    assert isinstance(ours, list)
    assert {shape(c) for c in ours} == {shape(c) for c in psutil.net_connections("tcp")}
    assert {type(c.family) for c in ours} == {socket.AddressFamily}
    assert {c.type for c in ours} == {socket.SOCK_STREAM}
    assert {c.raddr for c in ours if c.status == "LISTEN"} == {()}
    both = net_connections("inet")
    assert {shape(c) for c in both} == {shape(c) for c in psutil.net_connections("inet")}
    assert {type(c.type) for c in both} == {socket.SocketKind}
    assert {c.type for c in both} == {socket.SOCK_STREAM, socket.SOCK_DGRAM}


def test_kinds_and_default_are_psutils(population, udp, psutil):
    """The kinds psutil accepts on this platform (on Windows no "unix"),
    and its default, "inet": a call without `kind` gives TCP and UDP."""
    import inspect

    import tcptable.compat as compat

    assert list(compat.KINDS) == SUPPORTED
    assert set(compat.KINDS) == set(psutil._common.conn_tmap)
    default = inspect.signature(net_connections).parameters["kind"].default
    assert default == inspect.signature(psutil.net_connections).parameters["kind"].default
    assert default == "inet"
    assert collections.Counter(net_connections()) == collections.Counter(net_connections("inet"))
    assert {c.type for c in net_connections()} == {socket.SOCK_STREAM, socket.SOCK_DGRAM}


@pytest.mark.skipif(LINUX, reason="Windows: psutil has no UNIX sockets there")
def test_unix_is_refused_as_psutil_refuses_it(psutil):
    """On Windows psutil refuses "unix" (Python has no AF_UNIX there) and its
    "all" is TCP and UDP; "all" is compared with it among FAMILIES."""
    assert not hasattr(socket, "AF_UNIX")
    with pytest.raises(ValueError, match="invalid kind"):
        psutil.net_connections("unix")
    with pytest.raises(ValueError, match="needs UNIX sockets"):
        net_connections("unix")


@pytest.mark.parametrize("kind", REFUSED)
def test_other_kinds_raise_and_name_the_supported_ones(kind):
    supported = ", ".join(map(repr, SUPPORTED))
    with pytest.raises(ValueError, match=f"supported kinds: {supported}$") as raised:
        net_connections(kind)
    if kind == "unix":
        assert "needs UNIX sockets" in str(raised.value)


def test_status_strings_are_psutils_constants(psutil):
    """Every TcpState has psutil's string (DELETE_TCB is Windows-only there)."""
    constants = {getattr(psutil, f"CONN_{s.name}", None) for s in TcpState}
    assert {s.name for s in TcpState} - constants <= {"DELETE_TCB"}
    if sys.platform == "win32":
        assert psutil.CONN_DELETE_TCB == TcpState.DELETE_TCB.name


def test_needs_no_psutil(population):
    """In a child where psutil cannot be imported: the same answer (the
    child holds no socket, so even the pids are the same)."""
    code = (
        "import json, sys\n"
        "sys.modules['psutil'] = None  # any import of psutil fails\n"
        "from tcptable.compat import net_connections\n"
        "print(json.dumps(net_connections()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    child = json.loads(out)
    mine = json.loads(json.dumps(net_connections()))
    assert sorted(map(json.dumps, child)) == sorted(map(json.dumps, mine))
    assert len(child) >= sum(population.expected.values())


def as_json(conns) -> list[str]:
    """Each connection as JSON text (a Counter: each as often as it counts)."""
    if isinstance(conns, collections.Counter):
        conns = conns.elements()
    return sorted(json.dumps(c) for c in conns)


@linux_only
def test_an_unprivileged_caller_equals_psutil(holders, psutil):
    """As uid 65534 (no capabilities): both name the caller on its own
    sockets and no pid (None) on every other user's."""
    need_root()

    def view() -> dict:
        lst = socket.socket()
        lst.bind(("127.0.0.1", 0))
        lst.listen()
        client = socket.socket()  # no create_connection(): its idna import needs root's files
        client.connect(lst.getsockname())
        server, _ = lst.accept()
        with lst, client, server:
            return {
                "pid": os.getpid(),
                "port": lst.getsockname()[1],
                "ours": as_json(net_connections("tcp")),
                "theirs": as_json(theirs(psutil, "tcp")),
            }

    report = run_as(65534, view)
    assert report["ours"] == report["theirs"]
    rows = [json.loads(c) for c in report["ours"]]
    # The child forked from this process holds copies of its sockets too, and
    # it may see only its own /proc/<pid>/fd: the holders' sockets have no pid.
    # By whole endpoints, not port numbers: a socket of another test (one left
    # in TIME_WAIT, an accepted one) may share a port with these.
    listener = ["127.0.0.1", report["port"]]
    own = [r for r in rows if listener in (r[3], r[4])]
    assert len(own) == 3 and {r[-1] for r in own} == {report["pid"]}
    held_ends = {
        (
            (r.local_addr, r.local_port),
            (r.remote_addr, r.remote_port) if r.state != "LISTEN" else (),
        )
        for h in holders
        for r in (held.row for held in h.held)
    }
    others = [r for r in rows if (tuple(r[3]), tuple(r[4])) in held_ends]
    assert len(others) == sum(len(h.held) for h in holders)
    assert {r[-1] for r in others} == {None}


@linux_only
def test_identical_sockets_stay_apart_where_psutil_merges_them(netns, psutil):
    """Two SO_REUSEPORT listeners on one port held by a process the caller
    cannot see are identical tuples (no pid, fd -1): psutil's answer is a
    set and keeps one; here each socket is a row."""
    need_root()
    twins = [socket.socket() for _ in range(2)]
    port = 0  # the first binds any port, the second the same
    for s in twins:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
        port = s.getsockname()[1]
    # what both answers hold for such a listener, in as_json()'s form
    twin = json.dumps([-1, V4, socket.SOCK_STREAM, ["127.0.0.1", port], [], "LISTEN", None])

    def view() -> dict:
        for s in twins:
            s.close()  # the child's copies: only this (root) process holds them now
        return {
            "ours": as_json(net_connections("tcp")),
            "theirs": as_json(theirs(psutil, "tcp")),
        }

    try:
        report = run_as(65534, view)
    finally:
        for s in twins:
            s.close()
    ours, psutils = collections.Counter(report["ours"]), collections.Counter(report["theirs"])
    assert ours == {twin: 2}
    assert psutils == {twin: 1}


@linux_only
def test_a_thread_in_another_namespace_reads_its_own_table(netns, psutil):
    """compat reads the calling thread's network namespace, as tcp6() and
    tcp4() do; psutil reads /proc/net, which is the main thread's."""
    main = socket.socket()
    main.bind(("127.0.0.1", 0))
    main.listen()
    seen = {}

    def worker() -> None:
        with private_netns(), socket.socket() as own:
            own.bind(("127.0.0.1", 0))
            own.listen()
            seen["own"] = own.getsockname()
            seen["ours"] = net_connections("tcp")
            seen["psutil"] = psutil.net_connections("tcp")

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    with main:
        assert [c.laddr for c in seen["ours"]] == [seen["own"]]
        assert [c.laddr for c in seen["psutil"]] == [main.getsockname()]


# IPv6 addresses in tcptable's text (glibc's rules, checked on Linux): each
# class where Windows' text may differ, and ordinary ones.
IPV6_TEXTS = [
    "::",
    "::1",
    "fe80::1",
    "2001:db8::1",
    "::ffff:127.0.0.1",
    "::ffff:0.0.1.2",  # Windows: hex (its seventh group is 0)
    "::ffff:0:102:304",  # Windows: dotted (::ffff:0:a.b.c.d)
    "::1.2.3.4",
    "fe80::5efe:102:304",  # ISATAP: Windows writes the last 32 bits dotted
    "fe80::200:5efe:7f00:1",
    "2001:db8:0:0:1::",  # Windows shortens the first zero run, glibc the longest
    "2001:db8::1:0:0:1",  # equal runs: both shorten the first
    "2001:db8:1::1:0:0",
]


def test_ipv6_texts_are_glibcs():
    """The inputs below are what tcptable (glibc's rules) writes."""
    if not LINUX:
        pytest.skip("glibc's inet_ntop is the reference")
    for text in IPV6_TEXTS:
        assert socket.inet_ntop(V6, socket.inet_pton(V6, text)) == text


@pytest.mark.skipif(sys.platform != "win32", reason="Windows: psutil's text comes from ntdll")
def test_ipv6_text_is_what_windows_writes():
    """psutil writes IPv6 addresses with ntdll's RtlIpv6AddressToStringA."""
    import ctypes

    from tcptable.compat import _windows_ipv6_text

    rtl = ctypes.WinDLL("ntdll").RtlIpv6AddressToStringA
    rtl.argtypes, rtl.restype = [ctypes.c_char_p, ctypes.c_char_p], ctypes.c_void_p
    for text in IPV6_TEXTS:
        out = ctypes.create_string_buffer(46)
        rtl(socket.inet_pton(V6, text), out)
        assert _windows_ipv6_text(text) == out.value.decode(), text


def test_public_names_work_here():
    """Every name tcptable.compat exports works on this platform: the Windows
    text conversion (ntdll) is private and exists only on Windows."""
    import tcptable.compat as compat

    assert sorted(compat.__all__) == ["addr", "net_connections", "sconn"]
    assert compat.addr("::1", 1).ip == "::1"
    assert all(isinstance(c, compat.sconn) for c in compat.net_connections("tcp6"))
    assert hasattr(compat, "_windows_ipv6_text") == (sys.platform == "win32")


# ---- UNIX sockets (Linux) ----------------------------------------------------

# A child holding a UNIX datagram socket on an abstract name until its stdin closes.
UNIX_HOLDER = (
    "import socket, sys\n"
    "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
    "s.bind(b'\\0' + sys.argv[1].encode())\n"
    "print(flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture
def unix_sockets(netns, backend, tmp_path):
    """UNIX sockets of every type in a namespace of the test's own: bound to
    a path, abstract, unbound, socketpairs, a listener with an accepted
    connection, unread data, one a child holds; and one TCP listener and one
    UDP socket for "all"."""
    made = []

    def add(s: socket.socket) -> socket.socket:
        made.append(s)
        return s

    child = subprocess.Popen(
        [sys.executable, "-c", UNIX_HOLDER, f"tt-child-{os.getpid()}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        child.stdout.readline()  # bound
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
            add(socket.socket(socket.AF_UNIX, kind)).bind(str(tmp_path / f"k{kind}"))
            add(socket.socket(socket.AF_UNIX, kind)).bind(f"\0tt-{os.getpid()}-{kind}".encode())
            add(socket.socket(socket.AF_UNIX, kind))
            a, b = map(add, socket.socketpair(socket.AF_UNIX, kind))
            a.send(b"unread")
        listener = add(socket.socket(socket.AF_UNIX))
        listener.bind(str(tmp_path / "listener"))
        listener.listen(5)
        add(socket.socket(socket.AF_UNIX)).connect(str(tmp_path / "listener"))
        add(listener.accept()[0])
        add(socket.socket(V4)).bind(("127.0.0.1", 0))
        made[-1].listen(1)
        add(socket.socket(V6, socket.SOCK_DGRAM)).bind(("::1", 0))
        yield made, child.pid
    finally:
        child.stdin.close()
        child.wait()
        for s in made:
            s.close()


def unix_tuple(s: socket.socket) -> tuple:
    """A UNIX socket as psutil writes it, from the socket itself."""
    name = s.getsockname()
    if isinstance(name, bytes):
        name = os.fsdecode(name.replace(b"\0", b"@"))
    return (-1, socket.AF_UNIX, s.type, name, "", "NONE", os.getpid())


@linux_only
@pytest.mark.parametrize("kind", UNIX_KINDS)
def test_unix_kinds_equal_psutil(unix_sockets, psutil, kind):
    made, child = unix_sockets
    ours = collections.Counter(net_connections(kind))
    assert ours == theirs(psutil, kind)
    mine = collections.Counter(c for c in ours.elements() if c.family == socket.AF_UNIX)
    expected = collections.Counter(unix_tuple(s) for s in made if s.family == socket.AF_UNIX)
    expected[
        (-1, socket.AF_UNIX, socket.SOCK_DGRAM, f"@tt-child-{os.getpid()}", "", "NONE", child)
    ] += 1
    assert mine == expected
    families = {socket.AF_UNIX, V4, V6} if kind == "all" else {socket.AF_UNIX}
    assert {c.family for c in ours} == families
    assert {type(c.type) for c in ours} == {socket.SocketKind}


@linux_only
def test_unix_differences_from_psutil(netns, backend, psutil, tmp_path):
    """docs/compat.md's UNIX rows: a connection its listener has not accepted
    has no socket inode, which psutil lists (from /proc/net/unix: the
    listener's path, no pid) and tcptable does not (nor does the kernel's
    sock_diag dump); a socket held by two descriptors is one row here, one
    per descriptor in psutil."""
    path = str(tmp_path / "queued")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen(1)
        with socket.socket(socket.AF_UNIX) as client, socket.socket(socket.AF_UNIX) as held:
            client.connect(path)
            twice = os.dup(held.fileno())
            try:
                ours = collections.Counter(net_connections("unix"))
                psutils = psutil.net_connections("unix")
            finally:
                os.close(twice)
            queued = (-1, socket.AF_UNIX, socket.SOCK_STREAM, path, "", "NONE", None)
            unbound = (-1, socket.AF_UNIX, socket.SOCK_STREAM, "", "", "NONE", os.getpid())
            assert queued not in ours and ours[unbound] == 2  # client and held
            assert collections.Counter(
                c._replace(fd=-1) for c in psutils
            ) == ours + collections.Counter({queued: 1, unbound: 1})


# ---- psutil's own tests (Linux) ----------------------------------------------

# psutil's tests of psutil.net_connections(), run with it replaced by
# tcptable.compat.net_connections (Process.net_connections() stays psutil's:
# it is per process, and several tests compare the two).
PSUTIL_TESTS = [
    "tests/test_connections.py",
    "tests/test_contracts.py::TestSystemAPITypes::test_net_connections",
    "tests/test_unicode.py::TestFSAPIs::test_net_connections",
]
# What they expect of the psutil version pinned here (psutil 7.2: its tests
# left the installed package for its source tree's tests/).
PSUTIL_SERIES = "7.2."
# The tests that fail, each only by docs/compat.md's fd difference: they
# compare psutil.net_connections() with Process.net_connections() whole
# (compare_procsys_connections()), fd included, which tcptable gives as -1.
PSUTIL_FD_FAILURES = {
    "tests.test_connections.TestUnconnectedSockets::test_unix_tcp",
    "tests.test_connections.TestUnconnectedSockets::test_unix_udp",
    "tests.test_connections.TestFilters::test_combos",
}
# The replacement, a pytest plugin loaded into the run.  With TT_FD_FROM_PSUTIL=1
# each tuple takes the fd psutil gives the same tuple: the failures above then
# pass if fd is all they differ by.
PSUTIL_PLUGIN = """\
import collections, os
import psutil
from tcptable import compat

psutils = psutil.net_connections

def net_connections(kind="inet"):
    ours = compat.net_connections(kind)
    if os.environ.get("TT_FD_FROM_PSUTIL") != "1":
        return ours
    fds = collections.defaultdict(list)
    for c in psutils(kind):
        fds[c[1:]].append(c.fd)
    return [c._replace(fd=fds[c[1:]].pop()) if fds.get(c[1:]) else c for c in ours]

psutil.net_connections = net_connections
"""


def psutil_source(psutil) -> str:
    """psutil's source tree (its tests/) for the installed version, from
    TCPTABLE_PSUTIL_SOURCE (.ci/run sets it for its suites); skips without
    it, as psutil 7.2 and later install no tests."""
    if not psutil.__version__.startswith(PSUTIL_SERIES):
        pytest.skip(f"the expectations are psutil {PSUTIL_SERIES}x's; psutil {psutil.__version__}")
    source = os.environ.get("TCPTABLE_PSUTIL_SOURCE")
    how = (
        "needs psutil's tests, which it does not install: TCPTABLE_PSUTIL_SOURCE=its source "
        f"unpacked (pip download psutil=={psutil.__version__} --no-binary :all: --no-deps)"
    )
    if not source:
        pytest.skip(how)
    init = os.path.join(source, "psutil", "__init__.py")
    with open(init) as f:
        if f'__version__ = "{psutil.__version__}"' not in f.read():
            pytest.skip(f"{init} is not psutil {psutil.__version__}'s; {how}")
    return source


def run_psutil_tests(psutil, tmp_path, **env) -> dict[str, Outcome]:
    """psutil's tests in a pytest of their own (from this thread's network
    namespace): each test's outcome by its junit name."""
    import shutil
    import xml.etree.ElementTree as ET

    work = tmp_path / "psutil"
    if not work.exists():
        # tests/ alone: its parent goes first on sys.path (psutil's ROOT_DIR),
        # where the source's psutil/ would hide the installed one
        shutil.copytree(os.path.join(psutil_source(psutil), "tests"), work / "tests")
        (work / "tt_psutil_plugin.py").write_text(PSUTIL_PLUGIN)
        (work / "pytest.ini").write_text("[pytest]\n")
    run = "fd" if env else "plain"
    report = tmp_path / f"{run}.xml"
    # GITHUB_ACTIONS: psutil's CI mode, which triples its timeouts (on a busy
    # machine test_multi_sockets_procs' 10 helpers outlast 5 s) and starts its
    # helpers with this venv's python, not the base one (no psutil there).
    # The mode skips TestFSAPIsWithInvalidPath as unreliable: not in the list.
    env = {**os.environ, "PYTHONPATH": str(work), "GITHUB_ACTIONS": "1", **env}
    with open(tmp_path / f"{run}.txt", "w") as output:  # pytest's output
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-c",
                str(work / "pytest.ini"),
                "-p",
                "no:cacheprovider",
                "-p",
                "tt_psutil_plugin",
                "-W",
                "ignore::pytest.PytestUnknownMarkWarning",
                f"--junitxml={report}",
                *PSUTIL_TESTS,
            ],
            cwd=work,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        outcomes[name] = Outcome("passed")
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcomes[name] = Outcome(child.tag, child.get("message", ""))
    return outcomes


@dataclass
class Outcome:
    what: str  # passed, failure, error or skipped
    message: str = ""


@linux_only
def test_psutils_own_tests_pass_but_for_fd(netns, psutil, tmp_path):
    """psutil's own net_connections() tests, with tcptable's answer in its
    place, in a namespace of the test's own: all pass but the ones that
    compare fd, and those pass once fd is psutil's."""
    outcomes = run_psutil_tests(psutil, tmp_path)
    failed = {name: o.message for name, o in outcomes.items() if o.what in ("failure", "error")}
    passed = [name for name, o in outcomes.items() if o.what == "passed"]
    assert set(failed) == PSUTIL_FD_FAILURES, failed
    assert len(passed) > 10, outcomes
    again = run_psutil_tests(psutil, tmp_path, TT_FD_FROM_PSUTIL="1")
    assert {name: again[name] for name in PSUTIL_FD_FAILURES} == dict.fromkeys(
        PSUTIL_FD_FAILURES, Outcome("passed")
    )
