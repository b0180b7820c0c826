"""pids=True on every platform, for the test's own sockets: Linux finds this
process through /proc/<pid>/fd, Windows reads dwOwningPid from
GetTcp6Table2/GetTcpTable2.  Wine fills those tables with 0 for every owner
(found when this suite first ran under Windows CPython), so there the pid
stays None.  Only the test's own rows are compared, so this also holds on a
real Windows machine with other connections."""

from __future__ import annotations

import os
import socket

import pytest
import tcptable
from netns import WINE
from oracles import row_tuple

FAMILIES = [(socket.AF_INET6, "::1", tcptable.tcp6), (socket.AF_INET, "127.0.0.1", tcptable.tcp4)]


@pytest.mark.parametrize("family,addr,table", FAMILIES, ids=["tcp6", "tcp4"])
def test_own_sockets_carry_this_process_pid(netns_if_possible, family, addr, table):
    with socket.socket(family) as lst:
        lst.bind((addr, 0))
        lst.listen()
        with socket.create_connection(lst.getsockname()[:2]) as client:
            server, _ = lst.accept()
            with server:
                ports = {lst.getsockname()[1], client.getsockname()[1]}
                mine = [r for r in table(pids=True) if r.local_port in ports]
                plain = [r for r in table() if r.local_port in ports]
    assert len(mine) == 3, mine  # the listener, and both ends of the connection
    assert sorted(map(row_tuple, mine)) == sorted(map(row_tuple, plain))
    pids = {r.pid for r in mine}
    assert pids == ({None} if WINE else {os.getpid()}), pids
