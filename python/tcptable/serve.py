"""``tcptable --serve [HOST:]PORT``: a standalone Prometheus exporter.

Serves TcpCollector's metrics at http://HOST:PORT/metrics, one thread per
request; every other path is 404.  Binds 127.0.0.1 unless a host is given.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from .prometheus import TcpCollector


class UsageError(Exception):
    """A bad address: exit status 2, one line."""


def parse_address(text: str) -> tuple[str, int]:
    """``PORT``, ``HOST:PORT`` or ``[IPV6]:PORT`` as (host, port)."""
    if text.isdigit():
        host, port = "127.0.0.1", text
    elif text.startswith("["):
        host, bracket, port = text[1:].partition("]:")
        if not bracket:
            raise UsageError(f"bad --serve address {text!r}: expected [IPV6]:PORT")
    else:
        host, _, port = text.rpartition(":")
        if ":" in host:
            raise UsageError(
                f"bad --serve address {text!r}: an IPv6 host goes in brackets, [::1]:{port}"
            )
    if not host:
        raise UsageError(
            f"bad --serve address {text!r}: no host (0.0.0.0 or [::] for every interface)"
        )
    if not port.isdigit() or int(port) > 65535:
        raise UsageError(f"bad --serve address {text!r}: {port!r} is not a port (0 to 65535)")
    return host, int(port)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/metrics":
            self.send_error(404)
            return
        body = generate_latest(self.server.registry)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:
        pass  # no line per scrape: stderr is for failures


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stop does not wait for a slow scraper
    timeout = 0.5  # how long handle_request() waits, so how soon a stop is seen
    stopping = False

    def __init__(self, address: tuple[str, int], family: int, registry: CollectorRegistry):
        self.address_family = family
        self.registry = registry
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a scraper that left
            super().handle_error(request, client_address)


def _bind(text: str, registry: CollectorRegistry) -> _Server:
    host, port = parse_address(text)
    try:
        info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, *_, address = info[0]
        return _Server(address[:2], family, registry)
    except OSError as exc:
        raise UsageError(f"cannot serve on {text}: {exc.strerror or exc}") from None


def serve(address: str, collector: TcpCollector) -> int:
    """Serves until SIGINT or SIGTERM; returns the exit status."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    try:
        server = _bind(address, registry)
    except UsageError as exc:
        print(f"tcptable: {exc}", file=sys.stderr)
        return 2
    errors = logging.StreamHandler(sys.stderr)
    errors.setFormatter(logging.Formatter("tcptable: %(message)s"))
    logging.getLogger("tcptable").addHandler(errors)
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in host else host

    def stop(signum, frame) -> None:
        # A flag, not an exception: a handler runs wherever the main thread
        # is, and an exception raised inside a finalizer is printed and lost.
        server.stopping = True

    with server:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)
        print(f"tcptable: serving http://{shown}:{port}/metrics", file=sys.stderr, flush=True)
        while not server.stopping:
            server.handle_request()
    return 0
