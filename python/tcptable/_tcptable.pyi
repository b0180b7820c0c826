import os
from collections.abc import Iterable
from typing import Final, Literal, final, overload

from .state import TcpState

# Typing only: what every structseq type has.
class _StructSeq:
    n_fields: Final[int]
    n_sequence_fields: Final[int]
    n_unnamed_fields: Final[int]

# Typing only: the fields every row type has by name, beyond the tuple
# (tests/api/test_rows_and_states.py checks these stubs against the row types).
class _ByName:
    @property
    def pid(self) -> int | None: ...
    @property
    def uid(self) -> int | None: ...
    @property
    def inode(self) -> int | None: ...
    @property
    def rx_queue(self) -> int | None: ...
    @property
    def tx_queue(self) -> int | None: ...

# Typing only: a TCP row's field by name after _ByName's.
class _TcpInfoField:
    @property
    def info(self) -> TcpInfo | None: ...

@final
class TcpInfo(
    tuple[
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
        str | None,
        int | None,
        int | None,
        int | None,
        int | None,
        int | None,
    ],
    _StructSeq,
):
    @property
    def rtt_us(self) -> int | None: ...
    @property
    def rttvar_us(self) -> int | None: ...
    @property
    def min_rtt_us(self) -> int | None: ...
    @property
    def rto_us(self) -> int | None: ...
    @property
    def ato_us(self) -> int | None: ...
    @property
    def snd_mss(self) -> int | None: ...
    @property
    def rcv_mss(self) -> int | None: ...
    @property
    def snd_cwnd(self) -> int | None: ...
    @property
    def snd_ssthresh(self) -> int | None: ...
    @property
    def rcv_space(self) -> int | None: ...
    @property
    def retransmits(self) -> int | None: ...
    @property
    def total_retrans(self) -> int | None: ...
    @property
    def lost(self) -> int | None: ...
    @property
    def unacked(self) -> int | None: ...
    @property
    def sacked(self) -> int | None: ...
    @property
    def reordering(self) -> int | None: ...
    @property
    def bytes_acked(self) -> int | None: ...
    @property
    def bytes_received(self) -> int | None: ...
    @property
    def bytes_sent(self) -> int | None: ...
    @property
    def bytes_retrans(self) -> int | None: ...
    @property
    def segs_in(self) -> int | None: ...
    @property
    def segs_out(self) -> int | None: ...
    @property
    def data_segs_in(self) -> int | None: ...
    @property
    def data_segs_out(self) -> int | None: ...
    @property
    def delivery_rate(self) -> int | None: ...
    @property
    def pacing_rate(self) -> int | None: ...
    @property
    def busy_time_us(self) -> int | None: ...
    @property
    def rwnd_limited_us(self) -> int | None: ...
    @property
    def sndbuf_limited_us(self) -> int | None: ...
    @property
    def notsent_bytes(self) -> int | None: ...
    @property
    def last_data_sent_ms(self) -> int | None: ...
    @property
    def last_data_recv_ms(self) -> int | None: ...
    @property
    def last_ack_recv_ms(self) -> int | None: ...
    @property
    def ca_state(self) -> int | None: ...
    @property
    def congestion(self) -> str | None: ...
    @property
    def rmem_alloc(self) -> int | None: ...
    @property
    def rcvbuf(self) -> int | None: ...
    @property
    def wmem_alloc(self) -> int | None: ...
    @property
    def sndbuf(self) -> int | None: ...
    @property
    def drops(self) -> int | None: ...

@final
class Tcp6Row(tuple[TcpState, str, int, int, str, int, int], _ByName, _TcpInfoField, _StructSeq):
    @property
    def state(self) -> TcpState: ...
    @property
    def local_addr(self) -> str: ...
    @property
    def local_scope_id(self) -> int: ...
    @property
    def local_port(self) -> int: ...
    @property
    def remote_addr(self) -> str: ...
    @property
    def remote_scope_id(self) -> int: ...
    @property
    def remote_port(self) -> int: ...

@final
class Tcp4Row(tuple[TcpState, str, int, str, int], _ByName, _TcpInfoField, _StructSeq):
    @property
    def state(self) -> TcpState: ...
    @property
    def local_addr(self) -> str: ...
    @property
    def local_port(self) -> int: ...
    @property
    def remote_addr(self) -> str: ...
    @property
    def remote_port(self) -> int: ...

# Typing only: a UDP row's fields by name before _ByName's (the peer: None
# for an unconnected socket; on Windows, which reports none, connected too),
# and after them.
class _UdpDrops:
    @property
    def drops(self) -> int | None: ...

class _Udp6Peer:
    @property
    def remote_addr(self) -> str | None: ...
    @property
    def remote_scope_id(self) -> int | None: ...
    @property
    def remote_port(self) -> int | None: ...
    @property
    def connected(self) -> bool | None: ...

class _Udp4Peer:
    @property
    def remote_addr(self) -> str | None: ...
    @property
    def remote_port(self) -> int | None: ...
    @property
    def connected(self) -> bool | None: ...

@final
class Udp6Row(tuple[str, int, int], _Udp6Peer, _ByName, _UdpDrops, _StructSeq):
    @property
    def local_addr(self) -> str: ...
    @property
    def local_scope_id(self) -> int: ...
    @property
    def local_port(self) -> int: ...

@final
class Udp4Row(tuple[str, int], _Udp4Peer, _ByName, _UdpDrops, _StructSeq):
    @property
    def local_addr(self) -> str: ...
    @property
    def local_port(self) -> int: ...

# Typing only: a UNIX row's field by name after _ByName's.
class _UnixPeer:
    @property
    def peer_inode(self) -> int | None: ...

@final
class UnixRow(tuple[str | None, int, TcpState], _ByName, _UnixPeer, _StructSeq):
    @property
    def path(self) -> str | None: ...
    @property
    def type(self) -> int: ...
    @property
    def state(self) -> TcpState: ...

_AnyRow = Tcp4Row | Tcp6Row | Udp4Row | Udp6Row
_NetNs = str | bytes | os.PathLike[str] | os.PathLike[bytes] | int | None
_Ports = Iterable[int] | None

@final
class TcpStats(
    tuple[int, int, int, int, int, int, int, int, int, int, int, int, int, int, int | None],
    _StructSeq,
):
    @property
    def rto_algorithm(self) -> int: ...
    @property
    def rto_min(self) -> int: ...
    @property
    def rto_max(self) -> int: ...
    @property
    def max_conn(self) -> int: ...
    @property
    def active_opens(self) -> int: ...
    @property
    def passive_opens(self) -> int: ...
    @property
    def attempt_fails(self) -> int: ...
    @property
    def estab_resets(self) -> int: ...
    @property
    def curr_estab(self) -> int: ...
    @property
    def in_segs(self) -> int: ...
    @property
    def out_segs(self) -> int: ...
    @property
    def retrans_segs(self) -> int: ...
    @property
    def in_errs(self) -> int: ...
    @property
    def out_rsts(self) -> int: ...
    @property
    def num_conns(self) -> int | None: ...

@final
class UdpStats(
    tuple[int, int, int, int, int | None, int | None, int | None, int | None],
    _StructSeq,
):
    @property
    def in_datagrams(self) -> int: ...
    @property
    def no_ports(self) -> int: ...
    @property
    def in_errors(self) -> int: ...
    @property
    def out_datagrams(self) -> int: ...
    @property
    def num_addrs(self) -> int | None: ...
    @property
    def rcvbuf_errors(self) -> int | None: ...
    @property
    def sndbuf_errors(self) -> int | None: ...
    @property
    def in_csum_errors(self) -> int | None: ...

@final
class Namespace(tuple[int, str, tuple[int, ...]], _StructSeq):
    @property
    def inode(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def pids(self) -> tuple[int, ...]: ...

@final
class Changes(
    tuple[
        tuple[_AnyRow, ...],
        tuple[_AnyRow, ...],
        tuple[tuple[_AnyRow, _AnyRow], ...],
    ],
    _StructSeq,
):
    """Rows are Tcp6Row for a Watcher of AF_INET6, Tcp4Row for AF_INET; Udp6Row and
    Udp4Row for protocol=IPPROTO_UDP."""

    @property
    def opened(self) -> tuple[_AnyRow, ...]: ...
    @property
    def closed(self) -> tuple[_AnyRow, ...]: ...
    @property
    def changed(self) -> tuple[tuple[_AnyRow, _AnyRow], ...]: ...

@final
class Watcher:
    def __init__(
        self,
        family: int = ...,
        *,
        protocol: int = ...,
        states: Iterable[TcpState | int] | None = None,
        local_ports: _Ports = None,
        remote_ports: _Ports = None,
        pids: bool = False,
        netns: _NetNs = None,
    ) -> None: ...
    def poll(self) -> Changes: ...

def tcp6(
    *,
    states: Iterable[TcpState | int] | None = None,
    sort: bool = False,
    pids: bool = False,
    info: bool = False,
    local_ports: _Ports = None,
    remote_ports: _Ports = None,
    netns: _NetNs = None,
) -> tuple[Tcp6Row, ...]: ...
def tcp4(
    *,
    states: Iterable[TcpState | int] | None = None,
    sort: bool = False,
    pids: bool = False,
    info: bool = False,
    local_ports: _Ports = None,
    remote_ports: _Ports = None,
    netns: _NetNs = None,
) -> tuple[Tcp4Row, ...]: ...
def udp6(
    *,
    sort: bool = False,
    pids: bool = False,
    local_ports: _Ports = None,
    remote_ports: _Ports = None,
    netns: _NetNs = None,
) -> tuple[Udp6Row, ...]: ...
def udp4(
    *,
    sort: bool = False,
    pids: bool = False,
    local_ports: _Ports = None,
    remote_ports: _Ports = None,
    netns: _NetNs = None,
) -> tuple[Udp4Row, ...]: ...
def unix(
    *,
    states: Iterable[TcpState | int] | None = None,
    sort: bool = False,
    pids: bool = False,
    netns: _NetNs = None,
) -> tuple[UnixRow, ...]: ...
@overload
def counts(
    family: int | None = ...,
    *,
    states: Iterable[TcpState | int] | None = None,
    local_ports: _Ports = None,
    remote_ports: _Ports = None,
    by: None = None,
    netns: _NetNs = None,
) -> dict[TcpState, int]: ...
@overload
def counts(
    family: int | None = ...,
    *,
    states: Iterable[TcpState | int] | None = None,
    local_ports: _Ports = None,
    remote_ports: _Ports = None,
    by: Literal["local_port", "remote_port"],
    netns: _NetNs = None,
) -> dict[int, dict[TcpState, int]]: ...
def stats(family: int = ..., *, netns: _NetNs = None) -> TcpStats: ...
def udp_stats(family: int = ..., *, netns: _NetNs = None) -> UdpStats: ...
def namespaces() -> tuple[Namespace, ...]: ...

_row_allocation: str
