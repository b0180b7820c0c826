"""Independent views of the TCP table, written here without tcptable's code.

Every view yields rows as plain tuples (see ``Row``) so that tcptable's rows,
``ss``'s output, a parse of /proc/net/tcp{,6} and the test's own sockets can be
compared as multisets.
"""

from __future__ import annotations

import collections
import re
import socket
import subprocess
import sys
from typing import NamedTuple

from netns import WINE, need_tool

# Linux state numbers (include/net/tcp_states.h) -> TcpState names.
LINUX_STATES = {
    1: "ESTABLISHED",
    2: "SYN_SENT",
    3: "SYN_RECV",
    4: "FIN_WAIT1",
    5: "FIN_WAIT2",
    6: "TIME_WAIT",
    7: "CLOSE",
    8: "CLOSE_WAIT",
    9: "LAST_ACK",
    10: "LISTEN",
    11: "CLOSING",
    12: "SYN_RECV",  # NEW_SYN_RECV
}

# ss's state words -> TcpState names.
SS_STATES = {
    "ESTAB": "ESTABLISHED",
    "SYN-SENT": "SYN_SENT",
    "SYN-RECV": "SYN_RECV",
    "FIN-WAIT-1": "FIN_WAIT1",
    "FIN-WAIT-2": "FIN_WAIT2",
    "TIME-WAIT": "TIME_WAIT",
    "UNCONN": "CLOSE",
    "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK",
    "LISTEN": "LISTEN",
    "CLOSING": "CLOSING",
}

# The keys of a `--json` line / row_dict(), in the order.
JSON_KEYS = [
    "family",
    "state",
    "local_addr",
    "local_port",
    "local_scope_id",
    "remote_addr",
    "remote_port",
    "remote_scope_id",
]

FAMILY_NAME = {socket.AF_INET: "tcp4", socket.AF_INET6: "tcp6"}
ZERO = {socket.AF_INET: "0.0.0.0", socket.AF_INET6: "::"}


class Row(NamedTuple):
    family: str  # "tcp4" or "tcp6"
    state: str
    local_addr: str
    local_scope_id: int
    local_port: int
    remote_addr: str
    remote_scope_id: int
    remote_port: int


def from_values(values) -> Row:
    """A row's values with the state as its name (as a child process sends
    them in JSON) as a plain Row; IPv4 rows get scope ids of 0, and so do all
    rows under Wine, whose scope ids are an address class (::1 gives 4096):
    never compared there."""
    if len(values) == 7:
        return comparable(Row("tcp6", *values))
    state, local_addr, local_port, remote_addr, remote_port = values
    return Row("tcp4", state, local_addr, 0, local_port, remote_addr, 0, remote_port)


def from_tcptable(row) -> Row:
    """A tcptable row as a plain Row."""
    return from_values([row.state.name, *row[1:]])


def comparable(row: Row) -> Row:
    """`row` as tcptable's rows are compared: without scope ids under Wine."""
    return row._replace(local_scope_id=0, remote_scope_id=0) if WINE else row


def row_tuple(row) -> tuple:
    """A tcptable row as a plain tuple, scope ids as from_values() has them."""
    if WINE and len(row) == 7:
        return (row[0], row[1], 0, row[3], row[4], 0, row[6])
    return tuple(row)


def counter(rows_values) -> collections.Counter:
    """A multiset of Rows from rows sent as value lists (see from_values)."""
    return collections.Counter(map(from_values, rows_values))


def table(module, family: int, **kwargs) -> collections.Counter:
    rows = (module.tcp6 if family == socket.AF_INET6 else module.tcp4)(**kwargs)
    return collections.Counter(from_tcptable(r) for r in rows)


def without_scopes(rows: collections.Counter) -> collections.Counter:
    """Rows (Row or UdpRow) with scope ids 0, as /proc shows them; an
    unconnected UDP socket's remote scope id stays None."""
    return collections.Counter(
        {
            r._replace(
                local_scope_id=0, remote_scope_id=None if r.remote_scope_id is None else 0
            ): n
            for r, n in rows.items()
        }
    )


def is_link_local(addr: str) -> bool:
    if ":" not in addr:
        return False
    raw = socket.inet_pton(socket.AF_INET6, addr)
    return raw[0] == 0xFE and raw[1] & 0xC0 == 0x80


# ---- ss -------------------------------------------------------------------


def _ss_endpoint(text: str, family: int) -> tuple[str, int, int]:
    """``addr:port``, ``[addr]:port``, ``[addr]%ifname:port``, ``*:port``, ``*:*``."""
    host, _, port = text.rpartition(":")
    scope = 0
    if "%" in host:
        host, _, ifname = host.partition("%")
        scope = socket.if_nametoindex(ifname)
    host = host.strip("[]")
    if host == "*":
        host = ZERO[family]
    return host, scope, 0 if port == "*" else int(port)


def _ss_row(family: int, state: str, local: str, remote: str) -> Row:
    """One ss line's row.  ss prints no scope for the remote end: it is taken
    to be the local one when the remote address is link-local."""
    laddr, lscope, lport = _ss_endpoint(local, family)
    raddr, _, rport = _ss_endpoint(remote, family)
    rscope = lscope if is_link_local(raddr) else 0
    return Row(FAMILY_NAME[family], SS_STATES[state], laddr, lscope, lport, raddr, rscope, rport)


def ss_rows(
    family: int, prefix: tuple[str, ...] = (), expression: str | None = None
) -> collections.Counter:
    """``ss -tanH`` for one family, run after ``prefix`` (``ip netns exec NAME``,
    ``nsenter -t PID -n``: another namespace's), with an optional filter
    ``expression`` (``sport = :443``).  ss prints no scope for the remote end:
    it is taken to be the local one when the remote address is link-local."""
    need_tool("ss", "iproute2")
    flag = "-6" if family == socket.AF_INET6 else "-4"
    command = [*prefix, "ss", "-tanH", flag, *([expression] if expression else [])]
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rows = collections.Counter()
    for line in out.splitlines():
        state, _recvq, _sendq, local, remote, *_ = line.split()
        rows[_ss_row(family, state, local, remote)] += 1
    return rows


class Detail(NamedTuple):
    """What ``ss -tanpe`` adds to a row: queues and owners.  ``pid`` is the
    lowest pid of ss's ``users:``; uid and inode are None where ss shows
    ``ino:0`` (TIME_WAIT and request sockets: no full socket)."""

    rx_queue: int
    tx_queue: int
    pid: int | None
    uid: int | None
    inode: int | None


def _ss_owner(tail: str) -> tuple[int | None, int, int]:
    """(lowest pid of ``users:``, uid, inode) from what follows ss -pe's
    endpoints; ss leaves out uid 0."""
    pids = [int(p) for p in re.findall(r"\bpid=(\d+)", tail)]
    uid = re.search(r"\buid:(\d+)", tail)
    inode = int(re.search(r"\bino:(\d+)", tail).group(1))
    return min(pids) if pids else None, int(uid.group(1)) if uid else 0, inode


def ss_details(family: int) -> collections.Counter:
    """``ss -tanpeH`` for one family: (Row, Detail) pairs."""
    need_tool("ss", "iproute2")
    flag = "-6" if family == socket.AF_INET6 else "-4"
    out = subprocess.run(["ss", "-tanpeH", flag], check=True, capture_output=True, text=True).stdout
    rows = collections.Counter()
    for line in out.splitlines():
        state, recvq, sendq, local, remote, *rest = line.split()
        tail = " ".join(rest)
        row = _ss_row(family, state, local, remote)
        pid, uid, inode = _ss_owner(tail)
        detail = Detail(int(recvq), int(sendq), pid, uid if inode else None, inode or None)
        rows[(row, detail)] += 1
    return rows


def ss_info(family: int) -> dict[Row, dict[str, str]]:
    """``ss -tanimH`` for one family: each row's tcp_info as ss prints it,
    ``name:value`` tokens by name, ``skmem:(r0,rb..,...)`` split into
    ``skmem_r``, ``skmem_rb`` and so on, and the bare words (options, the
    congestion control's name) under ``words``, space-separated."""
    need_tool("ss", "iproute2")
    flag = "-6" if family == socket.AF_INET6 else "-4"
    out = subprocess.run(["ss", "-tanimH", flag], check=True, capture_output=True, text=True).stdout
    rows: dict[Row, dict[str, str]] = {}
    row = None
    for line in out.splitlines():
        if not line[:1].isspace():  # a socket; its figures follow, indented
            state, _recvq, _sendq, local, remote, *_ = line.split()
            row = _ss_row(family, state, local, remote)
            rows[row] = {"words": ""}
            continue
        fields = rows[row]
        for token in line.split():
            if token.startswith("skmem:("):
                for item in token[len("skmem:(") : -1].split(","):
                    name = item.rstrip("0123456789")
                    fields[f"skmem_{name}"] = item[len(name) :]
            elif ":" in token:
                name, _, value = token.partition(":")
                fields.setdefault(name, value)
            else:
                fields["words"] += f" {token}"
    return rows


# ---- /proc/net/tcp{,6} ------------------------------------------------------


def _proc_endpoint(text: str, family: int) -> tuple[str, int, int]:
    """``HEXADDR:HEXPORT``; the address is 32-bit words printed in host order."""
    hexaddr, port = text.split(":")
    raw = b"".join(
        int(hexaddr[i : i + 8], 16).to_bytes(4, sys.byteorder) for i in range(0, len(hexaddr), 8)
    )
    return socket.inet_ntop(family, raw), 0, int(port, 16)


def proc_rows(family: int) -> collections.Counter:
    """/proc/net/tcp or tcp6 (no scope ids there)."""
    path = "/proc/net/tcp6" if family == socket.AF_INET6 else "/proc/net/tcp"
    rows = collections.Counter()
    with open(path) as f:
        next(f)  # header
        for line in f:
            fields = line.split()
            local = _proc_endpoint(fields[1], family)
            remote = _proc_endpoint(fields[2], family)
            state = LINUX_STATES[int(fields[3], 16)]
            rows[Row(FAMILY_NAME[family], state, *local, *remote)] += 1
    return rows


# ---- psutil -------------------------------------------------------------------


def psutil_rows() -> collections.Counter:
    """psutil.net_connections('tcp') as Rows without scope ids (psutil has
    none): the independent view of the table where /proc and ss are not."""
    import psutil

    rows = collections.Counter()
    for c in psutil.net_connections(kind="tcp"):
        family = socket.AddressFamily(c.family)
        remote = (c.raddr.ip, c.raddr.port) if c.raddr else (ZERO[family], 0)
        rows[
            Row(FAMILY_NAME[family], c.status, c.laddr.ip, 0, c.laddr.port, remote[0], 0, remote[1])
        ] += 1
    return rows


# ---- the test's own sockets --------------------------------------------------


def sockaddr_endpoint(family: int, sockaddr: tuple | None) -> tuple[str, int, int]:
    """A getsockname()/getpeername() result as (addr, scope id, port)."""
    if sockaddr is None:
        return ZERO[family], 0, 0
    addr = sockaddr[0].partition("%")[0]  # Python appends %ifname to link-local
    scope = sockaddr[3] if family == socket.AF_INET6 else 0
    return addr, scope, sockaddr[1]


def socket_row(family: int, state: str, local: tuple, remote: tuple | None) -> Row:
    return Row(
        FAMILY_NAME[family],
        state,
        *sockaddr_endpoint(family, local),
        *sockaddr_endpoint(family, remote),
    )


# /proc/net/snmp's Tcp: names, by TcpStats field name.
SNMP_FIELDS = {
    "RtoAlgorithm": "rto_algorithm",
    "RtoMin": "rto_min",
    "RtoMax": "rto_max",
    "MaxConn": "max_conn",
    "ActiveOpens": "active_opens",
    "PassiveOpens": "passive_opens",
    "AttemptFails": "attempt_fails",
    "EstabResets": "estab_resets",
    "CurrEstab": "curr_estab",
    "InSegs": "in_segs",
    "OutSegs": "out_segs",
    "RetransSegs": "retrans_segs",
    "InErrs": "in_errs",
    "OutRsts": "out_rsts",
}


def snmp_tcp() -> dict[str, int]:
    """The Tcp: counters of this thread's network namespace, by TcpStats
    field name (under Wine: the host's file, through the Z: drive)."""
    path = "/proc/thread-self/net/snmp" if sys.platform.startswith("linux") else r"Z:\proc\net\snmp"
    with open(path) as f:
        names, values = [line.split()[1:] for line in f if line.startswith("Tcp:")]
    return {SNMP_FIELDS[n]: int(v) for n, v in zip(names, values, strict=True) if n in SNMP_FIELDS}


# /proc/net/snmp's Udp: names (/proc/net/snmp6's after "Udp6"), by UdpStats field name.
SNMP_UDP_FIELDS = {
    "InDatagrams": "in_datagrams",
    "NoPorts": "no_ports",
    "InErrors": "in_errors",
    "OutDatagrams": "out_datagrams",
    "RcvbufErrors": "rcvbuf_errors",
    "SndbufErrors": "sndbuf_errors",
    "InCsumErrors": "in_csum_errors",
}


def snmp_udp(family: int) -> dict[str, int]:
    """The UDP counters of this thread's network namespace for one family,
    by UdpStats field name: the Udp: lines of /proc/thread-self/net/snmp
    (IPv4), the Udp6 lines of .../snmp6 (IPv6); Linux keeps them apart."""
    if family == socket.AF_INET:
        with open("/proc/thread-self/net/snmp") as f:
            names, values = [line.split()[1:] for line in f if line.startswith("Udp:")]
        pairs = zip(names, values, strict=True)
    else:
        with open("/proc/thread-self/net/snmp6") as f:
            pairs = [line[4:].split() for line in f if line.startswith("Udp6")]
    return {SNMP_UDP_FIELDS[n]: int(v) for n, v in pairs if n in SNMP_UDP_FIELDS}


def between(before: dict, got, after: dict) -> list[str]:
    """The counters of `got` (by attribute) outside [before, after]."""
    return [
        f"{name}: {before[name]} <= {getattr(got, name)} <= {after[name]} fails"
        for name in before
        if not min(before[name], after[name])
        <= getattr(got, name)
        <= max(before[name], after[name])
    ]


# ---- UDP: ss, /proc/net/udp{,6}, the test's own sockets ----------------------


class UdpRow(NamedTuple):
    """A UDP socket as every view can tell it: the peer None where the socket
    is not connected, and the details ss -uanpem and /proc/net/udp{,6} show.
    ``pid``, ``uid`` and ``inode`` are None where a view has none."""

    local_addr: str
    local_scope_id: int
    local_port: int
    remote_addr: str | None
    remote_scope_id: int | None
    remote_port: int | None
    connected: bool


class UdpDetail(NamedTuple):
    rx_queue: int
    tx_queue: int
    pid: int | None
    uid: int
    inode: int
    drops: int


def udp_row(family: int, local: tuple, remote: tuple | None) -> UdpRow:
    """A socket's getsockname() and getpeername() (None: not connected)."""
    peer = sockaddr_endpoint(family, remote) if remote is not None else (None, None, None)
    return UdpRow(*sockaddr_endpoint(family, local), *peer, remote is not None)


def udp_from_tcptable(row) -> UdpRow:
    scope = row.local_scope_id if len(row) == 3 else 0
    remote_scope = row.remote_scope_id if len(row) == 3 else (0 if row.connected else None)
    return UdpRow(
        row.local_addr,
        scope,
        row.local_port,
        row.remote_addr,
        remote_scope,
        row.remote_port,
        row.connected,
    )


def udp_ss(family: int) -> collections.Counter:
    """``ss -uanpemH`` for one family: (UdpRow, UdpDetail) pairs; ss shows an
    unconnected socket as UNCONN with peer ``*:*`` (or the zero address), a
    connected one as ESTAB, and its drops as skmem's ``d``."""
    need_tool("ss", "iproute2")
    flag = "-6" if family == socket.AF_INET6 else "-4"
    out = subprocess.run(
        ["ss", "-uanpemH", flag], check=True, capture_output=True, text=True
    ).stdout
    rows = collections.Counter()
    # Each socket's skmem:(...) follows on a line of its own.
    for line in re.split(r"\n(?=\S)", out.strip()) if out.strip() else []:
        state, recvq, sendq, local, remote, *rest = line.split()
        tail = " ".join(rest)
        laddr, lscope, lport = _ss_endpoint(local, family)
        connected = {"ESTAB": True, "UNCONN": False}[state]
        if connected:
            raddr, _, rport = _ss_endpoint(remote, family)
            peer = (raddr, lscope if is_link_local(raddr) else 0, rport)
        else:
            peer = (None, None, None)
        drops = int(re.search(r"skmem:\(.*\bd(\d+)\)", tail).group(1))
        detail = UdpDetail(int(recvq), int(sendq), *_ss_owner(tail), drops)
        rows[(UdpRow(laddr, lscope, lport, *peer, connected), detail)] += 1
    return rows


def udp_proc(family: int) -> collections.Counter:
    """/proc/net/udp or udp6: (UdpRow, UdpDetail) pairs, scope ids 0 (/proc
    has none) and no pid.  Columns: sl local rem st tx:rx tr:when retrnsmt
    uid timeout inode ref pointer drops."""
    path = "/proc/net/udp6" if family == socket.AF_INET6 else "/proc/net/udp"
    rows = collections.Counter()
    with open(path) as f:
        next(f)  # header
        for line in f:
            fields = line.split()
            connected = {1: True, 7: False}[int(fields[3], 16)]
            peer = _proc_endpoint(fields[2], family) if connected else (None, None, None)
            tx, rx = (int(q, 16) for q in fields[4].split(":"))
            detail = UdpDetail(rx, tx, None, int(fields[7]), int(fields[9]), int(fields[12]))
            rows[(UdpRow(*_proc_endpoint(fields[1], family), *peer, connected), detail)] += 1
    return rows


# ---- UNIX sockets (Linux) ---------------------------------------------------

# ss -x's Netid column -> socket type.
SS_UNIX_TYPES = {"u_str": socket.SOCK_STREAM, "u_dgr": socket.SOCK_DGRAM, "u_seq": 5}


class UnixView(NamedTuple):
    """One UNIX socket as a view shows it; None where the view has no value."""

    path: str | None
    type: int
    state: str
    inode: int
    peer_inode: int | None = None
    rx_queue: int | None = None
    tx_queue: int | None = None
    pid: int | None = None


def unix_from_tcptable(row) -> UnixView:
    return UnixView(
        row.path,
        row.type,
        row.state.name,
        row.inode,
        row.peer_inode,
        row.rx_queue,
        row.tx_queue,
        row.pid,
    )


def unix_ss() -> dict[int, UnixView]:
    """``ss -xanpeH`` by inode.  Paths must hold no spaces; ss shows a peer of
    inode 0 (none, or a connection not yet accepted) as ``* 0``."""
    need_tool("ss", "iproute2")
    out = subprocess.run(["ss", "-xanpeH"], check=True, capture_output=True, text=True).stdout
    views = {}
    for line in out.splitlines():
        netid, state, recvq, sendq, local, inode, _, peer, *rest = line.split()
        pids = [int(p) for p in re.findall(r"\bpid=(\d+)", " ".join(rest))]
        views[int(inode)] = UnixView(
            None if local == "*" else local,
            SS_UNIX_TYPES[netid],
            SS_STATES[state],
            int(inode),
            int(peer) or None,
            int(recvq),
            int(sendq),
            min(pids) if pids else None,
        )
    return views


def unix_proc() -> dict[int, UnixView]:
    """/proc/thread-self/net/unix by inode: path, type, state (Flags' listen
    bit, else St: 3 connected, 1 not), inode; nothing else is in it.  Rows of
    inode 0 (connections not accepted yet) are left out, as netlink does."""
    views = {}
    with open("/proc/thread-self/net/unix") as f:
        next(f)
        for line in f:
            _, _, _, flags, kind, st, inode, *path = line.split()
            if int(inode) == 0:
                continue
            state = (
                "LISTEN"
                if int(flags, 16) & 0x10000
                else {3: "ESTABLISHED"}.get(int(st, 16), "CLOSE")
            )
            views[int(inode)] = UnixView(
                path[0] if path else None, int(kind, 16), state, int(inode)
            )
    return views
