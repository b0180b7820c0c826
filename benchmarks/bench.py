"""How close tcptable comes to the kernel's limit: one command, run as root.

    python benchmarks/bench.py [--connections N] [--ipv4] [--rounds R] [--clock cpu|wall]
    python benchmarks/bench.py --scaling [--sizes 1000,3000,...] [--chart PNG]
    python benchmarks/bench.py --scenario udp|compat|unix [--connections N] [--ipv4]

Re-executes itself in a private network namespace (``unshare --net``), builds
N established connections there (2N rows), and times every contender
interleaved, round after round, in this one process; figures are medians.
The limit is the extension's own backend compiled without Python (bare_dump.c):
the same netlink dump decoded into the same C row array, no objects built.
The udp and unix scenarios build 2N UDP or UNIX sockets instead (as many rows),
and their limit dumps that table; compat builds both connections and UDP sockets.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib.util
import math
import os
import random
import resource
import runpy
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IN_NETNS = "TCPTABLE_BENCH_NETNS"
ALL_STATES = 0x1FFE  # bits 1..12: every TcpState, as tcptable.h spells TT_ALL_STATES


def reexec_in_netns() -> None:
    if os.environ.get(IN_NETNS) == "1":
        return
    if os.geteuid() != 0:
        sys.exit("bench.py needs root: it creates a network namespace and many sockets")
    if shutil.which("unshare") is None:
        sys.exit("bench.py needs unshare(1) from util-linux")
    os.environ[IN_NETNS] = "1"
    os.execvp("unshare", ["unshare", "--net", "--", sys.executable, *sys.argv])


def build_limits(tmp: str):
    """Compile bare_dump.c with the extension's own C backend (the manifest's
    linux-backend target: every source but the Python glue), with the compiler
    flags the extension is built with, so that the limit differs from tcptable
    only by what the glue does; and bare_fd_walk.c, the limit of an owner
    lookup.  Returns (bare dump, bare fd walk) callables."""
    ext = os.path.join(ROOT, "ext")
    manifest = runpy.run_path(os.path.join(ext, "manifest.py"))
    sources = [os.path.join(ext, s) for s in manifest["sources"]("linux-backend")]
    macros = [
        f"-D{name}" if value is None else f"-D{name}={value}"
        for name, value in manifest["macros"]("linux-backend")
    ]
    lib = os.path.join(tmp, "bare_dump.so")
    cflags = shlex.split(sysconfig.get_config_var("CFLAGS") or "-O2")
    subprocess.run(
        [
            "gcc",
            *cflags,
            "-std=c11",
            *macros,
            "-shared",
            "-fPIC",
            "-I",
            ext,
            "-o",
            lib,
            os.path.join(HERE, "bare_dump.c"),
            os.path.join(HERE, "bare_fd_walk.c"),
            *sources,
            *(f"-l{name}" for name in manifest["libraries"]("linux-backend")),
        ],
        check=True,
    )
    dll = ctypes.CDLL(lib)
    dll.bare_dump.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(ctypes.c_long),
    ]
    dll.bare_dump.restype = ctypes.c_long
    dll.bare_fd_walk.restype = ctypes.c_long

    def bare(family: int, states: int, protocol: int = socket.IPPROTO_TCP) -> int:
        """Rows of the table (protocol, family): 0 with AF_UNIX."""
        code = ctypes.c_long(0)
        n = dll.bare_dump(protocol, family, states, ctypes.byref(code))
        if n < 0:
            raise OSError(code.value, "bare_dump")
        return n

    def walk() -> int:
        n = dll.bare_fd_walk()
        if n < 0:
            raise OSError("bare_fd_walk: cannot open /proc")
        return n

    return bare, walk


def proc_parse(path: str) -> list[tuple]:
    """A plain Python parse of /proc/net/{tcp,udp}{,6}: (state, laddr, lport,
    raddr, rport)."""
    family = socket.AF_INET6 if path.endswith("6") else socket.AF_INET

    def addr(hexaddr: str) -> str:
        raw = bytes.fromhex(hexaddr)  # 32-bit words in host (little-endian) order
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        return socket.inet_ntop(family, raw)

    rows = []
    with open(path) as f:
        next(f)
        for line in f:
            fields = line.split()
            la, lp = fields[1].split(":")
            ra, rp = fields[2].split(":")
            rows.append((int(fields[3], 16), addr(la), int(lp, 16), addr(ra), int(rp, 16)))
    return rows


def ratio_goal(t, name: str, limit: str, most: float) -> tuple[str, str, bool]:
    """(goal, figure, met): `name` takes at most `most` times the limit."""
    return (f"{name} <= {most}x {limit}", f"{t[name] / t[limit]:.2f}x", t[name] <= most * t[limit])


def share_goal(t, name: str, whole: str, most: float) -> tuple[str, str, bool]:
    """(goal, figure, met): `name` takes at most `most` of `whole`'s time."""
    return (
        f"{name} <= {most:.0%} of {whole}",
        f"{t[name] / t[whole]:.0%}",
        t[name] <= most * t[whole],
    )


def faster_goal(t, name: str, other: str, least: float, label: str) -> tuple[str, str, bool]:
    """(goal, figure, met): `name` is at least `least` times faster than `other`."""
    return (
        f"{name} >= {least}x faster than {label}",
        f"{t[other] / t[name]:.1f}x",
        t[other] >= least * t[name],
    )


def table_scenario(bare, walk, family: int):
    """The table as it is polled: (contenders, goals(times)).  The first
    contender is the limit."""
    import psutil
    import tcptable
    from tcptable import TcpState

    v6 = family == socket.AF_INET6
    table, name = (tcptable.tcp6, "tcp6") if v6 else (tcptable.tcp4, "tcp4")
    proc = "/proc/net/tcp6" if v6 else "/proc/net/tcp"
    ss = ["ss", "-t6" if v6 else "-t4", "-anH"]
    listen = {TcpState.LISTEN}
    limit, plain, sort = "bare C dump (limit)", f"{name}()", f"{name}(sort=True)"
    only_listen = f"{name}(states={{LISTEN}})"
    psutil_, parse = f"psutil.net_connections('{name}')", f"Python parse of {proc}"
    calls = [
        (limit, lambda: bare(family, ALL_STATES)),
        (plain, table),
        (sort, lambda: table(sort=True)),
        (only_listen, lambda: table(states=listen)),
        ("counts()", lambda: tcptable.counts(family)),
        (psutil_, lambda: psutil.net_connections(name)),
        (parse, lambda: proc_parse(proc)),
        (" ".join(ss), lambda: subprocess.run(ss, stdout=subprocess.PIPE, check=True).stdout),
    ]

    def goals(t):
        return [
            ratio_goal(t, plain, limit, 1.3),
            ratio_goal(t, sort, limit, 1.7),
            ratio_goal(t, "counts()", limit, 1.15),
            (
                f"{only_listen} < 2% of {plain}",
                f"{100 * t[only_listen] / t[plain]:.2f}%",
                t[only_listen] < 0.02 * t[plain],
            ),
            faster_goal(t, plain, psutil_, 10, "psutil"),
            faster_goal(t, plain, parse, 3, "a Python parse"),
        ]

    return calls, goals


def owners_scenario(bare, walk, family: int):
    """Owners (pids=True): the limit is the bare dump plus a bare walk of
    every /proc/<pid>/fd link, what an exact owner lookup must read."""
    import psutil
    import tcptable

    v6 = family == socket.AF_INET6
    table, name = (tcptable.tcp6, "tcp6") if v6 else (tcptable.tcp4, "tcp4")
    ss = ["ss", "-t6" if v6 else "-t4", "-anpH"]
    limit, owners = "bare C dump + fd walk (limit)", f"{name}(pids=True)"
    psutil_, ss_name = f"psutil.net_connections('{name}')", " ".join(ss)
    calls = [
        (limit, lambda: (bare(family, ALL_STATES), walk())),
        (owners, lambda: table(pids=True)),
        (f"{name}()", table),
        ("bare C dump", lambda: bare(family, ALL_STATES)),
        ("bare C fd walk", walk),
        (psutil_, lambda: psutil.net_connections(name)),
        (ss_name, lambda: subprocess.run(ss, stdout=subprocess.PIPE, check=True).stdout),
    ]

    def goals(t):
        return [
            ratio_goal(t, owners, limit, 1.25),
            faster_goal(t, owners, ss_name, 2.5, "`ss -anp`"),
            faster_goal(t, owners, psutil_, 3, "psutil"),
        ]

    return calls, goals


def netns_scenario(bare, walk, family: int):
    """netns=: the same table read through a namespace path or fd, which adds
    opening the path, a helper thread and its setns(), against the plain call.
    The namespace is the benchmark's own, so both dump the same rows."""
    import tcptable

    v6 = family == socket.AF_INET6
    table, name = (tcptable.tcp6, "tcp6") if v6 else (tcptable.tcp4, "tcp4")
    path = "/proc/self/ns/net"
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # kept for the process's life
    plain, by_path, by_fd = f"{name}()", f"{name}(netns=path)", f"{name}(netns=fd)"
    calls = [
        ("bare C dump (limit)", lambda: bare(family, ALL_STATES)),
        (plain, table),
        (by_path, lambda: table(netns=path)),
        (by_fd, lambda: table(netns=fd)),
        ("counts()", lambda: tcptable.counts(family)),
        ("counts(netns=path)", lambda: tcptable.counts(family, netns=path)),
    ]

    def goals(t):
        return [
            ratio_goal(t, by_path, plain, 1.2),
            ratio_goal(t, by_fd, plain, 1.2),
            ratio_goal(t, "counts(netns=path)", "counts()", 1.2),
        ]

    return calls, goals


def ports_scenario(bare, walk, family: int):
    """One service's port among the table: a listener with 25 connections
    (about 50 rows on its port) beside the N connections, asked for by port,
    as an agent watching port 443 or 5432 asks."""
    import tcptable

    v6 = family == socket.AF_INET6
    table, name = (tcptable.tcp6, "tcp6") if v6 else (tcptable.tcp4, "tcp4")
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind(("::1" if v6 else "127.0.0.1", 0))
    listener.listen(64)
    held = [listener]
    for _ in range(25):
        held.append(socket.create_connection(listener.getsockname()[:2]))
        held.append(listener.accept()[0])
    port = listener.getsockname()[1]
    ports = {port}
    ss = ["ss", "-tanH", "-6" if v6 else "-4", f"sport = :{port}"]
    plain, filtered = f"{name}()", f"{name}(local_ports={{P}})"
    counted, by_port, ss_name = (
        "counts(local_ports={P})",
        'counts(by="local_port")',
        ("ss -tanH 'sport = :P'"),
    )
    calls = [
        ("bare C dump (limit)", lambda: bare(family, ALL_STATES)),
        (plain, table),
        (filtered, lambda held=held: table(local_ports=ports)),
        (counted, lambda: tcptable.counts(family, local_ports=ports)),
        ("counts()", lambda: tcptable.counts(family)),
        (by_port, lambda: tcptable.counts(family, by="local_port")),
        (ss_name, lambda: subprocess.run(ss, stdout=subprocess.PIPE, check=True).stdout),
    ]

    def goals(t):
        return [
            share_goal(t, filtered, plain, 0.4),
            share_goal(t, counted, plain, 0.4),
            faster_goal(t, filtered, ss_name, 1, "`ss` with the same filter"),
            faster_goal(t, counted, ss_name, 1, "`ss` with the same filter"),
            ratio_goal(t, by_port, "counts()", 1.1),
        ]

    return calls, goals


def watch_scenario(bare, walk, family: int):
    """Watcher.poll() as an agent polls: on the unchanged table, and with 1%
    of its rows changed since the previous poll (half closed, half new),
    changed by a child process (connections.Churn) whose work this process's
    CPU time does not count: with --clock wall, the 1% figure includes it."""
    import tcptable
    from connections import Churn

    v6 = family == socket.AF_INET6
    table, name = (tcptable.tcp6, "tcp6") if v6 else (tcptable.tcp4, "tcp4")
    pairs = max(1, len(table()) // 400)  # each pair: 2 rows closed, 2 opened
    churn = Churn(family, pairs)
    steady, churned = tcptable.Watcher(family), tcptable.Watcher(family)
    steady.poll()
    churn.open()
    churned.poll()  # its previous poll always saw one batch of the churn's
    churn.reset()
    unchanged, changed = "Watcher.poll(), unchanged", "Watcher.poll(), 1% changed"

    def poll_unchanged() -> None:
        if steady.poll() != ((), (), ()):
            raise RuntimeError("the table changed under the unchanged Watcher")

    def poll_changed() -> None:
        churn.open()
        seen = churned.poll()
        churn.reset()  # the table as every other contender sees it
        if (len(seen.opened), len(seen.closed), len(seen.changed)) != (2 * pairs, 2 * pairs, 0):
            raise RuntimeError(f"expected {2 * pairs} rows opened and closed, saw {seen!r:.200}")

    calls = [
        ("bare C dump (limit)", lambda: bare(family, ALL_STATES)),
        (f"{name}()", table),
        (unchanged, poll_unchanged),
        (changed, poll_changed),
    ]

    def goals(t):
        return [
            ratio_goal(t, unchanged, "bare C dump (limit)", 1.1),
            ratio_goal(t, changed, "bare C dump (limit)", 1.2),
        ]

    return calls, goals


def udp_scenario(bare, walk, family: int):
    """The UDP table as polled: 2N UDP sockets (--connections N), each bound
    to its own address, half of them connected.  The limit dumps UDP."""
    import psutil
    import tcptable

    v6 = family == socket.AF_INET6
    table, name = (tcptable.udp6, "udp6") if v6 else (tcptable.udp4, "udp4")
    proc = "/proc/net/udp6" if v6 else "/proc/net/udp"
    ss = ["ss", "-u6" if v6 else "-u4", "-anH"]
    limit, plain, sort = "bare C dump (limit)", f"{name}()", f"{name}(sort=True)"
    psutil_, parse = f"psutil.net_connections('{name}')", f"Python parse of {proc}"
    calls = [
        (limit, lambda: bare(family, ALL_STATES, socket.IPPROTO_UDP)),
        (plain, table),
        (sort, lambda: table(sort=True)),
        (psutil_, lambda: psutil.net_connections(name)),
        (parse, lambda: proc_parse(proc)),
        (" ".join(ss), lambda: subprocess.run(ss, stdout=subprocess.PIPE, check=True).stdout),
    ]

    def goals(t):
        return [
            ratio_goal(t, plain, limit, 1.3),
            faster_goal(t, plain, psutil_, 10, "psutil"),
        ]

    return calls, goals


def compat_scenario(bare, walk, family: int):
    """psutil's own question, answered by tcptable.compat: every TCP and UDP
    socket ("inet": tcp4, tcp6, udp4, udp6, with owners) among N connections
    (2N rows) and 2N UDP sockets.  The limit is the four bare dumps and one
    bare fd walk: the least an answer with owners must read."""
    import psutil
    import tcptable
    from tcptable.compat import net_connections

    tables = (tcptable.tcp4, tcptable.tcp6, tcptable.udp4, tcptable.udp6)
    dumps = [
        (f, p)
        for p in (socket.IPPROTO_TCP, socket.IPPROTO_UDP)
        for f in (socket.AF_INET, socket.AF_INET6)
    ]

    def bare_all() -> int:
        return sum(bare(f, ALL_STATES, p) for f, p in dumps)

    limit, compat = "bare C dumps + fd walk (limit)", "compat.net_connections('inet')"
    psutil_ = "psutil.net_connections('inet')"
    calls = [
        (limit, lambda: (bare_all(), walk())),
        (compat, lambda: net_connections("inet")),
        (psutil_, lambda: psutil.net_connections("inet")),
        ("the 4 tables, pids=True", lambda: [t(pids=True) for t in tables]),
        ("the 4 tables", lambda: [t() for t in tables]),
        ("bare C dumps", bare_all),
        ("bare C fd walk", walk),
    ]

    def goals(t):
        return [faster_goal(t, compat, psutil_, 3, "psutil")]

    return calls, goals


def unix_scenario(bare, walk, family: int):
    """The UNIX socket table as polled: 2N UNIX sockets (--connections N), a
    quarter bound to abstract names, the rest socketpairs.  The limit dumps
    AF_UNIX."""
    import psutil
    import tcptable

    limit = "bare C dump (limit)"
    psutil_, ss = "psutil.net_connections('unix')", ["ss", "-xaH"]
    calls = [
        (limit, lambda: bare(socket.AF_UNIX, ALL_STATES, 0)),
        ("unix()", tcptable.unix),
        ("unix(sort=True)", lambda: tcptable.unix(sort=True)),
        (psutil_, lambda: psutil.net_connections("unix")),
        (" ".join(ss), lambda: subprocess.run(ss, stdout=subprocess.PIPE, check=True).stdout),
    ]

    def goals(t):
        return [ratio_goal(t, "unix()", limit, 1.4)]

    return calls, goals


SCENARIOS = {
    "table": table_scenario,
    "owners": owners_scenario,
    "netns": netns_scenario,
    "ports": ports_scenario,
    "watch": watch_scenario,
    "udp": udp_scenario,
    "compat": compat_scenario,
    "unix": unix_scenario,
}
IDLE_PROCESSES, IDLE_FDS = 200, 20


def population(scenario: str, family: int, n: int, bare):
    """What `scenario` builds from --connections N, started now: (what was
    built, as text; its holders, each with close(); the table whose rows,
    retained memory and growth are checked; the bare dump of that table)."""
    import tcptable
    from connections import Connections, IdleProcesses, UdpSockets, UnixSockets

    v6 = family == socket.AF_INET6
    tcp, udp = (tcptable.tcp6, tcptable.udp6) if v6 else (tcptable.tcp4, tcptable.udp4)
    held = []
    try:
        if scenario == "udp":
            held.append(UdpSockets(family, 2 * n))
            return (
                f"{2 * n} UDP sockets",
                held,
                udp,
                lambda: bare(family, ALL_STATES, socket.IPPROTO_UDP),
            )
        if scenario == "unix":
            held.append(UnixSockets(2 * n))
            return (
                f"{2 * n} UNIX sockets",
                held,
                tcptable.unix,
                lambda: bare(socket.AF_UNIX, ALL_STATES, 0),
            )
        # Idle processes first: their pids are lower than the connections'
        # holders, so an owner lookup cannot finish before reading theirs.
        held.append(IdleProcesses(IDLE_PROCESSES if scenario == "owners" else 0, IDLE_FDS))
        held.append(Connections(family, n))
        if scenario == "compat":
            held.append(UdpSockets(family, 2 * n))
            return (
                f"{n} connections and {2 * n} UDP sockets",
                held,
                lambda: tcp() + udp(),  # the rows of both: one tuple keeps them alive
                lambda: bare(family, ALL_STATES) + bare(family, ALL_STATES, socket.IPPROTO_UDP),
            )
        return f"{n} connections", held, tcp, lambda: bare(family, ALL_STATES)
    except BaseException:
        for h in reversed(held):
            h.close()
        raise


def cpu_seconds() -> float:
    """CPU time of this process, every thread of it (the kernel's dump runs
    in its recvmsg() calls; a netns= call dumps on a helper thread), plus
    that of waited-for children (ss): unlike wall time, it does not count the
    time other processes on a busy machine hold the CPU."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


CLOCKS = {"cpu": cpu_seconds, "wall": time.perf_counter}


def time_interleaved(calls, rounds: int, clock) -> dict[str, float]:
    """Median seconds per contender.  Each round runs every contender once, in
    a fresh random order: a call after Python work finds the kernel's socket
    structures out of the CPU caches, a call after a dump finds them in, and
    no contender may always get one or the other.  A call's time includes
    freeing its result, as a poller pays it too."""
    samples = {name: [] for name, _ in calls}
    rng = random.Random(4)
    for r in range(rounds + 2):  # two warm-up rounds
        order = list(calls)
        rng.shuffle(order)
        for name, fn in order:
            start = clock()
            fn()
            elapsed = clock() - start
            if r >= 2:
                samples[name].append(elapsed)
    return {name: statistics.median(s) for name, s in samples.items()}


def retained_per_row(table) -> tuple[int, float]:
    """Rows, and bytes the result keeps alive per row: the tuple, its rows and
    every object they hold (shared strs and ints count once, enum members and
    small ints are not allocated per call)."""
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        rows = table()
        used = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return len(rows), used / max(len(rows), 1)


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def polling_growth(table, calls: int) -> tuple[int, int]:
    """(traced bytes, RSS KiB) gained over `calls` polls after a warm-up.  RSS is
    watched without tracemalloc, whose own tables grow with what it traces."""
    for _ in range(20):
        table()
    rss0 = rss_kib()
    for _ in range(calls):
        table()
    rss = rss_kib() - rss0
    tracemalloc.start()
    try:
        for _ in range(5):
            table()
        gc.collect()
        traced0 = tracemalloc.get_traced_memory()[0]
        for _ in range(calls):
            table()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - traced0, rss
    finally:
        tracemalloc.stop()


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return (
        f"Linux {os.uname().release}, {os.cpu_count()} cores, {model}, "
        f"Python {sys.version.split()[0]}"
    )


def report(times: dict[str, float], names: list[str]) -> None:
    """Prints the timing table; the first name is the limit."""
    limit = times[names[0]]
    print("| call | median | x limit |")
    print("| --- | ---: | ---: |")
    for name in names:
        print(f"| `{name}` | {times[name] * 1e3:.3f} ms | {times[name] / limit:.2f} |")


SCALING_SIZES = "1000,3000,10000,30000,100000"
SCALING_BUDGET = 30.0  # seconds of calls per size: psutil takes seconds per call at 100,000 rows
SCALING_LEAST_ROUNDS = 5
CHART = os.path.join(ROOT, "docs", "scaling.png")


def affordable_rounds(calls, most: int) -> int:
    """Rounds of `calls` that fit SCALING_BUDGET, judged by one untimed round:
    at least SCALING_LEAST_ROUNDS and at most `most`."""
    start = time.perf_counter()
    for _, fn in calls:
        fn()
    per_round = time.perf_counter() - start
    return min(most, max(SCALING_LEAST_ROUNDS, int(SCALING_BUDGET / per_round)))


def slope(rows: list[int], seconds: list[float]) -> float:
    """Log-log slope between the two largest tables: 1 is linear growth."""
    return math.log(seconds[-1] / seconds[-2]) / math.log(rows[-1] / rows[-2])


def draw_scaling(path: str, rows: list[int], series: dict[str, list[float]], title: str) -> None:
    """One log-log chart of milliseconds per call against rows.  The series'
    names go into the PNG's Description too, for readers without eyes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, NullFormatter

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    limit = next(iter(series))
    # Slowest first, so that the legend reads in the lines' order; the limit
    # dashed and on top, as lines that hug it would hide it.
    for name, seconds in sorted(series.items(), key=lambda item: -item[1][-1]):
        style = {"linestyle": "--", "zorder": 3} if name == limit else {}
        ax.loglog(rows, [s * 1e3 for s in seconds], marker="o", label=name, **style)
    plain = FuncFormatter(lambda value, _: f"{value:,g}")
    ax.set_xticks(rows, minor=False)  # the sizes measured, no others
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(plain)
    ax.yaxis.set_major_formatter(plain)
    ax.set_xlabel("rows in the table")
    ax.set_ylabel("time per call (ms)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # No Software entry: the file changes only when the figures do.
    fig.savefig(path, metadata={"Software": None, "Description": "\n".join(series)})
    plt.close(fig)


def report_scaling(rows: list[int], series: dict[str, list[float]]) -> None:
    """Prints milliseconds per call at each size; the first series is the limit."""
    limit = next(iter(series.values()))
    print(f"| call | {' | '.join(f'{r:,} rows' for r in rows)} | slope | x limit |")
    print(f"| --- |{' ---: |' * (len(rows) + 2)}")
    for name, seconds in series.items():
        cells = " | ".join(f"{s * 1e3:.3f} ms" for s in seconds)
        growth = f"{slope(rows, seconds):.2f}" if len(rows) > 1 else "-"
        print(f"| `{name}` | {cells} | {growth} | {seconds[-1] / limit[-1]:.2f} |")


def scaling(bare, family: int, args) -> int:
    """Time per call from the smallest table to the largest: one population,
    grown size by size (size/2 connections), each size timed as the table
    scenario times it, without its keyword variants (sort=, states=), which
    would only crowd the chart.  Prints the table, draws the chart."""
    if importlib.util.find_spec("matplotlib") is None:  # known before minutes of measuring
        sys.exit("--scaling needs matplotlib: pip install -r benchmarks/requirements.txt")
    import tcptable
    from connections import Connections

    table = tcptable.tcp6 if family == socket.AF_INET6 else tcptable.tcp4
    calls, _ = table_scenario(bare, None, family)
    calls = [(name, fn) for name, fn in calls if "=" not in name]
    held, built, rows, times = [], 0, [], []
    print(f"{machine()}; {args.clock} time")
    try:
        for size in args.sizes:
            start = time.monotonic()
            if size // 2 > built:
                held.append(Connections(family, size // 2 - built))
                built = size // 2
            rows.append(bare(family, ALL_STATES))
            rounds = affordable_rounds(calls, args.rounds)
            print(
                f"{built} connections (grown in {time.monotonic() - start:.1f} s); "
                f"{len(table())} rows in the table (bare dump: {rows[-1]}); {rounds} rounds"
            )
            times.append(time_interleaved(calls, rounds, CLOCKS[args.clock]))
    finally:
        for conns in held:
            conns.close()
    series = {name: [t[name] for t in times] for name, _ in calls}
    print()
    report_scaling(rows, series)
    if len(rows) > 1:
        print(
            f"\nslope: of the log-log line from {rows[-2]:,} to {rows[-1]:,} rows "
            f"(1 is linear); x limit: at {rows[-1]:,} rows"
        )
    draw_scaling(args.chart, rows, series, f"{machine()}; {args.clock} time, medians")
    print(f"chart: {args.chart}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--connections",
        "-n",
        type=int,
        default=10_000,
        help="established connections to build (2 rows each); default 10000; "
        "the udp and unix scenarios build 2N sockets instead, compat both",
    )
    parser.add_argument("--ipv4", action="store_true", help="measure tcp4() on 127.0.0.0/8")
    parser.add_argument(
        "--scaling",
        action="store_true",
        help="time per call against rows (--sizes), as a table and a log-log chart (--chart)",
    )
    parser.add_argument(
        "--sizes",
        type=lambda text: sorted(int(size) for size in text.split(",")),
        default=SCALING_SIZES,
        help=f"--scaling: rows in the table, comma-separated (default {SCALING_SIZES})",
    )
    parser.add_argument(
        "--chart",
        default=CHART,
        help="--scaling: where to write the PNG (default docs/scaling.png)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=31,
        help="timed rounds (default 31); --scaling: at most, and fewer (but at least "
        f"{SCALING_LEAST_ROUNDS}) where they would take over {SCALING_BUDGET:.0f} s",
    )
    parser.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="cpu",
        help="cpu (default): CPU time of this thread and of ss; wall: elapsed time",
    )
    parser.add_argument(
        "--polls",
        type=int,
        default=200,
        help="calls in the repeated-polling memory check (default 200)",
    )
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default="table",
        help="table (default): the table as polled; owners: pids=True among "
        f"{IDLE_PROCESSES} idle processes holding {IDLE_FDS} other descriptors each; "
        "netns: the table read through netns= (path or fd); ports: one service's port "
        "(local_ports=, counts(by=)); watch: Watcher.poll(), unchanged and with 1%% of rows "
        "changed; udp: udp6() (udp4() with --ipv4) among 2N UDP sockets; compat: "
        "tcptable.compat.net_connections('inet') among N connections and 2N UDP sockets; "
        "unix: unix() among 2N UNIX sockets",
    )
    args = parser.parse_args()
    reexec_in_netns()

    sys.path.insert(0, HERE)
    from connections import prepare_namespace

    family = socket.AF_INET if args.ipv4 else socket.AF_INET6
    os.environ.pop("TCPTABLE_BACKEND", None)  # both sides use netlink
    prepare_namespace()
    with tempfile.TemporaryDirectory() as tmp:
        bare, walk = build_limits(tmp)
        if args.scaling:
            return scaling(bare, family, args)
        start = time.monotonic()
        built, held, table, bare_table = population(args.scenario, family, args.connections, bare)
        try:
            load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
            print(f"{machine()}; {args.clock} time; load average {load}")
            print(
                f"{built} built in {time.monotonic() - start:.1f} s; "
                f"{len(table())} rows in the table (bare dump: {bare_table()})\n"
            )
            calls, scenario_goals = SCENARIOS[args.scenario](bare, walk, family)
            times = time_interleaved(calls, args.rounds, CLOCKS[args.clock])
            report(times, [name for name, _ in calls])
            goals = scenario_goals(times)
            rows, per_row = retained_per_row(table)
            goals.append(
                ("retained memory <= 260 bytes per row", f"{per_row:.0f} B", per_row <= 260)
            )
            traced, rss = polling_growth(table, args.polls)
            # Allowance: allocator noise, not a per-call leak (a 1-byte leak per
            # row would show as rows * polls bytes).
            goals.append(
                (
                    f"no growth over {args.polls} polls",
                    f"{traced} B traced, {rss} KiB RSS",
                    traced < 64 * 1024 and rss < 1024,
                )
            )
        finally:
            # Last built first: later children inherited the descriptors of
            # earlier ones (IdleProcesses' children wait for EOF on a pipe
            # whose write end the connections' children hold too).
            for h in reversed(held):
                h.close()
    print(
        f"\nretained by one result: {per_row:.0f} bytes per row ({rows} rows); "
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} KiB"
        f"\n\n| goal | measured | met |\n| --- | ---: | :---: |"
    )
    for goal, figure, met in goals:
        print(f"| {goal} | {figure} | {'yes' if met else 'NO'} |")
    return 0 if all(met for _, _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
