"""A known population of TCP sockets, one or more in each state Linux can show.

Built inside a private network namespace (see netns.py).  Every socket stays
open until ``close()``, so states hold while the test looks at the table.
"""

from __future__ import annotations

import errno
import socket
import time

from netns import ip

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

    def _sock(self, family: int) -> socket.socket:
        s = socket.socket(family, socket.SOCK_STREAM)
        self.sockets.append(s)
        return s

    def listener(self, family: int, addr: str, backlog: int = 16, v6only: bool = True,
                 scope_id: int = 0) -> socket.socket:
        s = self._sock(family)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
            s.bind((addr, 0, 0, scope_id))
        else:
            s.bind((addr, 0))
        s.listen(backlog)
        return s

    def connect(self, listener: socket.socket, client_family: int | None = None,
                addr: tuple | None = None) -> tuple[socket.socket, socket.socket]:
        """An ESTABLISHED pair: (client, accepted server side)."""
        family = client_family or listener.family
        client = self._sock(family)
        client.connect(addr or listener.getsockname())
        server, _ = listener.accept()
        self.sockets.append(server)
        return client, server

    def half_closed(self, listener: socket.socket) -> tuple[socket.socket, socket.socket]:
        """client in FIN_WAIT2, server side in CLOSE_WAIT."""
        client, server = self.connect(listener)
        client.shutdown(socket.SHUT_WR)
        wait_for(lambda: server.recv(1) == b"", "the FIN to arrive")
        return client, server

    def time_wait(self, listener: socket.socket) -> socket.socket:
        """Client closes first and ends in TIME_WAIT; returns nothing left open."""
        client, server = self.connect(listener)
        name = client.getsockname()
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
        pending = []
        for _ in range(count):
            c = self._sock(family)
            c.setblocking(False)
            err = c.connect_ex(listener.getsockname())
            assert err in (errno.EINPROGRESS, 0), err
            pending.append(c.getsockname())
        return listener, pending

    def link_local(self) -> tuple[socket.socket, socket.socket, int]:
        """An ESTABLISHED pair over a veth pair's link-local addresses.

        Returns (client, server, ifindex of the interface both ends use)."""
        ip("link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B)
        ip("addr", "add", f"{LL_A}/64", "dev", VETH_A, "nodad")
        ip("addr", "add", f"{LL_B}/64", "dev", VETH_B, "nodad")
        ip("link", "set", VETH_A, "up")
        ip("link", "set", VETH_B, "up")
        index = socket.if_nametoindex(VETH_A)
        listener = self.listener(socket.AF_INET6, LL_A, scope_id=index)
        client = self._sock(socket.AF_INET6)
        client.bind((LL_A, 0, 0, index))
        client.connect(listener.getsockname())
        server, _ = listener.accept()
        self.sockets.append(server)
        return client, server, index

    def close(self) -> None:
        for s in self.sockets:
            s.close()
        self.sockets.clear()
