"""The machine's TCP connection table, as fast as the OS hands it over.

>>> import tcptable
>>> listening = tcptable.tcp6(states={tcptable.TcpState.LISTEN})
"""

from ._tcptable import (
    Namespace,
    Tcp4Row,
    Tcp6Row,
    TcpStats,
    counts,
    namespaces,
    stats,
    tcp4,
    tcp6,
)
from .state import TcpState

__all__ = [
    "Namespace",
    "TcpState",
    "Tcp4Row",
    "Tcp6Row",
    "TcpStats",
    "counts",
    "namespaces",
    "stats",
    "tcp4",
    "tcp6",
]
__version__ = "0.1.0"
