"""``python -m tcptable``: this machine's TCP table, like ``netstat -tn`` / ``ss -tan``."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys

from . import counts, tcp4, tcp6
from .format import row_dict, table_text
from .state import TcpState


def _state(name: str) -> TcpState:
    try:
        return TcpState[name.upper()]
    except KeyError:
        choices = ", ".join(s.name for s in TcpState)
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
        metavar="NAME",
        help="keep only this state (repeatable), e.g. ESTABLISHED",
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


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # exits 2 on bad options
    try:
        text = _run(args)
    except OSError as exc:
        print(f"tcptable: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a bad TCPTABLE_BACKEND: a usage error, like a bad option
        print(f"tcptable: {exc}", file=sys.stderr)
        return 2
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left early (tcptable | head): end quietly, without the
        # traceback Python would print when flushing stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0
