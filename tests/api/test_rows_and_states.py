"""The row types, TcpState, and what the installed package ships."""

import ast
import collections
import os
import pathlib
import pickle
import socket
import sys
import types

import pytest
import tcptable
from tcptable import Tcp4Row, Tcp6Row, TcpState, Udp4Row, Udp6Row, UnixRow

# From the issue: MIB_TCP_STATE numbers, psutil's status names.
STATES = {
    "CLOSE": 1,
    "LISTEN": 2,
    "SYN_SENT": 3,
    "SYN_RECV": 4,
    "ESTABLISHED": 5,
    "FIN_WAIT1": 6,
    "FIN_WAIT2": 7,
    "CLOSE_WAIT": 8,
    "CLOSING": 9,
    "LAST_ACK": 10,
    "TIME_WAIT": 11,
    "DELETE_TCB": 12,
}
TCP6_FIELDS = (
    "state",
    "local_addr",
    "local_scope_id",
    "local_port",
    "remote_addr",
    "remote_scope_id",
    "remote_port",
)
TCP4_FIELDS = ("state", "local_addr", "local_port", "remote_addr", "remote_port")
# Reachable by name only, after the tuple's fields, as os.stat_result's are.
BY_NAME = ("pid", "uid", "inode", "rx_queue", "tx_queue")
# UDP rows: MIB_UDP6ROW / MIB_UDPROW, the peer and the rest by name.
UDP6_FIELDS = ("local_addr", "local_scope_id", "local_port")
UDP4_FIELDS = ("local_addr", "local_port")
UDP6_BY_NAME = ("remote_addr", "remote_scope_id", "remote_port", "connected", *BY_NAME, "drops")
UDP4_BY_NAME = ("remote_addr", "remote_port", "connected", *BY_NAME, "drops")
# UNIX rows (Linux): what ss -x shows first, the rest by name.
UNIX_FIELDS = ("path", "type", "state")
UNIX_BY_NAME = (*BY_NAME, "peer_inode")
TCP_BY_NAME = (*BY_NAME, "info")


def test_tcp_state_members():
    assert {s.name: s.value for s in TcpState} == STATES
    assert [s.value for s in TcpState] == list(range(1, 13))
    assert all(isinstance(s, int) for s in TcpState)


def test_state_names_equal_psutil_status_strings():
    psutil = pytest.importorskip("psutil")
    statuses = {getattr(psutil, n) for n in dir(psutil) if n.startswith("CONN_")}
    statuses.discard(psutil.CONN_NONE)  # psutil's "no state" for UDP
    assert statuses  # psutil on Linux lacks Windows' DELETE_TCB
    for status in statuses:
        assert TcpState[status].name == status


def field_names(cls) -> list[str]:
    """Every field of a structseq type, tuple fields first, in their order."""
    return [k for k, v in vars(cls).items() if isinstance(v, types.MemberDescriptorType)]


@pytest.mark.parametrize(
    "cls,fields,by_name",
    [
        (Tcp6Row, TCP6_FIELDS, TCP_BY_NAME),
        (Tcp4Row, TCP4_FIELDS, TCP_BY_NAME),
        (Udp6Row, UDP6_FIELDS, UDP6_BY_NAME),
        (Udp4Row, UDP4_FIELDS, UDP4_BY_NAME),
        (UnixRow, UNIX_FIELDS, UNIX_BY_NAME),
    ],
)
def test_row_type_fields(cls, fields, by_name):
    assert cls.n_sequence_fields == len(fields)
    assert cls.n_fields == len(fields) + len(by_name)
    assert cls.n_unnamed_fields == 0
    assert cls.__match_args__ == fields
    assert field_names(cls) == [*fields, *by_name]
    assert issubclass(cls, tuple)
    assert cls.__module__ == "tcptable"


def stub_classes() -> dict[str, ast.ClassDef]:
    package = pathlib.Path(tcptable.__file__).parent
    tree = ast.parse((package / "_tcptable.pyi").read_text())
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


def stub_properties(cls: ast.ClassDef, classes: dict[str, ast.ClassDef]) -> list[str]:
    """The properties a stub class declares, then those of its stub bases."""
    own = [
        node.name
        for node in cls.body
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)
    ]
    for base in cls.bases:
        if isinstance(base, ast.Name) and base.id in classes:
            own += stub_properties(classes[base.id], classes)
    return own


@pytest.mark.parametrize(
    "cls",
    [
        Tcp6Row,
        Tcp4Row,
        Udp6Row,
        Udp4Row,
        UnixRow,
        tcptable.TcpStats,
        tcptable.UdpStats,
        tcptable.Namespace,
        tcptable.TcpInfo,
    ],
)
def test_stubs_have_the_row_types_shape(cls):
    """The stubs declare every field the C field table gives the type, in its
    order, and a tuple of exactly the visible fields."""
    classes = stub_classes()
    stub = classes[cls.__name__]
    assert stub_properties(stub, classes) == field_names(cls)
    (tuple_base,) = [b for b in stub.bases if isinstance(b, ast.Subscript)]
    assert len(tuple_base.slice.elts) == cls.n_sequence_fields


def test_row_allocation_path_is_the_reviewed_one():
    """CPython 3.10 to 3.15 build rows with the extension's own allocation
    (ext/py/rowtypes.c); a newer CPython takes the slower public API until
    its structseq layout is reviewed and the range extended.  A build with
    TCPTABLE_PUBLIC_ROWS=1 takes the public API, and is tested with it set:
    so CI's run of that path cannot have tested the other one."""
    if os.environ.get("TCPTABLE_PUBLIC_ROWS") == "1":
        assert tcptable._tcptable._row_allocation == "public-forced"
        return
    assert tcptable._tcptable._row_allocation == "own", (
        f"CPython {sys.version_info[:2]} builds rows through the public API: review "
        "the structseq layout in ext/py/rowtypes.c and extend OWN_ROW_ALLOCATION"
    )


def check_row(row, cls, fields):
    assert type(row) is cls and isinstance(row, tuple)
    assert len(row) == len(fields)
    for i, name in enumerate(fields):
        assert row[i] is getattr(row, name)
    # Linux reports queues on every call, Windows never; owners only when asked for.
    queue_type = int if sys.platform.startswith("linux") else type(None)
    assert type(row.rx_queue) is queue_type and type(row.tx_queue) is queue_type
    assert row.pid is None and row.uid is None and row.inode is None
    assert row.state is getattr(tcptable.TcpState, row.state.name)
    assert type(row.state) is TcpState
    for name in fields[1:]:
        assert type(getattr(row, name)) is (str if name.endswith("_addr") else int), name
    assert 0 <= row.local_port < 65536 and 0 <= row.remote_port < 65536


def test_every_row_has_the_right_types(population, backend):
    rows6, rows4 = tcptable.tcp6(), tcptable.tcp4()
    assert rows6 and rows4
    assert type(rows6) is tuple and type(rows4) is tuple
    for row in rows6:
        check_row(row, Tcp6Row, TCP6_FIELDS)
        assert row.local_scope_id >= 0 and row.remote_scope_id >= 0
    for row in rows4:
        check_row(row, Tcp4Row, TCP4_FIELDS)


def test_rows_pickle_round_trip(population, backend):
    for row in tcptable.tcp6() + tcptable.tcp4():
        back = pickle.loads(pickle.dumps(row))
        assert back == row and type(back) is type(row)
        assert back.state is row.state


def test_typing_files_are_installed():
    package = pathlib.Path(tcptable.__file__).parent
    assert (package / "py.typed").is_file()
    stub = package / "_tcptable.pyi"
    assert stub.is_file()
    text = stub.read_text()
    for name in ("def tcp6", "def tcp4", "def counts", "class Tcp6Row", "class Tcp4Row"):
        assert name in text
    # The tests import the built package, not the source tree.
    source = pathlib.Path(__file__).parents[2] / "python" / "tcptable"
    assert package.resolve() != source.resolve()


def test_state_names_replace_psutil_status_on_real_rows(population, backend):
    """psutil.net_connections() on the same population: row.state.name is
    psutil's status for every connection."""
    psutil = pytest.importorskip("psutil")
    theirs = collections.Counter(
        (c.family, c.status, c.laddr.ip, c.laddr.port, *(c.raddr or ("", 0)))
        for c in psutil.net_connections(kind="tcp")
    )
    ours = collections.Counter(
        (
            socket.AF_INET6 if isinstance(r, Tcp6Row) else socket.AF_INET,
            r.state.name,
            r.local_addr,
            r.local_port,
            *((r.remote_addr, r.remote_port) if r.state is not TcpState.LISTEN else ("", 0)),
        )
        for r in tcptable.tcp6() + tcptable.tcp4()
    )
    assert ours == theirs
