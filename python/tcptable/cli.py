"""``python -m tcptable``: this machine's TCP table, like ``netstat -tn`` / ``ss -tan``
(``-u``: its UDP sockets, like ``netstat -un``; ``-x``: its UNIX sockets, like ``ss -xa``)."""

from __future__ import annotations

import argparse
import errno
import json
import os
import select
import socket
import sys

from . import (
    __version__,
    counts,
    namespaces,
    stats,
    tcp4,
    tcp6,
    udp4,
    udp6,
    udp_stats,
    unix,
    watch,
)
from .format import columns_text, row_dict, table_text
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
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    family = p.add_mutually_exclusive_group()
    family.add_argument(
        "-4", dest="family", action="store_const", const=socket.AF_INET, help="IPv4 only"
    )
    family.add_argument(
        "-6", dest="family", action="store_const", const=socket.AF_INET6, help="IPv6 only"
    )
    p.add_argument("-t", "--tcp", action="store_true", help="TCP connections (the default)")
    p.add_argument(
        "-u",
        "--udp",
        action="store_true",
        help="UDP sockets (Linux); with -t, both; with --stats, the UDP counters",
    )
    p.add_argument(
        "-x",
        "--unix",
        action="store_true",
        help="UNIX sockets (Linux); with -t or -u, those too",
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
    p.add_argument(
        "--local-port",
        type=_port,
        action="append",
        metavar="N",
        help="keep only rows with this local port (repeatable)",
    )
    p.add_argument(
        "--remote-port",
        type=_port,
        action="append",
        metavar="N",
        help="keep only rows with this remote port (repeatable)",
    )
    p.add_argument(
        "--by",
        choices=("local_port", "remote_port"),
        help="with --count: rows per port and state",
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--netns",
        type=_netns_path,
        metavar="NAME|PATH",
        help="another network namespace's table: a name in /run/netns or a path "
        "such as /proc/PID/ns/net (Linux)",
    )
    where.add_argument(
        "--all-namespaces",
        action="store_true",
        help="the table of every network namespace, each row naming its own (Linux)",
    )
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object per row per line")
    out.add_argument("--count", action="store_true", help="rows per state")
    out.add_argument(
        "--stats", action="store_true", help="the TCP counters (opens, resets, segments, ...)"
    )
    out.add_argument(
        "--list-namespaces",
        action="store_true",
        help="every network namespace: inode, a path that opens it, its pids (Linux)",
    )
    out.add_argument(
        "--serve",
        metavar="[HOST:]PORT",
        help="serve Prometheus metrics at http://HOST:PORT/metrics (HOST 127.0.0.1 unless "
        "given; [::1]:9100 for IPv6); takes -4, -6, -t, -u, --netns and --port-metrics",
    )
    p.add_argument(
        "--port-metrics",
        type=lambda text: tuple(map(_port, text.split(","))),
        metavar="PORT,...",
        help="with --serve: connections per state of these local ports, e.g. 443,5432",
    )
    p.add_argument(
        "--watch",
        type=_interval,
        nargs="?",
        const=1.0,
        metavar="SECONDS",
        help="poll every SECONDS (default 1) and print one line per change: + opened, "
        "- closed, ~ state changed; until Ctrl-C (exit status 0)",
    )
    return p


def _interval(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds above 0")
    return seconds


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (0 to 65535)")
    return int(text)


def _states(args: argparse.Namespace) -> set[TcpState] | None:
    chosen = set(args.state or ())
    if args.listening:
        chosen.add(TcpState.LISTEN)
    return chosen or None


def _netns_path(value: str) -> str:
    """A /run/netns name, or a path as given."""
    return value if "/" in value else f"/run/netns/{value}"


def _targets(args: argparse.Namespace) -> list[tuple[str | None, int | None]]:
    """The namespaces to read, as (path, inode): (None, None) is the caller's;
    the inode is known (and shown) with --all-namespaces only."""
    if args.all_namespaces:
        return [(ns.path, ns.inode) for ns in namespaces()]
    return [(args.netns, None)]


def _filters(args: argparse.Namespace) -> dict:
    """The filters every table takes; --state and -l are refused with -u."""
    return {
        "states": _states(args),
        "local_ports": args.local_port,
        "remote_ports": args.remote_port,
    }


# Windows' socket module has no AF_UNIX (unix() raises there); Linux's is 1.
AF_UNIX = getattr(socket, "AF_UNIX", 1)
# Each (protocol, family) table, in the order the text shows them; UNIX
# sockets have protocol 0, as the C query does.
TABLES = {
    (socket.IPPROTO_TCP, socket.AF_INET): tcp4,
    (socket.IPPROTO_TCP, socket.AF_INET6): tcp6,
    (socket.IPPROTO_UDP, socket.AF_INET): udp4,
    (socket.IPPROTO_UDP, socket.AF_INET6): udp6,
    (0, AF_UNIX): unix,
}


def _tables(args: argparse.Namespace) -> list[tuple[int, int]]:
    """The (protocol, family) tables -t, -u, -x, -4 and -6 ask for (TCP if
    none of -t, -u, -x; -4 and -6 come without -x)."""
    protocols = {socket.IPPROTO_TCP} if args.tcp or not (args.udp or args.unix) else set()
    if args.udp:
        protocols.add(socket.IPPROTO_UDP)
    if args.unix:
        protocols.add(0)
    return [(p, f) for p, f in TABLES if p in protocols and args.family in (None, f)]


def _read(args: argparse.Namespace, netns: str | None) -> list:
    rows: list = []
    for protocol, family in _tables(args):
        filters = _filters(args)
        if protocol == socket.IPPROTO_UDP:
            del filters["states"]  # None: refused with -u when given
        if protocol == 0:
            del filters["local_ports"], filters["remote_ports"]  # refused with -x
        rows.extend(TABLES[protocol, family](sort=args.sort, netns=netns, **filters))
    return rows


def _count_lines(args: argparse.Namespace, netns: str | None, prefix: tuple) -> list[str]:
    """--count: rows per state, or with --by a table of ports by states."""
    if args.by is None:
        per_state = counts(args.family, netns=netns, **_filters(args))
        return columns_text([(*prefix, s.name, str(n)) for s, n in per_state.items()])
    per_port = counts(args.family, by=args.by, netns=netns, **_filters(args))
    chosen = [s for s in TcpState if s in (_states(args) or TcpState)]
    header = ("Netns",) * len(prefix) + ("Port", *(s.name for s in chosen))
    body = [
        (*prefix, str(port), *(str(per_state.get(s, 0)) for s in chosen))
        for port, per_state in per_port.items()
    ]
    return columns_text([header, *body])


def _stats_lines(args: argparse.Namespace, netns: str | None, prefix: tuple) -> list[str]:
    family = socket.AF_INET if args.family == socket.AF_INET else socket.AF_INET6
    counters = (udp_stats if args.udp else stats)(family, netns=netns)
    return columns_text(
        [
            (*prefix, name, "-" if value is None else str(value))
            for name, value in zip(type(counters).__match_args__, counters, strict=True)
        ]
    )


def _gone(exc: OSError) -> bool:
    """A namespace listed a moment ago whose last process has exited."""
    return isinstance(exc, (FileNotFoundError, ProcessLookupError))


def _run(args: argparse.Namespace) -> str:
    if args.list_namespaces:
        return "".join(
            f"{ns.inode}  {ns.path}  {' '.join(map(str, ns.pids)) or '-'}\n" for ns in namespaces()
        )
    shown = args.all_namespaces
    out: list[str] = []
    labels: list[str] = []
    rows: list = []
    for netns, inode in _targets(args):
        prefix = (netns,) if shown else ()
        try:
            if args.count:
                out += _count_lines(args, netns, prefix)
            elif args.stats:
                out += _stats_lines(args, netns, prefix)
            else:
                found = _read(args, netns)
        except OSError as exc:
            if shown and _gone(exc):
                continue  # gone between the listing and the read
            raise
        if args.count or args.stats:
            continue
        if args.json:
            # The inode names the namespace for good; a /proc/PID path only
            # while that process lives.
            extra = {"netns": netns, "netns_inode": inode} if shown else {}
            out += [json.dumps({**row_dict(row), **extra}) + "\n" for row in found]
        else:
            rows += found
            labels += [netns] * len(found)
    if args.count or args.stats or args.json:
        return "".join(out)
    return table_text(rows, labels if shown else None)


def write_all(fd: int, data: bytes) -> None:
    """Writes every byte: a pipe takes part of a write at a time, and a
    non-blocking one none at all until its reader catches up."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            select.select([], [fd], [])


def _reader_left(exc: OSError) -> bool:
    """Whether a failed write means the reader closed its end.  Windows
    reports that as EINVAL (ERROR_NO_DATA) where POSIX says EPIPE."""
    return exc.errno == errno.EPIPE or (sys.platform == "win32" and exc.errno == errno.EINVAL)


def _output_failed(exc: OSError) -> int:
    """The exit status (and the one line on stderr) for a failed write."""
    if _reader_left(exc):
        # The reader left early (tcptable | head): end quietly, and keep
        # Python from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    print(f"tcptable: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
    return 1


def _serve(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    allowed = {"serve", "port_metrics", "family", "netns", "tcp", "udp"}
    for name, value in vars(args).items():
        if name not in allowed and value != parser.get_default(name):
            parser.error(
                "--serve takes only -4, -6, -t, -u, --netns and --port-metrics, not --"
                + name.replace("_", "-")
            )
    try:
        from .prometheus import TcpCollector  # first: its ImportError names the extra
        from .serve import serve
    except ImportError as exc:  # the optional extra is not installed
        print(f"tcptable: {exc}", file=sys.stderr)
        return 2
    names = {socket.IPPROTO_TCP: "tcp", socket.IPPROTO_UDP: "udp"}
    families = {socket.AF_INET: "4", socket.AF_INET6: "6"}
    collector = TcpCollector(
        families=[names[p] + families[f] for p, f in _tables(args)],
        ports=args.port_metrics or (),
        netns=args.netns,
    )
    return serve(args.serve, collector)


def _failed(exc: Exception) -> int:
    """The exit status (and the one line on stderr) for a failed read."""
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename is not None else ""
        print(f"tcptable: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    # A bad TCPTABLE_BACKEND or --netns, namespaces off Linux: usage errors.
    print(f"tcptable: {exc}", file=sys.stderr)
    return 2


def _watch(args: argparse.Namespace) -> int:
    """--watch: each round's events as soon as they are seen, until SIGINT,
    the way a watch is meant to end (status 0, no traceback)."""
    events = watch.lines(
        _tables(args),
        _filters(args),
        netns=args.netns,
        all_namespaces=args.all_namespaces,
        interval=args.watch,
        as_json=args.json,
    )
    try:
        while True:
            try:
                text = next(events)
            except (OSError, ValueError, NotImplementedError) as exc:
                return _failed(exc)
            try:
                write_all(sys.stdout.fileno(), text.encode())
            except OSError as exc:
                return _output_failed(exc)
    except KeyboardInterrupt:
        return 0


def _check_unix(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """-x reads rows (text or --json), of a namespace or all of them."""
    if args.family is not None:
        parser.error("-4 and -6 choose IP families: not with -x")
    if args.local_port or args.remote_port:
        parser.error("a UNIX socket has no ports: no --local-port or --remote-port with -x")
    for name in ("count", "stats", "watch"):
        if getattr(args, name) not in (None, False):
            parser.error(f"-x lists UNIX sockets: not with --{name}")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)  # exits 2 on bad options
    if args.by and not args.count:
        parser.error("--by needs --count")
    if args.port_metrics and args.serve is None:
        parser.error("--port-metrics needs --serve")
    if args.port_metrics and args.udp and not args.tcp:
        parser.error("--port-metrics counts TCP connections: add -t to -u")
    if args.serve is not None:
        return _serve(parser, args)
    if args.udp and (args.state or args.listening):
        parser.error("a UDP socket has no TCP state: no --state or -l with -u")
    if args.udp and args.count:
        parser.error("--count counts TCP states: not with -u")
    if args.udp and args.tcp and args.stats:
        parser.error("--stats prints one protocol's counters: -t or -u, not both")
    if args.unix:
        _check_unix(parser, args)
    if args.watch is not None and (args.count or args.stats or args.list_namespaces or args.sort):
        parser.error(
            "--watch prints rows as they change: no --count, --stats, --list-namespaces or --sort"
        )
    if sys.stdout is None:  # started with stdout closed (tcptable >&-)
        print("tcptable: cannot write the output: standard output is closed", file=sys.stderr)
        return 1
    if args.watch is not None:
        return _watch(args)
    try:
        text = _run(args)
    except (OSError, ValueError, NotImplementedError) as exc:
        return _failed(exc)
    try:
        sys.stdout.flush()
        write_all(sys.stdout.fileno(), text.encode())
    except OSError as exc:
        return _output_failed(exc)
    return 0
