"""What every row of a result must look like, whatever the table holds."""

from __future__ import annotations

import collections
import socket
from collections.abc import Callable

import tcptable
from netns import WINE
from tcptable import TcpState


def canonical(family: int, addr: str) -> bool:
    """The C library's own text for the address (inet_pton/inet_ntop)."""
    return socket.inet_ntop(family, socket.inet_pton(family, addr)) == addr


def check_rows(rows: tuple, family: int, *, unique: bool = True) -> None:
    """Types, ranges and canonical address text of every row, LISTEN rows'
    empty remote end, and with `unique` no row twice.

    A table that churns passes unique=False: two distinct sockets can show
    one row there (two sockets that close() is tearing down both read CLOSE
    with zeroed ends, seen with distinct kernel socket cookies), so such a
    test checks instead that each of its stable sockets appears once."""
    assert type(rows) is tuple
    row_type = tcptable.Tcp6Row if family == socket.AF_INET6 else tcptable.Tcp4Row
    zero = "::" if family == socket.AF_INET6 else "0.0.0.0"
    for row in rows:
        assert type(row) is row_type
        if family == socket.AF_INET6:
            state, la, lscope, lport, ra, rscope, rport = row
            assert type(lscope) is int and type(rscope) is int
        else:
            state, la, lport, ra, rport = row
        assert type(state) is TcpState
        assert type(la) is str and type(ra) is str
        assert canonical(family, la) and canonical(family, ra)
        assert type(lport) is int and type(rport) is int
        assert 0 <= lport <= 65535 and 0 <= rport <= 65535
        if state is TcpState.LISTEN:
            assert (ra, rport) == (zero, 0)
    # Wine builds its table from /proc/net/tcp read in pieces, which repeats
    # rows that churn meanwhile; Windows and a netlink batch do not.
    assert not unique or WINE or len(set(rows)) == len(rows), "a row appears twice"


def check_once(rows: tuple, stable: set, key: Callable = tuple) -> None:
    """Each of the `stable` rows (as `key` makes them) appears exactly once;
    under Wine at least once (its table is /proc/net/tcp read in pieces,
    which repeats a row when others churn meanwhile)."""
    seen = collections.Counter(map(key, rows))
    want = {row: seen[row] for row in stable}
    if WINE:
        assert min(want.values(), default=1) >= 1, want
    else:
        assert want == dict.fromkeys(stable, 1)
