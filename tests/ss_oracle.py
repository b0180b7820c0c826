"""The independent oracle: ``ss -tanH`` parsed into comparable row tuples."""

from __future__ import annotations

import subprocess

SS_STATES = {
    "UNCONN": "CLOSE",
    "LISTEN": "LISTEN",
    "SYN-SENT": "SYN_SENT",
    "SYN-RECV": "SYN_RECV",
    "ESTAB": "ESTABLISHED",
    "FIN-WAIT-1": "FIN_WAIT1",
    "FIN-WAIT-2": "FIN_WAIT2",
    "CLOSE-WAIT": "CLOSE_WAIT",
    "CLOSING": "CLOSING",
    "LAST-ACK": "LAST_ACK",
    "TIME-WAIT": "TIME_WAIT",
}


def _endpoint(text: str) -> tuple[str, int]:
    addr, port = text.rsplit(":", 1)
    addr = addr.split("%", 1)[0].strip("[]")  # scope ids are not compared here
    if addr == "*":
        addr = "::"
    return addr, 0 if port == "*" else int(port)


def ss_rows(family: str) -> list[tuple]:
    """Sorted (state name, local addr, local port, remote addr, remote port)
    for ``family`` "-4" or "-6"."""
    out = subprocess.run(["ss", "-tanH", family], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        state, _, _, local, remote = line.split()[:5]
        rows.append((SS_STATES[state], *_endpoint(local), *_endpoint(remote)))
    return sorted(rows)


def table_rows(rows) -> list[tuple]:
    """The same tuples from tcp6()/tcp4() rows (or their JSON lists)."""
    out = []
    for r in rows:
        if len(r) == 7:  # Tcp6Row: drop the scope ids
            state, la, _, lp, ra, _, rp = r
        else:
            state, la, lp, ra, rp = r
        name = state if isinstance(state, str) else state.name
        out.append((name, la, lp, ra, rp))
    return sorted(out)
