"""``psutil.net_connections()`` for TCP, UDP and UNIX sockets, built from tcptable's rows.

>>> from tcptable.compat import net_connections
>>> net_connections("inet")  # as psutil.net_connections("inet") would give it

psutil is not needed.  docs/compat.md lists
where the answers differ (``fd``, the pid of a socket several processes
hold, ...).
"""

from __future__ import annotations

import socket
import sys
from collections import namedtuple
from socket import AF_INET, AF_INET6, SOCK_DGRAM, SOCK_STREAM

from ._tcptable import tcp4, tcp6, udp4, udp6, unix
from .state import TcpState

__all__ = ["addr", "net_connections", "sconn"]

# psutil's own type names and fields.
sconn = namedtuple("sconn", ["fd", "family", "type", "laddr", "raddr", "status", "pid"])
addr = namedtuple("addr", ["ip", "port"])

WINDOWS = sys.platform == "win32"
# Windows reports TIME_WAIT rows with owning pid 0, and psutil passes that on;
# tcptable's rows say None there.  On Linux psutil says None, as tcptable does.
NO_PID = 0 if WINDOWS else None
# psutil's status strings are TcpState's names; a tuple indexed by the state.
_NAMES = {s.value: s.name for s in TcpState}
STATUS = tuple(_NAMES.get(i, "NONE") for i in range(max(_NAMES) + 1))
LISTEN = TcpState.LISTEN
ZERO_ADDRS = frozenset(("0.0.0.0", "::"))

_new = tuple.__new__  # builds a namedtuple without a Python-level __new__ call


# Each converter takes the rows and the index of the local port, the remote
# address and the remote port in them (TCP rows: the local address is at 1,
# after the state); the UDP ones the local port's (the local address is at 0,
# the peer read by name).


def _linux(rows, family, lp: int, ra: int, rp: int) -> list:
    # psutil reads /proc/net/tcp*: an endpoint with port 0 is ().
    return [
        _new(
            sconn,
            (
                -1,
                family,
                SOCK_STREAM,
                _new(addr, (r[1], r[lp])) if r[lp] else (),
                _new(addr, (r[ra], r[rp])) if r[rp] else (),
                STATUS[r[0]],
                r.pid,
            ),
        )
        for r in rows
    ]


def _linux_udp(rows, family, lp: int) -> list:
    # psutil reads /proc/net/udp*: status "NONE", and an endpoint with port 0
    # (the remote end of an unconnected socket) is ().
    return [
        _new(
            sconn,
            (
                -1,
                family,
                SOCK_DGRAM,
                _new(addr, (r[0], r[lp])) if r[lp] else (),
                _new(addr, (r.remote_addr, r.remote_port)) if r.remote_port else (),
                "NONE",
                r.pid,
            ),
        )
        for r in rows
    ]


def _windows_end(text, ip: str, port: int):
    # psutil's Windows code: an endpoint is () when both its address and port
    # are zero.
    return () if not port and ip in ZERO_ADDRS else _new(addr, (text(ip), port))


def _windows_text(family):
    # How psutil's Windows code writes the family's addresses.
    return _windows_ipv6_text if family == AF_INET6 else str


def _windows(rows, family, lp: int, ra: int, rp: int) -> list:
    # As psutil reads GetExtendedTcpTable: the remote end of every LISTEN row
    # is () too.  A pid None (TIME_WAIT's owner 0) is 0 there: NO_PID.
    text = _windows_text(family)
    return [
        _new(
            sconn,
            (
                -1,
                family,
                SOCK_STREAM,
                _windows_end(text, r[1], r[lp]),
                () if r[0] == LISTEN else _windows_end(text, r[ra], r[rp]),
                STATUS[r[0]],
                r.pid or NO_PID,
            ),
        )
        for r in rows
    ]


def _windows_udp(rows, family, lp: int) -> list:
    # As psutil reads GetExtendedUdpTable: status "NONE" and never a remote end
    # (the table has none, so a connected socket's raddr is () too).
    text, end, none = _windows_text(family), _windows_end, "NONE"
    return [
        _new(sconn, (-1, family, SOCK_DGRAM, end(text, r[0], r[lp]), (), none, r.pid or NO_PID))
        for r in rows
    ]


if WINDOWS:
    import ctypes

    _rtl_ipv6_text = ctypes.WinDLL("ntdll").RtlIpv6AddressToStringA
    _rtl_ipv6_text.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    _rtl_ipv6_text.restype = ctypes.c_void_p

    def _windows_ipv6_text(text: str) -> str:
        """An IPv6 address as psutil prints it on Windows (ntdll's
        RtlIpv6AddressToStringA) from tcptable's text (glibc's rules).  They
        differ only where Windows shortens the first run of zero groups and glibc
        the longest (the text keeps a "0:0"), for ISATAP (..:5efe:a.b.c.d) and for
        some ::ffff: forms; only those few are handed to ntdll."""
        if "0:0" not in text and "5efe" not in text and not text.startswith("::ffff:"):
            return text
        out = ctypes.create_string_buffer(46)  # INET6_ADDRSTRLEN
        _rtl_ipv6_text(socket.inet_pton(AF_INET6, text), out)
        return out.value.decode("ascii")

    _convert, _convert_udp = _windows, _windows_udp
else:
    _convert, _convert_udp = _linux, _linux_udp


def _tcp4() -> list:
    # Tcp4Row: state, local_addr, local_port, remote_addr, remote_port
    return _convert(tcp4(pids=True), AF_INET, 2, 3, 4)


def _tcp6() -> list:
    # Tcp6Row: state, local_addr, local_scope_id, local_port, remote_addr,
    # remote_scope_id, remote_port (psutil has no scope ids)
    return _convert(tcp6(pids=True), AF_INET6, 3, 4, 6)


def _udp4() -> list:
    # Udp4Row: local_addr, local_port; the peer by name
    return _convert_udp(udp4(pids=True), AF_INET, 1)


def _udp6() -> list:
    # Udp6Row: local_addr, local_scope_id, local_port; the peer by name
    return _convert_udp(udp6(pids=True), AF_INET6, 2)


# psutil's socket types are SocketKind members; a type it has no member for
# stays an int, as psutil leaves it.
_SOCKET_KINDS = {int(k): k for k in socket.SocketKind}


def _unix() -> list:
    # psutil reads /proc/net/unix: laddr the path ('' for an unbound socket),
    # raddr '' (that file has no peer), status "NONE".
    return [
        _new(
            sconn,
            (-1, socket.AF_UNIX, _SOCKET_KINDS.get(r[1], r[1]), r[0] or "", "", "NONE", r.pid),
        )
        for r in unix(pids=True)
    ]


# psutil's kinds, each with its tables in psutil's order.  psutil on Windows
# has no "unix" kind (Python has no AF_UNIX there), and its "all" is TCP and
# UDP: the UNIX family it asks for is None there and matches no table.
INET = (_tcp4, _tcp6, _udp4, _udp6)
KINDS = {
    "inet": INET,
    "inet4": (_tcp4, _udp4),
    "inet6": (_tcp6, _udp6),
    "tcp": (_tcp4, _tcp6),
    "tcp4": (_tcp4,),
    "tcp6": (_tcp6,),
    "udp": (_udp4, _udp6),
    "udp4": (_udp4,),
    "udp6": (_udp6,),
    **({"all": INET} if WINDOWS else {"unix": (_unix,), "all": (*INET, _unix)}),
}


def net_connections(kind: str = "inet") -> list[sconn]:
    """System-wide connections as ``psutil.net_connections(kind)`` gives
    them: ``sconn(fd, family, type, laddr, raddr, status, pid)`` tuples.

    ``kind`` is psutil's, with psutil's default "inet" (TCP and UDP, IPv4
    and IPv6): "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "inet",
    "inet4", "inet6", "all" (every socket) and on Linux "unix" (UNIX
    sockets).  On Windows, as in psutil there, "all" is TCP and UDP and
    "unix" is refused.  Any other string raises ValueError."""
    tables = KINDS.get(kind)
    if tables is not None:
        return [c for table in tables for c in table()]
    supported = ", ".join(map(repr, KINDS))
    if kind == "unix":
        raise ValueError(
            f"kind 'unix' needs UNIX sockets, which neither tcptable nor psutil reads on "
            f"Windows; supported kinds: {supported}"
        )
    raise ValueError(f"invalid kind {kind!r}; supported kinds: {supported}")
