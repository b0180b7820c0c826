"""Many established connections, UDP sockets or UNIX sockets, held open by
child processes.

Each child owns one listener and up to PER_CHILD client/server pairs (two
descriptors each), or up to 2 * PER_CHILD UDP or UNIX sockets, so no process
needs an open-files limit above a few thousand.  Client ends (and UDP
sockets) bind distinct addresses: 2001:db8::/64 is an AnyIP route on ``lo``
(any address in it is local) and 127.0.0.0/8 is local anyway.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import struct
import subprocess

PER_CHILD = 2500
ACCEPT_BATCH = 500  # below any accept-queue limit
SERVER = {socket.AF_INET6: "2001:db8::1", socket.AF_INET: "127.0.0.1"}


def prepare_namespace() -> None:
    """lo up, the AnyIP route for 2001:db8::/64, and binding to its addresses."""
    for cmd in (
        ["ip", "link", "set", "lo", "up"],
        ["ip", "-6", "route", "add", "local", "2001:db8::/64", "dev", "lo"],
        ["sysctl", "-q", "-w", "net.ipv6.ip_nonlocal_bind=1"],
    ):
        subprocess.run(cmd, check=True)


def client_addr(family: int, i: int) -> str:
    """The i-th client address (i >= 0), never the server's."""
    if family == socket.AF_INET6:
        return f"2001:db8::{i >> 16 | 0x100:x}:{i & 0xFFFF:x}"
    i += 1 << 16  # 127.1.0.0 upwards
    return f"127.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"


def _raise_fd_limit(need: int) -> None:
    import resource  # POSIX only: keeps this module importable everywhere

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, max(hard, need)))


def _hold(family: int, first: int, count: int, conn) -> None:
    """Child: build `count` connections, report, then hold them until told."""
    try:
        _raise_fd_limit(2 * count + 64)
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.bind((SERVER[family], 0))
        listener.listen(ACCEPT_BATCH)
        held = [listener]
        for start in range(first, first + count, ACCEPT_BATCH):
            batch = range(start, min(start + ACCEPT_BATCH, first + count))
            for i in batch:
                client = socket.socket(family, socket.SOCK_STREAM)
                client.bind((client_addr(family, i), 0))
                client.connect(listener.getsockname())
                held.append(client)
            for _ in batch:
                held.append(listener.accept()[0])
        conn.send("ready")
    except Exception as e:  # reported to the parent, which stops
        conn.send(f"child failed: {e!r}")
        return
    conn.recv()  # "stop", or EOF when the parent dies


def _hold_udp(family: int, first: int, count: int, conn) -> None:
    """Child: `count` UDP sockets, each bound to its own address; every
    second one connected (to the server address), so that half the rows
    have a peer.  Reports, then holds them until told."""
    try:
        _raise_fd_limit(count + 64)
        held = []
        for i in range(first, first + count):
            s = socket.socket(family, socket.SOCK_DGRAM)
            s.bind((client_addr(family, i), 0))
            if i % 2:
                s.connect((SERVER[family], 53))
            held.append(s)
        conn.send("ready")
    except Exception as e:
        conn.send(f"child failed: {e!r}")
        return
    conn.recv()


def _hold_unix(first: int, count: int, conn) -> None:
    """Child: `count` UNIX sockets: a quarter (and one more for an odd rest)
    datagram sockets bound to abstract names, the others stream socketpairs
    (unnamed, each end the other's peer).  Reports, then holds them."""
    try:
        _raise_fd_limit(count + 64)
        named = count // 4 + (count - count // 4) % 2
        held = []
        for i in range(first, first + named):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(f"\0tcptable-bench-{os.getpid()}-{i}")
            held.append(s)
        for _ in range((count - named) // 2):
            held.extend(socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
        conn.send("ready")
    except Exception as e:
        conn.send(f"child failed: {e!r}")
        return
    conn.recv()


class _Held:
    """Child processes that each build part of `n` sockets with `target(*args,
    first, count, conn)`, `per_child` at most, and hold them until close().
    Each child's control pipe is a socketpair: 2 more UNIX sockets each."""

    def __init__(self, target, args: tuple, n: int, per_child: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.children = []
        for first in range(0, n, per_child):
            parent_end, child_end = ctx.Pipe()
            proc = ctx.Process(
                target=target, args=(*args, first, min(per_child, n - first), child_end)
            )
            proc.start()
            child_end.close()
            self.children.append((proc, parent_end))
        for _, conn in self.children:
            status = conn.recv()
            if status != "ready":
                self.close()
                raise RuntimeError(status)

    def close(self) -> None:
        for proc, conn in self.children:
            try:
                conn.send("stop")
            except OSError:
                pass
            proc.join(10)
            if proc.exitcode is None:
                proc.kill()
                proc.join()
        self.children.clear()


class Connections(_Held):
    """`n` ESTABLISHED connections of `family` (2n rows plus one LISTEN row per child)."""

    def __init__(self, family: int, n: int) -> None:
        super().__init__(_hold, (family,), n, PER_CHILD)


class UdpSockets(_Held):
    """`n` UDP sockets of `family` (n rows), half of them connected."""

    def __init__(self, family: int, n: int) -> None:
        super().__init__(_hold_udp, (family,), n, 2 * PER_CHILD)


class UnixSockets(_Held):
    """`n` UNIX sockets (n rows, plus the 2 of each child's control pipe)."""

    def __init__(self, n: int) -> None:
        super().__init__(_hold_unix, (), n, 2 * PER_CHILD)


class IdleProcesses:
    """`count` processes that hold `fds` descriptors each, none a socket (a
    pipe's two ends over and over), and wait until close()."""

    def __init__(self, count: int, fds: int) -> None:
        self.pids: list[int] = []
        wait_r, self._stop = os.pipe()
        for _ in range(count):
            pid = os.fork()
            if pid == 0:  # the child: hold the pipes, wait for EOF
                os.close(self._stop)
                held = [os.pipe() for _ in range(fds // 2)]
                os.read(wait_r, 1)
                del held
                os._exit(0)
            self.pids.append(pid)
        os.close(wait_r)

    def close(self) -> None:
        os.close(self._stop)
        for pid in self.pids:
            os.waitpid(pid, 0)
        self.pids.clear()


def _churn(family: int, pairs: int, conn) -> None:
    """Child: on "open", `pairs` new connections; on "reset", their end (RST:
    no TIME_WAIT is left); "done" after each, until EOF."""
    rst = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind((SERVER[family], 0))
    listener.listen(pairs)
    held: list[socket.socket] = []
    conn.send("done")  # its LISTEN row is in the table from now on
    try:
        while True:
            if conn.recv() == "open":
                for _ in range(pairs):
                    held.append(socket.create_connection(listener.getsockname()[:2]))
                    held.append(listener.accept()[0])
            else:
                for s in held:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, rst)
                    s.close()
                held.clear()
            conn.send("done")
    except EOFError:
        pass


class Churn:
    """A child process that opens and resets `pairs` connections on request:
    the work of changing the table is its own, so this process's CPU time
    does not count it (the parent waits, blocked, for its answer)."""

    def __init__(self, family: int, pairs: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self._conn, child_end = ctx.Pipe()
        # A daemon: ended at exit, as the scenario that made it has no end.
        self._proc = ctx.Process(target=_churn, args=(family, pairs, child_end), daemon=True)
        self._proc.start()
        child_end.close()
        if self._conn.recv() != "done":
            raise RuntimeError("churn child failed to listen")

    def _ask(self, what: str) -> None:
        self._conn.send(what)
        if self._conn.recv() != "done":
            raise RuntimeError(f"churn child failed to {what}")

    def open(self) -> None:
        self._ask("open")

    def reset(self) -> None:
        self._ask("reset")

    def close(self) -> None:
        self._conn.close()
        self._proc.join(10)
