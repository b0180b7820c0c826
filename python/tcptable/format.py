"""Text and JSON forms of rows: endpoints, a netstat-like table, dicts."""

from __future__ import annotations

import socket
from collections.abc import Iterable

from ._tcptable import Tcp4Row, Tcp6Row, Udp4Row, Udp6Row, UnixRow

__all__ = [
    "columns_text",
    "endpoint",
    "local_endpoint",
    "remote_endpoint",
    "row_cells",
    "row_dict",
    "table_text",
]

Row = Tcp4Row | Tcp6Row | Udp4Row | Udp6Row | UnixRow
UDP_ROWS = (Udp4Row, Udp6Row)
# The text table's remote end and state of an unconnected UDP socket (ss's words).
NO_PEER, UNCONNECTED = "*:*", "UNCONN"
# A UNIX socket's type: ss's Netid for the text table, the word for JSON.
UNIX_TYPES = {
    socket.SOCK_STREAM: ("u_str", "stream"),
    socket.SOCK_DGRAM: ("u_dgr", "dgram"),
    socket.SOCK_SEQPACKET: ("u_seq", "seqpacket"),
}


def endpoint(addr: str, port: int, scope_id: int = 0) -> str:
    """``[addr%scope]:port`` for IPv6 (``%scope`` only when non-zero), ``addr:port`` for IPv4."""
    if ":" in addr:
        scope = f"%{scope_id}" if scope_id else ""
        return f"[{addr}{scope}]:{port}"
    return f"{addr}:{port}"


def local_endpoint(row: Row) -> str:
    return endpoint(row.local_addr, row.local_port, getattr(row, "local_scope_id", 0))


def remote_endpoint(row: Row) -> str:
    return endpoint(row.remote_addr, row.remote_port, getattr(row, "remote_scope_id", 0))


def row_family(row: Row) -> socket.AddressFamily:
    return socket.AF_INET6 if isinstance(row, (Tcp6Row, Udp6Row)) else socket.AF_INET


def _unix_type(row: UnixRow) -> tuple[str, str]:
    return UNIX_TYPES.get(row.type, (f"u_{row.type}", str(row.type)))


def row_dict(row: Row) -> dict[str, object]:
    """A JSON-ready dict; IPv4 rows get scope ids of 0 so every dict of a
    protocol has the same keys.  TCP rows have "state"; UDP rows "connected"
    and "drops" instead, and remote ends of null while unconnected.  UNIX
    rows: family "unix", type ("stream", "dgram", "seqpacket"), state, path
    (null unbound), inode and peer_inode (null: no peer, or from /proc)."""
    if isinstance(row, UnixRow):
        return {
            "family": "unix",
            "type": _unix_type(row)[1],
            "state": row.state.name,
            "path": row.path,
            "inode": row.inode,
            "peer_inode": row.peer_inode,
        }
    v6 = row_family(row) == socket.AF_INET6
    udp = isinstance(row, UDP_ROWS)
    remote_scope = getattr(row, "remote_scope_id", None if udp and not row.connected else 0)
    return {
        "family": ("udp" if udp else "tcp") + ("6" if v6 else "4"),
        **({"connected": row.connected} if udp else {"state": row.state.name}),
        "local_addr": row.local_addr,
        "local_port": row.local_port,
        "local_scope_id": getattr(row, "local_scope_id", 0),
        "remote_addr": row.remote_addr,
        "remote_port": row.remote_port,
        "remote_scope_id": remote_scope,
        **({"drops": row.drops} if udp else {}),
    }


def row_cells(row: Row) -> tuple[str, str, str, str]:
    """A row as the text table shows it: protocol, local, remote, state.  A
    UDP socket's state is UNCONN, remote *:*, until it connects: then
    ESTABLISHED, as the kernel and netstat say.  A UNIX socket as ss -x
    shows it: its type (u_str, u_dgr, u_seq), path (* unbound) and inode,
    peer * and its inode when known, UNCONN for CLOSE."""
    if isinstance(row, UnixRow):
        peer = "*" if row.peer_inode is None else f"* {row.peer_inode}"
        state = UNCONNECTED if row.state.name == "CLOSE" else row.state.name
        return (_unix_type(row)[0], f"{row.path or '*'} {row.inode}", peer, state)
    udp = isinstance(row, UDP_ROWS)
    proto = ("udp" if udp else "tcp") + ("6" if row_family(row) == socket.AF_INET6 else "")
    if udp:
        connected = row.connected
        remote = remote_endpoint(row) if connected else NO_PEER
        return (proto, local_endpoint(row), remote, "ESTABLISHED" if connected else UNCONNECTED)
    return (proto, local_endpoint(row), remote_endpoint(row), row.state.name)


def columns_text(lines: list[tuple[str, ...]]) -> list[str]:
    """Lines of left-aligned columns, two spaces apart, no trailing blanks."""
    widths = [max(len(cells[i]) for cells in lines) for i in range(len(lines[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip() + "\n"
        for cells in lines
    ]


def table_text(rows: Iterable[Row], namespaces: Iterable[str] | None = None) -> str:
    """A table like ``netstat -tn``: protocol, local, remote, state; with
    `namespaces` (one per row), a first column naming each row's namespace."""
    lines = [row_cells(row) for row in rows]
    header = ("Proto", "Local Address", "Remote Address", "State")
    if namespaces is not None:
        lines = [(ns, *line) for ns, line in zip(namespaces, lines, strict=True)]
        header = ("Netns", *header)
    return "".join(columns_text([header, *lines]))
