"""A known population of TCP sockets, one or more in each state Linux can show.

Built inside a private network namespace (see netns.py).  Every socket stays
open until ``close()``, so states hold while the test looks at the table.
Each builder records the rows it expects in ``expected``, taken from the
sockets' own getsockname()/getpeername().
"""

from __future__ import annotations

import collections
import errno
import socket
import time

from netns import LINUX, ip
from oracles import Row, proc_rows, psutil_rows, socket_row, without_scopes

VETH_A, VETH_B = "ttveth0", "ttveth1"
LL_A, LL_B = "fe80::1", "fe80::2"


def wait_for(predicate, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


class Population:
    """Sockets by the state they are expected to show, for both families."""

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        self.expected: collections.Counter[Row] = collections.Counter()

    def _sock(self, family: int) -> socket.socket:
        s = socket.socket(family, socket.SOCK_STREAM)
        self.sockets.append(s)
        return s

    def _expect(self, family: int, state: str, local: tuple, remote: tuple | None) -> None:
        self.expected[socket_row(family, state, local, remote)] += 1

    def _expect_pair(
        self, client: socket.socket, server: socket.socket, client_state: str, server_state: str
    ) -> None:
        self._expect(client.family, client_state, client.getsockname(), client.getpeername())
        self._expect(server.family, server_state, server.getsockname(), server.getpeername())

    def listener(
        self, family: int, addr: str, backlog: int = 16, v6only: bool = True, scope_id: int = 0
    ) -> socket.socket:
        s = self._sock(family)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
            s.bind((addr, 0, 0, scope_id))
        else:
            s.bind((addr, 0))
        s.listen(backlog)
        self._expect(family, "LISTEN", s.getsockname(), None)
        return s

    def _pair(
        self, listener: socket.socket, client_family: int | None = None, addr: tuple | None = None
    ) -> tuple[socket.socket, socket.socket]:
        client = self._sock(client_family or listener.family)
        client.connect(addr or listener.getsockname())
        server, _ = listener.accept()
        self.sockets.append(server)
        return client, server

    def connect(
        self, listener: socket.socket, client_family: int | None = None, addr: tuple | None = None
    ) -> tuple[socket.socket, socket.socket]:
        """An ESTABLISHED pair: (client, accepted server side)."""
        client, server = self._pair(listener, client_family, addr)
        self._expect_pair(client, server, "ESTABLISHED", "ESTABLISHED")
        return client, server

    def half_closed(self, listener: socket.socket) -> tuple[socket.socket, socket.socket]:
        """client in FIN_WAIT2, server side in CLOSE_WAIT."""
        client, server = self._pair(listener)
        client.shutdown(socket.SHUT_WR)
        wait_for(lambda: server.recv(1) == b"", "the FIN to arrive")
        self._expect_pair(client, server, "FIN_WAIT2", "CLOSE_WAIT")
        return client, server

    def orphan_fin_wait2(self, listener: socket.socket) -> None:
        """A client closed in FIN_WAIT2: Linux keeps it as a TIME_WAIT
        mini-socket that reports FIN_WAIT2; the server side stays CLOSE_WAIT."""
        client, server = self._pair(listener)
        client.shutdown(socket.SHUT_WR)
        wait_for(lambda: server.recv(1) == b"", "the FIN to arrive")
        self._expect_pair(client, server, "FIN_WAIT2", "CLOSE_WAIT")
        client.close()

    def time_wait(self, listener: socket.socket) -> tuple:
        """Client closes first and ends in TIME_WAIT; returns its local address."""
        client, server = self._pair(listener)
        name = client.getsockname()
        self._expect(client.family, "TIME_WAIT", name, client.getpeername())
        client.close()
        wait_for(lambda: server.recv(1) == b"", "the FIN to arrive")
        server.close()
        return name

    def syn_sent(self, family: int, addr: str, count: int = 3) -> tuple[socket.socket, list]:
        """A listener whose accept queue is full: later clients stay in SYN_SENT.

        Returns the listener and the SYN_SENT clients' local addresses."""
        listener = self.listener(family, addr, backlog=0)
        queued = self._sock(family)
        queued.connect(listener.getsockname())  # fills the queue (backlog 0 = 1)
        # The queued connection's server side waits, unaccepted, in the queue.
        self._expect(family, "ESTABLISHED", queued.getsockname(), queued.getpeername())
        self._expect(family, "ESTABLISHED", queued.getpeername(), queued.getsockname())
        pending = []
        for _ in range(count):
            c = self._sock(family)
            c.setblocking(False)
            err = c.connect_ex(listener.getsockname())
            assert err in (errno.EINPROGRESS, 0), err
            pending.append(c.getsockname())
            self._expect(family, "SYN_SENT", c.getsockname(), listener.getsockname())
        return listener, pending

    def syn_recv(self, family: int, addr: str) -> None:
        """A server side held in SYN_RECV: with TCP_DEFER_ACCEPT the listener
        ignores the bare final ACK, so the request socket waits for data."""
        listener = self.listener(family, addr)
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 30)
        client = self._sock(family)
        client.connect(listener.getsockname())
        self._expect(family, "ESTABLISHED", client.getsockname(), client.getpeername())
        self._expect(family, "SYN_RECV", client.getpeername(), client.getsockname())

    def small_pair(self, family: int, addr: str) -> tuple[socket.socket, socket.socket]:
        """A connected pair with tiny buffers, so that a few KiB fill a window."""
        listener = self._sock(family)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind((addr, 0))
        listener.listen(1)
        client = self._sock(family)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
        self.sockets.append(server)
        listener.close()
        return client, server

    @staticmethod
    def stuff(sender: socket.socket) -> None:
        """Fill the send buffer of a peer that never reads: what is sent after
        this (a FIN) waits behind data the zero window holds back."""
        sender.setblocking(False)
        try:
            while True:
                sender.send(b"x" * 65536)
        except BlockingIOError:
            pass

    def fin_wait1(self, family: int, addr: str) -> None:
        client, server = self.small_pair(family, addr)
        self.stuff(client)
        client.shutdown(socket.SHUT_WR)
        self._expect_pair(client, server, "FIN_WAIT1", "ESTABLISHED")

    def last_ack(self, family: int, addr: str) -> None:
        client, server = self.small_pair(family, addr)
        client.shutdown(socket.SHUT_WR)
        wait_for(lambda: server.recv(1) == b"", "the FIN to arrive")
        self.stuff(server)
        server.shutdown(socket.SHUT_WR)
        self._expect_pair(client, server, "FIN_WAIT2", "LAST_ACK")

    def closing(self, family: int, addr: str) -> None:
        """Both ends close at once; one end's FIN is held back: CLOSING there,
        FIN_WAIT2 at the other end, whose FIN was acknowledged."""
        client, server = self.small_pair(family, addr)
        self.stuff(client)
        client.shutdown(socket.SHUT_WR)
        server.shutdown(socket.SHUT_WR)
        self._expect_pair(client, server, "CLOSING", "FIN_WAIT2")

    def _veth(self) -> tuple[int, int]:
        """The veth pair with LL_A on VETH_A and LL_B on VETH_B; their ifindexes."""
        if VETH_A not in {name for _, name in socket.if_nameindex()}:
            ip("link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B)
            ip("addr", "add", f"{LL_A}/64", "dev", VETH_A, "nodad")
            ip("addr", "add", f"{LL_B}/64", "dev", VETH_B, "nodad")
            ip("link", "set", VETH_A, "up")
            ip("link", "set", VETH_B, "up")
        return socket.if_nametoindex(VETH_A), socket.if_nametoindex(VETH_B)

    def link_local(self) -> tuple[socket.socket, socket.socket, int]:
        """An ESTABLISHED pair over a veth pair's link-local addresses.

        Returns (client, server, ifindex of the interface both ends use)."""
        index, _ = self._veth()
        listener = self.listener(socket.AF_INET6, LL_A, scope_id=index)
        client = self._sock(socket.AF_INET6)
        client.bind((LL_A, 0, 0, index))
        client.connect(listener.getsockname())
        server, _ = listener.accept()
        self.sockets.append(server)
        self._expect_pair(client, server, "ESTABLISHED", "ESTABLISHED")
        return client, server, index

    def link_local_across(self) -> tuple[socket.socket, socket.socket]:
        """An ESTABLISHED pair whose packets cross the veth pair: the client
        on LL_B (scope VETH_B), the server side on LL_A (scope VETH_A)."""
        index_a, index_b = self._veth()
        listener = self.listener(socket.AF_INET6, "::")
        client = self._sock(socket.AF_INET6)
        client.bind((LL_B, 0, 0, index_b))
        client.connect((LL_A, listener.getsockname()[1], 0, index_b))
        server, _ = listener.accept()
        self.sockets.append(server)
        assert client.getsockname()[3] == index_b and server.getsockname()[3] == index_a
        self._expect_pair(client, server, "ESTABLISHED", "ESTABLISHED")
        return client, server

    def settle(self) -> None:
        """Wait until an independent view of the table (/proc on Linux,
        psutil elsewhere) shows exactly the expected rows (scope ids aside):
        closing handshakes end, held-back FINs are queued."""

        def settled() -> bool:
            if LINUX:
                rows = proc_rows(socket.AF_INET) + proc_rows(socket.AF_INET6)
            else:
                rows = psutil_rows()
            return rows == without_scopes(self.expected)

        # Generous: under Wine each look is a table read through wineserver,
        # slow on a loaded machine (it returns as soon as the rows agree).
        wait_for(settled, "the population to reach its expected states", timeout=20.0)

    def close(self) -> None:
        for s in self.sockets:
            s.close()
        self.sockets.clear()
        self.expected.clear()


def standard() -> Population:
    """Every state the tests know for both families, a dual-stack listener
    with an IPv4 client, and a link-local connection on a veth pair.  Off
    Linux (Windows CPython, in the private table its runner made), the part
    any TCP stack can build the same way: LISTEN, ESTABLISHED, FIN_WAIT2,
    CLOSE_WAIT, TIME_WAIT and dual stack; the rest needs Linux's socket
    options, errno values, or `ip` for the veth pair."""
    pop = Population()
    try:
        for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            listener = pop.listener(family, addr)
            pop.connect(listener)
            pop.connect(listener)
            pop.half_closed(listener)
            pop.time_wait(listener)
            pop.time_wait(listener)
            if LINUX:
                pop.orphan_fin_wait2(listener)
                pop.syn_sent(family, addr, count=2)
                pop.syn_recv(family, addr)
                pop.fin_wait1(family, addr)
                pop.last_ack(family, addr)
                pop.closing(family, addr)
        pop.listener(socket.AF_INET, "127.1.2.3")
        dual = pop.listener(socket.AF_INET6, "::", v6only=False)
        pop.connect(dual, socket.AF_INET, ("127.0.0.1", dual.getsockname()[1]))
        pop.listener(socket.AF_INET6, "::", v6only=True)
        if LINUX:
            pop.link_local()
            pop.link_local_across()
        pop.settle()
    except BaseException:
        pop.close()
        raise
    return pop


def expected(pop: Population, family: str) -> collections.Counter[Row]:
    """The rows of one family ("tcp4" or "tcp6") the population should show."""
    return collections.Counter({r: n for r, n in pop.expected.items() if r.family == family})
