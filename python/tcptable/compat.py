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
# address and the remote port in them (the local address is always at 1).


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


def _windows(rows, family, lp: int, ra: int, rp: int) -> list:
    # psutil's Windows code: an endpoint is () when both its address and port
    # are zero, and the remote one of every LISTEN row is ().
    text = _windows_ipv6_text if family == AF_INET6 else str
    return [
        _new(
            sconn,
            (
                -1,
                family,
                SOCK_STREAM,
                () if not r[lp] and r[1] in ZERO_ADDRS else _new(addr, (text(r[1]), r[lp])),
                ()
                if r[0] == LISTEN or (not r[rp] and r[ra] in ZERO_ADDRS)
                else _new(addr, (text(r[ra]), r[rp])),
                STATUS[r[0]],
                NO_PID if r.pid is None else r.pid,
            ),
        )
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

    _convert = _windows
else:
    _convert = _linux


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


def _tcp4() -> list:
    # Tcp4Row: state, local_addr, local_port, remote_addr, remote_port
    return _convert(tcp4(pids=True), AF_INET, 2, 3, 4)


def _tcp6() -> list:
    # Tcp6Row: state, local_addr, local_scope_id, local_port, remote_addr,
    # remote_scope_id, remote_port (psutil has no scope ids)
    return _convert(tcp6(pids=True), AF_INET6, 3, 4, 6)


def _udp4() -> list:
    # Udp4Row: local_addr, local_port; the peer by name
    return _linux_udp(udp4(pids=True), AF_INET, 1)


def _udp6() -> list:
    # Udp6Row: local_addr, local_scope_id, local_port; the peer by name
    return _linux_udp(udp6(pids=True), AF_INET6, 2)


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


# psutil's kinds tcptable answers, each with its tables in psutil's order.
KINDS = {"tcp": (_tcp4, _tcp6), "tcp4": (_tcp4,), "tcp6": (_tcp6,)}
if not WINDOWS:  # tcptable reads no UDP table on Windows yet
    KINDS.update(
        udp=(_udp4, _udp6),
        udp4=(_udp4,),
        udp6=(_udp6,),
        inet=(_tcp4, _tcp6, _udp4, _udp6),
        inet4=(_tcp4, _udp4),
        inet6=(_tcp6, _udp6),
        unix=(_unix,),
        all=(_tcp4, _tcp6, _udp4, _udp6, _unix),
    )
# psutil's other kinds, and why tcptable cannot answer them (yet).
MISSING: dict[str, str] = {}
if WINDOWS:
    MISSING.update(unix="UNIX sockets", all="UNIX sockets")
    MISSING.update(dict.fromkeys(("udp", "udp4", "udp6", "inet", "inet4", "inet6"), "UDP sockets"))


def net_connections(kind: str = "tcp") -> list[sconn]:
    """System-wide connections as ``psutil.net_connections(kind)`` gives
    them: ``sconn(fd, family, type, laddr, raddr, status, pid)`` tuples.

    ``kind`` is "tcp", "tcp4", "tcp6" and on Linux also "udp", "udp4",
    "udp6", "inet", "inet4" or "inet6" (TCP and UDP), "unix" (UNIX sockets)
    or "all" (every one).  Elsewhere psutil's kinds tcptable cannot read there
    raise ValueError rather than answer in part, as does any other string."""
    tables = KINDS.get(kind)
    if tables is not None:
        return [c for table in tables for c in table()]
    supported = ", ".join(map(repr, KINDS))
    if kind in MISSING:
        raise ValueError(
            f"kind {kind!r} needs {MISSING[kind]}, which tcptable does not read here; "
            f"supported kinds: {supported}"
        )
    raise ValueError(f"invalid kind {kind!r}; supported kinds: {supported}")
