"""TcpState: TCP states numbered as Windows' MIB_TCP_STATE, named as psutil's."""

import enum

__all__ = ["TcpState"]


class TcpState(enum.IntEnum):
    """A TCP state.  ``state.name`` equals psutil's ``status`` string."""

    CLOSE = 1
    LISTEN = 2
    SYN_SENT = 3
    SYN_RECV = 4
    ESTABLISHED = 5
    FIN_WAIT1 = 6
    FIN_WAIT2 = 7
    CLOSE_WAIT = 8
    CLOSING = 9
    LAST_ACK = 10
    TIME_WAIT = 11
    DELETE_TCB = 12
