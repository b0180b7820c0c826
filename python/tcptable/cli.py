"""``python -m tcptable``: this machine's TCP table, like ``netstat -tn`` / ``ss -tan``."""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import socket
import sys

from . import counts, tcp4, tcp6
from .format import row_dict, table_text
from .state import TcpState


def _state(name: str) -> TcpState:
    """A state by name (any case) or by its MIB number."""
    try:
        return TcpState(int(name)) if name.isdigit() else TcpState[name.upper()]
    except (KeyError, ValueError):
        choices = ", ".join(f"{s.name} ({s.value})" for s in TcpState)
        raise argparse.ArgumentTypeError(
            f"unknown state {name!r} (choose from {choices})"
        ) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tcptable", description=__doc__)
    family = p.add_mutually_exclusive_group()
    family.add_argument(
        "-4", dest="family", action="store_const", const=socket.AF_INET, help="IPv4 only"
    )
    family.add_argument(
        "-6", dest="family", action="store_const", const=socket.AF_INET6, help="IPv6 only"
    )
    p.add_argument(
        "-l",
        "--listening",
        action="store_true",
        help="listening sockets (adds LISTEN to any --state)",
    )
    p.add_argument(
        "--state",
        type=_state,
        action="append",
        metavar="STATE",
        help="keep only this state, by name or number (repeatable), e.g. ESTABLISHED or 5",
    )
    p.add_argument("--sort", action="store_true", help="order rows as the Windows API does")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per row per line")
    out.add_argument("--count", action="store_true", help="rows per state")
    return p


def _states(args: argparse.Namespace) -> set[TcpState] | None:
    chosen = set(args.state or ())
    if args.listening:
        chosen.add(TcpState.LISTEN)
    return chosen or None


def _run(args: argparse.Namespace) -> str:
    states = _states(args)
    if args.count:
        per_state = counts(args.family, states=states)
        width = max(len(s.name) for s in per_state) if per_state else 0
        return "".join(f"{s.name.ljust(width)}  {n}\n" for s, n in per_state.items())
    rows: list = []
    if args.family in (None, socket.AF_INET):
        rows.extend(tcp4(states=states, sort=args.sort))
    if args.family in (None, socket.AF_INET6):
        rows.extend(tcp6(states=states, sort=args.sort))
    if args.json:
        return "".join(json.dumps(row_dict(row)) + "\n" for row in rows)
    return table_text(rows)


def write_all(fd: int, data: bytes) -> None:
    """Writes every byte: a pipe takes part of a write at a time, and a
    non-blocking one none at all until its reader catches up."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


def _output_failed(exc: OSError) -> int:
    """The exit status (and the one line on stderr) for a failed write."""
    if exc.errno == errno.EPIPE:
        # The reader left early (tcptable | head): end quietly, and keep
        # Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    print(f"tcptable: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # exits 2 on bad options
    if sys.stdout is None:  # started with stdout closed (tcptable >&-)
        print("tcptable: cannot write the output: standard output is closed", file=sys.stderr)
        return 1
    try:
        text = _run(args)
    except OSError as exc:
        print(f"tcptable: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a bad TCPTABLE_BACKEND: a usage error, like a bad option
        print(f"tcptable: {exc}", file=sys.stderr)
        return 2
    try:
        sys.stdout.flush()
        write_all(sys.stdout.fileno(), text.encode())
    except OSError as exc:
        return _output_failed(exc)
    return 0
