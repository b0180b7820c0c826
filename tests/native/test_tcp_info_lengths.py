"""struct tcp_info decoded by the length the kernel sent (ext/arch/linux/
tcp_info.c), through tests/native/tcp_info_lengths under ASan+UBSan: each
kernel era's length, and every length from 0 to past today's struct, gives
exactly the fields that fit; the others are absent (None in a TcpInfo), never
0.  The offsets below are this test's own, checked against <linux/tcp.h>."""

from __future__ import annotations

import subprocess
import sys

import pytest
import tcptable
from native_tools import NATIVE, native_dir, standalone_env

sys.path.insert(0, str(NATIVE))
import seeds  # noqa: E402

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux-only: the Linux decoders' harnesses"
)

# TcpInfo field: (offset, size) in struct tcp_info.
LAYOUT = {
    "ca_state": (1, 1),
    "retransmits": (2, 1),
    "rto_us": (8, 4),
    "ato_us": (12, 4),
    "snd_mss": (16, 4),
    "rcv_mss": (20, 4),
    "unacked": (24, 4),
    "sacked": (28, 4),
    "lost": (32, 4),
    "last_data_sent_ms": (44, 4),
    "last_data_recv_ms": (52, 4),
    "last_ack_recv_ms": (56, 4),
    "rtt_us": (68, 4),
    "rttvar_us": (72, 4),
    "snd_ssthresh": (76, 4),
    "snd_cwnd": (80, 4),
    "reordering": (88, 4),
    "rcv_space": (96, 4),
    "total_retrans": (100, 4),
    "pacing_rate": (104, 8),
    "bytes_acked": (120, 8),
    "bytes_received": (128, 8),
    "segs_out": (136, 4),
    "segs_in": (140, 4),
    "notsent_bytes": (144, 4),
    "min_rtt_us": (148, 4),
    "data_segs_in": (152, 4),
    "data_segs_out": (156, 4),
    "delivery_rate": (160, 8),
    "busy_time_us": (168, 8),
    "rwnd_limited_us": (176, 8),
    "sndbuf_limited_us": (184, 8),
    "bytes_sent": (200, 8),
    "bytes_retrans": (208, 8),
}
MEMINFO = {"rmem_alloc": 0, "rcvbuf": 1, "wmem_alloc": 2, "sndbuf": 3, "drops": 8}

# What each kernel era's struct lacks, written out by hand (docs/api.md's table).
LATER = {
    "pacing_rate": "3.15",
    "bytes_acked": "4.1",
    "bytes_received": "4.1",
    "segs_in": "4.2",
    "segs_out": "4.2",
    "notsent_bytes": "4.6",
    "min_rtt_us": "4.6",
    "data_segs_in": "4.6",
    "data_segs_out": "4.6",
    "delivery_rate": "4.9",
    "busy_time_us": "4.10",
    "rwnd_limited_us": "4.10",
    "sndbuf_limited_us": "4.10",
    "bytes_sent": "4.19",
    "bytes_retrans": "4.19",
}
ERAS = [  # (length, the Linux release that sends it)
    (104, "3.14"),
    (120, "3.15"),
    (136, "4.1"),
    (144, "4.2"),
    (160, "4.6"),
    (168, "4.9"),
    (192, "4.10"),
    (200, "4.18"),
    (224, "4.19"),
    (232, "5.4"),
    (240, "6.2"),
    (280, "6.18"),
]


def _version(text: str) -> tuple[int, ...]:
    return tuple(map(int, text.split(".")))


def decode(kind: str, *args: str) -> dict[int, dict[str, object]]:
    """{length: {field: value or None}} from tcp_info_lengths."""
    proc = subprocess.run(
        [str(native_dir() / "tcp_info_lengths"), kind, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=standalone_env(),
        check=True,
    )
    names = tcptable.TcpInfo.__match_args__
    out = {}
    for line in proc.stdout.splitlines():
        length, *values = line.split(" ")
        assert len(values) == len(names)
        out[int(length)] = {
            n: None if v == "-" else v if n == "congestion" else int(v)
            for n, v in zip(names, values, strict=True)
        }
    return out


def pattern(offset: int, size: int) -> int:
    return int.from_bytes(bytes((offset + i) & 0xFF for i in range(size)), "little")


def test_offsets_match_the_header():
    proc = subprocess.run(
        [str(native_dir() / "tcp_info_lengths"), "offsets"],
        capture_output=True,
        text=True,
        timeout=60,
        env=standalone_env(),
        check=True,
    )
    header = {name: (int(o), int(s)) for name, o, s in map(str.split, proc.stdout.splitlines())}
    assert header.pop("sizeof")[0] >= 224  # a header of 4.19 or later
    assert header == LAYOUT


def test_every_length():
    """0 to 32 bytes past today's struct: a field is there exactly when the
    attribute reaches its end; the congestion and memory fields never come
    from INET_DIAG_INFO."""
    lengths = range(seeds.TCP_INFO_MAX + 1)
    decoded = decode("info", *map(str, lengths))
    assert sorted(decoded) == list(lengths)
    for length, fields in decoded.items():
        for name, value in fields.items():
            if name not in LAYOUT:
                assert value is None, (length, name)
                continue
            offset, size = LAYOUT[name]
            expected = pattern(offset, size) if offset + size <= length else None
            assert value == expected, (length, name)


@pytest.mark.parametrize("length, release", ERAS)
def test_kernel_era(length, release):
    """Each era's length: the fields added later are None, every other one is
    there."""
    fields = decode("info", str(length))[length]
    missing = {n for n in LAYOUT if fields[n] is None}
    assert missing == {n for n, since in LATER.items() if _version(since) > _version(release)}


def test_memory_counters_by_length():
    decoded = decode("mem", *map(str, range(48)))
    for length, fields in decoded.items():
        for name, index in MEMINFO.items():
            present = (index + 1) * 4 <= length
            assert fields[name] == (pattern(index * 4, 4) if present else None), (length, name)
        assert all(fields[n] is None for n in LAYOUT)


@pytest.mark.parametrize(
    "text, name",
    [("cubic", "cubic"), ("bbr", "bbr"), ("b" * 15, "b" * 15), ("b" * 16, None), ("", None)],
)
def test_congestion_names(text, name):
    fields = next(iter(decode("cong", text).values()))
    assert fields["congestion"] == name
