"""tcptable.format: endpoints, the text table, row dicts."""

import json

import tcptable
from oracles import JSON_KEYS
from tcptable.format import endpoint, local_endpoint, remote_endpoint, row_dict, table_text


def test_endpoint_forms():
    assert endpoint("127.0.0.1", 80) == "127.0.0.1:80"
    assert endpoint("127.0.0.1", 80, 0) == "127.0.0.1:80"
    assert endpoint("::1", 443) == "[::1]:443"
    assert endpoint("::", 0, 0) == "[::]:0"
    assert endpoint("fe80::1", 22, 3) == "[fe80::1%3]:22"
    assert endpoint("::ffff:127.0.0.1", 8080) == "[::ffff:127.0.0.1]:8080"


def test_row_dict_and_endpoints_of_real_rows(population):
    v6 = [r for r in tcptable.tcp6() if r.local_scope_id]
    v4 = tcptable.tcp4(states={tcptable.TcpState.LISTEN})
    assert v6 and v4
    for row in v6:
        d = row_dict(row)
        assert list(d) == JSON_KEYS
        assert d == {
            "family": "tcp6",
            "state": row.state.name,
            "local_addr": row.local_addr,
            "local_port": row.local_port,
            "local_scope_id": row.local_scope_id,
            "remote_addr": row.remote_addr,
            "remote_port": row.remote_port,
            "remote_scope_id": row.remote_scope_id,
        }
        assert json.loads(json.dumps(d)) == d
        assert local_endpoint(row) == f"[{row.local_addr}%{row.local_scope_id}]:{row.local_port}"
    for row in v4:
        d = row_dict(row)
        assert list(d) == JSON_KEYS
        assert (d["family"], d["local_scope_id"], d["remote_scope_id"]) == ("tcp4", 0, 0)
        assert remote_endpoint(row) == "0.0.0.0:0"


def test_table_text(population):
    rows = tcptable.tcp4() + tcptable.tcp6()
    lines = table_text(rows).splitlines()
    assert len(lines) == len(rows) + 1
    assert lines[0].split() == ["Proto", "Local", "Address", "Remote", "Address", "State"]
    for line, row in zip(lines[1:], rows, strict=True):
        proto = "tcp6" if isinstance(row, tcptable.Tcp6Row) else "tcp"
        assert line.split() == [proto, local_endpoint(row), remote_endpoint(row), row.state.name]
    # Columns line up: every line puts the state at the same offset.
    offsets = {line.rindex(" ") for line in lines}
    assert len(offsets) == 1


def test_table_text_of_no_rows():
    assert table_text([]).split() == ["Proto", "Local", "Address", "Remote", "Address", "State"]
