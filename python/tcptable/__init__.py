"""The machine's TCP connection, UDP and UNIX socket tables, as fast as the OS hands them over.

>>> import tcptable
>>> listening = tcptable.tcp6(states={tcptable.TcpState.LISTEN})
"""

from ._tcptable import (
    Changes,
    Namespace,
    Tcp4Row,
    Tcp6Row,
    TcpInfo,
    TcpStats,
    Udp4Row,
    Udp6Row,
    UdpStats,
    UnixRow,
    Watcher,
    counts,
    namespaces,
    stats,
    tcp4,
    tcp6,
    udp4,
    udp6,
    udp_stats,
    unix,
)
from .state import TcpState

__all__ = [
    "Changes",
    "Namespace",
    "TcpState",
    "Tcp4Row",
    "Tcp6Row",
    "TcpInfo",
    "TcpStats",
    "Udp4Row",
    "Udp6Row",
    "UdpStats",
    "UnixRow",
    "Watcher",
    "counts",
    "namespaces",
    "stats",
    "tcp4",
    "tcp6",
    "udp4",
    "udp6",
    "udp_stats",
    "unix",
]
# The one place the version is written: pyproject.toml reads it from here.
__version__ = "0.1.0"
