"""TcpCollector: the TCP table (and on Linux the UDP sockets) as Prometheus
metrics, for prometheus_client.

>>> from prometheus_client import REGISTRY
>>> REGISTRY.register(TcpCollector(ports=(443, 5432)))
>>> REGISTRY.register(TcpCollector(families=("udp4", "udp6")))  # UDP sockets, drops, counters

Each scrape costs one counts() per TCP family, one counts(by="local_port") per
TCP family when ports are given and one stats(): the TCP table is tallied in
C, never walked row by row here.  A UDP family costs one udp4()/udp6() (a
row per socket, for the sum of their drops) and one udp_stats().
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable, Iterator

try:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
except ImportError as exc:
    raise ImportError(
        "tcptable.prometheus needs prometheus_client: pip install tcptable[prometheus]"
    ) from exc

from . import counts, udp4, udp6, udp_stats
from . import stats as tcp_stats

__all__ = ["TcpCollector"]

FAMILIES = {"tcp4": socket.AF_INET, "tcp6": socket.AF_INET6}
UDP_FAMILIES = {"udp4": (socket.AF_INET, udp4), "udp6": (socket.AF_INET6, udp6)}
# TcpStats fields exported as tcptable_tcp_<field>_total.  rto_algorithm,
# rto_min, rto_max and max_conn are settings, not measurements: left out.
COUNTERS = {
    "active_opens": "Connections opened by this host (SYN sent).",
    "passive_opens": "Connections accepted (SYN received).",
    "attempt_fails": "Connection attempts that failed.",
    "estab_resets": "Established connections reset.",
    "in_segs": "Segments received.",
    "out_segs": "Segments sent.",
    "retrans_segs": "Segments retransmitted.",
    "in_errs": "Segments received in error.",
    "out_rsts": "Segments sent with RST.",
}
GAUGES = {
    "curr_estab": "Connections now ESTABLISHED or CLOSE_WAIT.",
    "num_conns": "Connections in the table, as the OS counts them (Windows only).",
}
# UdpStats fields exported as tcptable_udp_<field>_total{family} and gauges.
UDP_COUNTERS = {
    "in_datagrams": "Datagrams delivered to sockets.",
    "no_ports": "Datagrams received for a port no socket is bound to.",
    "in_errors": "Datagrams received that could not be delivered, but for no_ports.",
    "out_datagrams": "Datagrams sent.",
    "rcvbuf_errors": "Datagrams dropped for a full receive buffer (Linux only).",
    "sndbuf_errors": "Datagrams not sent for a full send buffer (Linux only).",
    "in_csum_errors": "Datagrams received with a bad checksum (Linux only).",
}
UDP_GAUGES = {
    "num_addrs": "Sockets in the UDP table, as the OS counts them (Windows only).",
}

log = logging.getLogger(__name__)


def _ports(ports: Iterable[int]) -> tuple[int, ...]:
    chosen = set()
    for port in ports:
        if type(port) is not int or not 0 <= port <= 65535:
            raise ValueError(f"ports: {port!r} is not a port (an int, 0 to 65535)")
        chosen.add(port)
    return tuple(sorted(chosen))


def _families(families: Iterable[str]) -> tuple[str, ...]:
    if isinstance(families, str):
        raise TypeError(f"families must be a sequence of names, such as ({families!r},)")
    chosen = tuple(dict.fromkeys(families))
    known = ", ".join(map(repr, [*FAMILIES, *UDP_FAMILIES]))
    for name in chosen:
        if name not in FAMILIES and name not in UDP_FAMILIES:
            raise ValueError(f"unknown family {name!r} (choose from {known})")
    if not chosen:
        raise ValueError(f"families is empty (choose from {known})")
    return chosen


class TcpCollector:
    """A prometheus_client collector of the TCP table (any registry takes it).

    families: any of "tcp4", "tcp6", and on Linux "udp4", "udp6" (the UDP
    sockets, their drops and udp_stats()'s counters); ports: local ports
    that get per-port, per-state TCP gauges; stats: whether to export
    stats()'s and udp_stats()'s counters; netns: the
    network namespace to read (as counts() takes it; Linux).  A collection
    that fails (OSError; ValueError: `netns` is no network namespace;
    NotImplementedError: a UDP family where tcptable reads no UDP table)
    yields no table metrics, counts the failure in
    tcptable_collection_errors_total and logs it once per distinct message
    (logger "tcptable.prometheus"), so a scrape still succeeds.
    """

    def __init__(
        self,
        *,
        families: Iterable[str] = ("tcp4", "tcp6"),
        ports: Iterable[int] = (),
        stats: bool = True,
        netns=None,
    ) -> None:
        self._families = _families(families)
        self._ports = _ports(ports)
        if self._ports and not any(name in FAMILIES for name in self._families):
            raise ValueError("ports: the per-port metrics count TCP connections: add a TCP family")
        self._stats = bool(stats)
        self._netns = netns
        self._lock = threading.Lock()  # scrapes run on several threads at once
        self._errors = 0
        self._logged: set[str] = set()

    def collect(self) -> Iterator[Metric]:
        start = time.perf_counter()
        try:
            metrics = self._read()
        except (OSError, ValueError, NotImplementedError) as exc:
            metrics = []
            self._failed(exc)
        took = GaugeMetricFamily(
            "tcptable_collection_duration_seconds", "How long this collection of the table took."
        )
        took.add_metric([], time.perf_counter() - start)
        errors = CounterMetricFamily(
            "tcptable_collection_errors", "Collections of the table that failed."
        )
        with self._lock:
            errors.add_metric([], self._errors)
        return iter([*metrics, took, errors])

    def _failed(self, exc: Exception) -> None:
        message = str(exc)
        with self._lock:
            self._errors += 1
            first = message not in self._logged
            self._logged.add(message)
        if first:
            log.error("collection failed: %s", message)

    def _read(self) -> list[Metric]:
        tcp = [name for name in self._families if name in FAMILIES]
        udp = [name for name in self._families if name in UDP_FAMILIES]
        metrics = self._tcp(tcp) if tcp else []
        return metrics + self._udp(udp) if udp else metrics

    def _tcp(self, families: list[str]) -> list[Metric]:
        per_state = GaugeMetricFamily(
            "tcptable_connections", "TCP connections by state.", labels=["family", "state"]
        )
        per_port = GaugeMetricFamily(
            "tcptable_port_connections",
            "TCP connections by local port and state, for the chosen ports.",
            labels=["family", "port", "state"],
        )
        for name in families:
            family = FAMILIES[name]
            for state, n in counts(family, netns=self._netns).items():
                per_state.add_metric([name, state.name.lower()], n)
            if self._ports:
                by_port = counts(
                    family, by="local_port", local_ports=self._ports, netns=self._netns
                )
                for port, states in by_port.items():
                    for state, n in states.items():
                        per_port.add_metric([name, str(port), state.name.lower()], n)
        metrics: list[Metric] = [per_state, *([per_port] if self._ports else [])]
        if self._stats:
            metrics += self._counters(families)
        return metrics

    def _counters(self, families: list[str]) -> list[Metric]:
        # Linux keeps one set of counters for both families; Windows one per
        # family, of which this takes IPv4's when tcp4 is exported.
        family = FAMILIES["tcp4" if "tcp4" in families else "tcp6"]
        values = tcp_stats(family, netns=self._netns)
        out: list[Metric] = []
        for kind, fields in ((CounterMetricFamily, COUNTERS), (GaugeMetricFamily, GAUGES)):
            for field, doc in fields.items():
                value = getattr(values, field)
                if value is not None:  # not reported by this OS: no metric, not a zero
                    out.append(kind(f"tcptable_tcp_{field}", doc, value=value))
        return out

    def _udp(self, families: list[str]) -> list[Metric]:
        sockets = GaugeMetricFamily("tcptable_udp_sockets", "UDP sockets.", labels=["family"])
        drops = CounterMetricFamily(
            "tcptable_udp_socket_drops",
            "Datagrams the open UDP sockets dropped: the sum of their drops (falls when a "
            "socket that dropped closes).",
            labels=["family"],
        )
        counters = {
            field: CounterMetricFamily(f"tcptable_udp_{field}", doc, labels=["family"])
            for field, doc in UDP_COUNTERS.items()
        }
        gauges = {
            field: GaugeMetricFamily(f"tcptable_udp_{field}", doc, labels=["family"])
            for field, doc in UDP_GAUGES.items()
        }
        for name in families:
            family, table = UDP_FAMILIES[name]
            rows = table(netns=self._netns)
            sockets.add_metric([name], len(rows))
            dropped = [row.drops for row in rows]
            if None not in dropped:  # netlink before Linux 4.7 reports none: no metric
                drops.add_metric([name], sum(dropped))
            if self._stats:
                values = udp_stats(family, netns=self._netns)
                for fields in (counters, gauges):
                    for field, metric in fields.items():
                        value = getattr(values, field)
                        if value is not None:  # not reported by this OS: no sample
                            metric.add_metric([name], value)
        metrics = (sockets, drops, *counters.values(), *gauges.values())
        return [m for m in metrics if m.samples]  # those this OS and `stats` fill
