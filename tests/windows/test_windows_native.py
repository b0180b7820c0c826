"""tcp6()/tcp4() on real Windows against PowerShell's Get-NetTCPConnection.

Runs in the GitHub Windows job (there is no network namespace on Windows, so
the test's own sockets live on loopback and on a link-local address of the
machine, connections to itself that never leave it).  The link-local rows
settle the scope-id question on a real machine: tcptable must report the
interface index the socket was bound to (and, where PowerShell prints a
"%N" after the address, that N).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import subprocess
import sys

import pytest
import tcptable
from netns import WINE, skip_or_fail
from tcptable import TcpState

pytestmark = [
    pytest.mark.skipif(sys.platform != "win32", reason="needs Windows"),
    pytest.mark.skipif(WINE, reason="real Windows only: Wine has no Get-NetTCPConnection"),
]

# Get-NetTCPConnection's State names, by TcpState.
PS_STATES = {
    "Closed": TcpState.CLOSE,
    "Listen": TcpState.LISTEN,
    "SynSent": TcpState.SYN_SENT,
    "SynReceived": TcpState.SYN_RECV,
    "Established": TcpState.ESTABLISHED,
    "FinWait1": TcpState.FIN_WAIT1,
    "FinWait2": TcpState.FIN_WAIT2,
    "CloseWait": TcpState.CLOSE_WAIT,
    "Closing": TcpState.CLOSING,
    "LastAck": TcpState.LAST_ACK,
    "TimeWait": TcpState.TIME_WAIT,
    "DeleteTCB": TcpState.DELETE_TCB,
}

POWERSHELL = (
    "Get-NetTCPConnection | ForEach-Object { [pscustomobject]@{"
    " LocalAddress = $_.LocalAddress; LocalPort = [int]$_.LocalPort;"
    " RemoteAddress = $_.RemoteAddress; RemotePort = [int]$_.RemotePort;"
    " State = $_.State.ToString() } } | ConvertTo-Json -Compress"
)


def powershell_rows(ports: set[int]) -> set[tuple]:
    """(state, family, addr, scope, port, raddr, rscope, rport) of rows on `ports`."""
    out = subprocess.run(
        ["powershell", "-NoProfile", "-Command", POWERSHELL],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    data = json.loads(out)
    rows = set()
    for r in data if isinstance(data, list) else [data]:
        if r["LocalPort"] not in ports and r["RemotePort"] not in ports:
            continue
        if r["State"] not in PS_STATES:
            continue  # "Bound" (100): a PowerShell-only state, in no MIB table
        local, lscope = split_scope(r["LocalAddress"])
        remote, rscope = split_scope(r["RemoteAddress"])
        family = 6 if ":" in local else 4
        rows.add(
            (
                PS_STATES[r["State"]],
                family,
                local,
                lscope,
                r["LocalPort"],
                remote,
                rscope,
                r["RemotePort"],
            )
        )
    return rows


def unscoped(row: tuple) -> tuple:
    return row[:3] + row[4:6] + row[7:]


def split_scope(text: str) -> tuple[str, int]:
    addr, _, scope = text.partition("%")
    return ipaddress.ip_address(addr).compressed, int(scope or 0)


def tcptable_rows(ports: set[int]) -> set[tuple]:
    rows = set()
    for r in tcptable.tcp6():
        if r.local_port in ports or r.remote_port in ports:
            rows.add(
                (
                    r.state,
                    6,
                    r.local_addr,
                    r.local_scope_id,
                    r.local_port,
                    r.remote_addr,
                    r.remote_scope_id,
                    r.remote_port,
                )
            )
    for r in tcptable.tcp4():
        if r.local_port in ports or r.remote_port in ports:
            rows.add((r.state, 4, r.local_addr, 0, r.local_port, r.remote_addr, 0, r.remote_port))
    return rows


def link_local_address() -> tuple[str, int] | None:
    """A usable link-local IPv6 address of this machine and its interface index."""
    command = (
        "Get-NetIPAddress -AddressFamily IPv6 | Where-Object {"
        " $_.IPAddress -like 'fe80*' -and $_.AddressState -eq 'Preferred' } |"
        " ForEach-Object { [pscustomobject]@{ IPAddress = $_.IPAddress;"
        " InterfaceIndex = [int]$_.InterfaceIndex } } | ConvertTo-Json -Compress"
    )
    out = subprocess.run(
        ["powershell", "-NoProfile", "-Command", command],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if not out:
        return None
    data = json.loads(out)
    first = data[0] if isinstance(data, list) else data
    return first["IPAddress"].partition("%")[0], first["InterfaceIndex"]


def test_own_sockets_match_get_nettcpconnection():
    sockets: list[socket.socket] = []
    ports: set[int] = set()
    try:

        def pair(family: int, addr: tuple) -> None:
            listener = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(listener)
            listener.bind(addr)
            listener.listen(4)
            client = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(client)
            client.connect(listener.getsockname())
            sockets.append(listener.accept()[0])
            ports.add(listener.getsockname()[1])

        pair(socket.AF_INET, ("127.0.0.1", 0))
        pair(socket.AF_INET6, ("::1", 0))
        scoped = link_local_address()
        if scoped is None:
            skip_or_fail("this machine has no link-local IPv6 address", "TCPTABLE_REQUIRE_WINDOWS")
        pair(socket.AF_INET6, (scoped[0], 0, 0, scoped[1]))

        ours = tcptable_rows(ports)
        theirs = powershell_rows(ports)
        # PowerShell may or may not print "%N" after a link-local address:
        # compare without scopes, then each scope PowerShell did print.
        assert {unscoped(r) for r in ours} == {unscoped(r) for r in theirs}
        printed = {unscoped(r): r for r in theirs}
        for row in ours:
            seen = printed[unscoped(row)]
            assert seen[3] in (0, row[3]) and seen[6] in (0, row[6]), (row, seen)
        # 3 listeners, 3 established pairs (2 rows each).
        assert len(ours) == 9
        # The independent oracle for the scope id: the interface the test bound.
        local_scopes = {r[3] for r in ours if r[2] == scoped[0]}
        remote_scopes = {r[6] for r in ours if r[5] == scoped[0]}
        assert local_scopes == remote_scopes == {scoped[1]}
    finally:
        for s in sockets:
            s.close()
