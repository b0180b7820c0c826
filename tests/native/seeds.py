"""Fuzz inputs: real sock_diag batches and /proc lines captured from the kernel,
and hand-made malformed ones.

``python tests/native/seeds.py`` (root) rebuilds tests/native/corpus/ from a
known socket population in a private network namespace; the tests use the
capture functions directly to feed today's kernel output to the harnesses.
Input layouts are documented in fuzz_netlink.c and fuzz_proc.c.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
from pathlib import Path

CORPUS = Path(__file__).parent / "corpus"
FUZZ_SEQ = 0x74637074  # fuzz_netlink.c decodes with this sequence number
NETLINK_SOCK_DIAG = 4
AF_UNIX = 1  # Linux's; Windows' socket module, which collects this file too, has none
SOCK_DIAG_BY_FAMILY = 20
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
ALL_LINUX_STATES = 0x1FFE  # 1 << 1 .. 1 << 12; never ~0 (see linux-sock-diag.md)
ALL_MIB_STATES = 0x1FFE  # bits 1..12 of the harness's state set
NLMSG_HDR = struct.Struct("=IHHII")
DIAG_MSG = struct.Struct("=BBBB HH16s16sI8s IIIII")  # struct inet_diag_msg, 72 bytes
PORTID = 4242  # port id of the hand-made batches


# Attribute types (linux/inet_diag.h); a dump asks for type T with idiag_ext
# bit T - 1.  UDP dumps ask for SKMEMINFO, TCP ones with info=True for all three.
INET_DIAG_INFO, INET_DIAG_CONG, INET_DIAG_SKMEMINFO = 2, 4, 7
INFO_EXT = 1 << (INET_DIAG_INFO - 1) | 1 << (INET_DIAG_CONG - 1) | 1 << (INET_DIAG_SKMEMINFO - 1)
SK_MEMINFO_VARS = 9  # u32 values up to SK_MEMINFO_DROPS (Linux 4.7)


def _kind(family: int, protocol: int, info: bool = False) -> int:
    """Byte 0 of a harness input: bit 0 IPv4, bit 1 UDP, bit 2 AF_UNIX, bit 3
    info=True."""
    return (
        (family == socket.AF_INET)
        | (protocol == socket.IPPROTO_UDP) << 1
        | (family == AF_UNIX) << 2
        | info << 3
    )


def netlink_input(
    family: int,
    batch: bytes,
    portid: int = PORTID,
    states: int = ALL_MIB_STATES,
    protocol: int = socket.IPPROTO_TCP,
    info: bool = False,
) -> bytes:
    """One fuzz_netlink input: family, protocol and info, state set and port
    id, then the batch."""
    return bytes([_kind(family, protocol, info)]) + struct.pack("<HI", states, portid) + batch


def proc_input(family: int, line: bytes, protocol: int = socket.IPPROTO_TCP) -> bytes:
    return bytes([_kind(family, protocol)]) + line


def capture_netlink(
    family: int, protocol: int = socket.IPPROTO_TCP, info: bool = False
) -> tuple[int, list[bytes]]:
    """Dumps every socket of ``family`` and ``protocol`` as tcptable asks
    (UDP with INET_DIAG_SKMEMINFO, TCP with info=True INFO, CONG and
    SKMEMINFO); returns (port id, raw batches)."""
    ext = 1 << (INET_DIAG_SKMEMINFO - 1) if protocol == socket.IPPROTO_UDP else 0
    ext |= INFO_EXT if info and protocol == socket.IPPROTO_TCP else 0
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG) as s:
        req = struct.pack("=BBBBI", family, protocol, ext, 0, ALL_LINUX_STATES)
        req += bytes(48)  # struct inet_diag_sockid, zero: no filter
        hdr = NLMSG_HDR.pack(
            16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, FUZZ_SEQ, 0
        )
        s.sendto(hdr + req, (0, 0))
        portid = s.getsockname()[0]
        batches = []
        while True:
            batch = s.recv(32768)
            batches.append(batch)
            if message_types(batch)[-1] in (NLMSG_DONE, NLMSG_ERROR):
                return portid, batches


def message_types(batch: bytes) -> list[int]:
    types, offset = [], 0
    while offset + 16 <= len(batch):
        length, kind = NLMSG_HDR.unpack_from(batch, offset)[:2]
        types.append(kind)
        offset += (length + 3) & ~3
    return types


def capture_proc(family: int, protocol: int = socket.IPPROTO_TCP) -> list[bytes]:
    """The data lines (header dropped) of /proc/net/tcp, tcp6, udp or udp6."""
    name = "udp" if protocol == socket.IPPROTO_UDP else "tcp"
    path = f"/proc/net/{name}" if family == socket.AF_INET else f"/proc/net/{name}6"
    with open(path, "rb") as f:
        return f.read().splitlines()[1:]


def nlmsg(
    kind: int, payload: bytes, seq: int = FUZZ_SEQ, portid: int = PORTID, length: int | None = None
) -> bytes:
    """A message; ``length`` overrides nlmsg_len.  Padded to 4 bytes."""
    body = (
        NLMSG_HDR.pack(16 + len(payload) if length is None else length, kind, 0x2, seq, portid)
        + payload
    )
    return body + bytes(-len(body) % 4)


def diag(
    family: int,
    state: int,
    src: bytes,
    dst: bytes,
    sport: int = 80,
    dport: int = 4000,
    ifindex: int = 0,
    msg_family: int | None = None,
) -> bytes:
    """A struct inet_diag_msg; addresses are padded to 16 bytes."""
    return DIAG_MSG.pack(
        family if msg_family is None else msg_family,
        state,
        0,
        0,
        socket.htons(sport),
        socket.htons(dport),
        src.ljust(16, b"\0"),
        dst.ljust(16, b"\0"),
        ifindex,
        bytes(8),
        0,
        0,
        0,
        0,
        0,
    )


def handmade_netlink() -> dict[str, bytes]:
    v6, v4 = socket.AF_INET6, socket.AF_INET
    lo6 = socket.inet_pton(v6, "::1")
    ll = socket.inet_pton(v6, "fe80::1")
    mapped = socket.inet_pton(v6, "::ffff:127.0.0.1")
    lo4 = socket.inet_aton("127.0.0.1")
    row6 = nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 1, lo6, mapped))
    done = nlmsg(NLMSG_DONE, struct.pack("=i", 0))
    attr = struct.pack("=HH", 200, 1) + bytes(4)  # rta_len runs past the message
    cases = {
        "empty-batch": (v6, b""),
        "header-truncated": (v6, row6[:9]),
        "nlmsg-len-zero": (v6, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 1, lo6, lo6), length=0)),
        "nlmsg-len-under-header": (v6, nlmsg(NLMSG_DONE, b"", length=15)),
        "nlmsg-len-past-buffer": (
            v6,
            nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 1, lo6, lo6), length=4096),
        ),
        "nlmsg-len-max": (v6, nlmsg(NLMSG_DONE, b"", length=0xFFFFFFFF)),
        "done-no-payload": (v6, nlmsg(NLMSG_DONE, b"")),
        "done-enoent": (v6, nlmsg(NLMSG_DONE, struct.pack("=i", -errno.ENOENT))),
        "error-short": (v6, nlmsg(NLMSG_ERROR, struct.pack("=h", -1))),
        "error-ebusy": (
            v6,
            nlmsg(
                NLMSG_ERROR,
                struct.pack("=i", -errno.EBUSY)
                + NLMSG_HDR.pack(72, SOCK_DIAG_BY_FAMILY, 0x301, FUZZ_SEQ, 0),
            ),
        ),
        "error-ack": (v6, nlmsg(NLMSG_ERROR, bytes(20))),
        "diag-short": (v6, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 1, lo6, lo6)[:40])),
        "diag-zero-length-payload": (v6, nlmsg(SOCK_DIAG_BY_FAMILY, b"") + done),
        "diag-other-family": (v6, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 1, lo6, lo6, msg_family=v4))),
        "diag-unknown-family": (
            v4,
            nlmsg(SOCK_DIAG_BY_FAMILY, diag(v4, 1, lo4, lo4, msg_family=99)),
        ),
        "state-zero": (v6, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 0, lo6, lo6))),
        "state-13": (v6, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 13, lo6, lo6))),
        "state-255": (v4, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v4, 255, lo4, lo4))),
        "state-new-syn-recv": (v6, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 12, lo6, lo6)) + done),
        "listen-with-peer": (v4, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v4, 10, lo4, lo4)) + done),
        "ipv4-junk-after-address": (
            v4,
            nlmsg(SOCK_DIAG_BY_FAMILY, diag(v4, 1, lo4 + b"\xff" * 12, b"\xee" * 16)) + done,
        ),
        "link-local-scope": (
            v6,
            nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 1, ll, ll, ifindex=7))
            + nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 1, lo6, ll, ifindex=7))
            + done,
        ),
        "other-seq-and-pid": (
            v6,
            nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 0, lo6, lo6), seq=1)
            + nlmsg(NLMSG_ERROR, b"", portid=1)
            + row6
            + done,
        ),
        "noop-then-done": (v6, nlmsg(NLMSG_NOOP, b"") + nlmsg(0x7777, b"xyz") + done),
        "attribute-overrun": (v6, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 1, lo6, lo6) + attr) + done),
        "unpadded-last": (v6, row6 + NLMSG_HDR.pack(17, NLMSG_NOOP, 0, FUZZ_SEQ, PORTID) + b"x"),
        "timewait-filtered": (v6, nlmsg(SOCK_DIAG_BY_FAMILY, diag(v6, 5, lo6, lo6)) + done),
        "many-rows": (v6, row6 * 300 + done),  # > 256: the row array grows
    }
    out = {name: netlink_input(family, batch) for name, (family, batch) in cases.items()}
    # TIME_WAIT only: the FIN_WAIT2 row above must be dropped by the decoder.
    out["timewait-filtered"] = netlink_input(v6, cases["timewait-filtered"][1], states=1 << 11)
    out.update(handmade_udp_netlink())
    out.update(handmade_unix_netlink())
    out.update(handmade_info_netlink())
    return out


# struct tcp_info's length in each kernel era (tcp_info.c), and Linux 6.18's.
TCP_INFO_ERAS = (104, 120, 136, 144, 160, 168, 192, 200, 224, 232, 240, 248, 280)
TCP_INFO_MAX = 280 + 32  # every length up to past the longest seen


def tcp_info_attrs(info_len: int, cong: bytes = b"cubic\0", mem_values: int = 9) -> bytes:
    """INET_DIAG_INFO of `info_len` bytes (byte i is i & 0xff), CONG and
    SKMEMINFO, as a TCP dump with info=True carries them."""
    info = bytes(i & 0xFF for i in range(info_len))
    mem = struct.pack(f"={mem_values}I", *range(1, mem_values + 1))
    return (
        nlattr(INET_DIAG_INFO, info)
        + nlattr(INET_DIAG_CONG, cong)
        + nlattr(INET_DIAG_SKMEMINFO, mem)
    )


def handmade_info_netlink() -> dict[str, bytes]:
    """TCP rows of a dump with info=True: INET_DIAG_INFO of every length from
    0 to past today's struct (a few batches, and one input per kernel era), odd
    congestion names and memory counters, rows without attributes (TIME_WAIT,
    request sockets), and the same attributes where info was not asked."""
    v6, v4 = socket.AF_INET6, socket.AF_INET
    lo6 = socket.inet_pton(v6, "::1")
    lo4 = socket.inet_aton("127.0.0.1")
    done = nlmsg(NLMSG_DONE, struct.pack("=i", 0))

    def row(attrs: bytes, family: int = v6, state: int = 1, port: int = 80) -> bytes:
        addr = lo6 if family == v6 else lo4
        return nlmsg(SOCK_DIAG_BY_FAMILY, diag(family, state, addr, addr, sport=port) + attrs)

    # Every length, in inputs under .ci/fuzz's -max_len (64 KiB).
    cases = {}
    for first in range(0, TCP_INFO_MAX + 1, 80):
        lengths = range(first, min(first + 80, TCP_INFO_MAX + 1))
        every = b"".join(row(tcp_info_attrs(n), port=n + 1) for n in lengths)
        cases[f"info-lengths-{first}-{lengths[-1]}"] = (v6, every + done)
    for n in TCP_INFO_ERAS:
        cases[f"info-era-{n}"] = (v4, row(tcp_info_attrs(n), v4) + done)
    cases.update(
        {
            "info-cong-no-nul": (v6, row(tcp_info_attrs(104, b"reno")) + done),
            "info-cong-empty": (v6, row(tcp_info_attrs(104, b"")) + done),
            "info-cong-too-long": (v6, row(tcp_info_attrs(104, b"a" * 16 + b"\0")) + done),
            "info-cong-15": (v6, row(tcp_info_attrs(104, b"b" * 15 + b"\0")) + done),
            "info-cong-not-ascii": (v6, row(tcp_info_attrs(104, b"cu\xffic\0")) + done),
            "info-mem-every-length": (
                v6,
                b"".join(row(tcp_info_attrs(0, mem_values=n)) for n in range(12)) + done,
            ),
            "info-only-cong": (v6, row(nlattr(INET_DIAG_CONG, b"bbr\0")) + done),
            "info-time-wait-bare": (v6, row(b"", state=6) + row(tcp_info_attrs(280)) + done),
            "info-overrun": (v6, row(nlattr(INET_DIAG_INFO, bytes(104), length=400)) + done),
            "info-filtered-out": (v4, row(tcp_info_attrs(280), v4, state=10) + done),
        }
    )
    out = {name: netlink_input(family, batch, info=True) for name, (family, batch) in cases.items()}
    # Attributes where info was not asked, and on a UDP dump: ignored.
    out["info-not-asked"] = netlink_input(v4, cases["info-era-280"][1])
    out["info-on-udp"] = netlink_input(v4, cases["info-era-280"][1], protocol=socket.IPPROTO_UDP)
    return out


def skmeminfo(values: int, drops: int = 7, length: int | None = None) -> bytes:
    """An INET_DIAG_SKMEMINFO attribute of `values` u32s, the last the drops."""
    payload = struct.pack(f"={values}I", *([0] * (values - 1) + [drops]))
    attr = struct.pack("=HH", 4 + len(payload) if length is None else length, INET_DIAG_SKMEMINFO)
    return attr + payload


def handmade_udp_netlink() -> dict[str, bytes]:
    """UDP rows: unconnected (TCP_CLOSE) with a peer the decoder must drop,
    connected, and SKMEMINFO attributes of every length."""
    v6, v4 = socket.AF_INET6, socket.AF_INET
    lo6 = socket.inet_pton(v6, "::1")
    lo4 = socket.inet_aton("127.0.0.1")
    done = nlmsg(NLMSG_DONE, struct.pack("=i", 0))
    other = struct.pack("=HH", 5, 8) + b"\x01\0\0\0"  # INET_DIAG_SHUTDOWN, padded
    cases = {
        "udp-unconnected-with-peer": (v4, diag(v4, 7, lo4, lo4) + skmeminfo(9)),
        "udp-connected": (v6, diag(v6, 1, lo6, lo6) + other + skmeminfo(9)),
        "udp-meminfo-before-4.7": (v6, diag(v6, 7, lo6, bytes(16)) + skmeminfo(8)),
        "udp-meminfo-longer": (v4, diag(v4, 1, lo4, lo4) + skmeminfo(12)),
        "udp-meminfo-overrun": (v6, diag(v6, 7, lo6, bytes(16)) + skmeminfo(9, length=200)),
        "udp-attribute-under-header": (v6, diag(v6, 7, lo6, bytes(16)) + skmeminfo(9, length=3)),
        "udp-attribute-cut": (v4, diag(v4, 7, lo4, bytes(16)) + skmeminfo(9)[:6]),
        "udp-listen-state": (v4, diag(v4, 10, lo4, lo4) + skmeminfo(9)),
    }
    return {
        name: netlink_input(
            family, nlmsg(SOCK_DIAG_BY_FAMILY, payload) + done, protocol=socket.IPPROTO_UDP
        )
        for name, (family, payload) in cases.items()
    }


UNIX_DIAG_MSG = struct.Struct("=BBBBI8s")  # struct unix_diag_msg, 16 bytes
UNIX_DIAG_NAME, UNIX_DIAG_PEER, UNIX_DIAG_RQLEN, UNIX_DIAG_UID = 0, 2, 4, 7


def nlattr(kind: int, payload: bytes, length: int | None = None) -> bytes:
    """An attribute; ``length`` overrides nla_len.  Padded to 4 bytes."""
    body = struct.pack("=HH", 4 + len(payload) if length is None else length, kind) + payload
    return body + bytes(-len(body) % 4)


def unix_diag(kind: int, state: int, inode: int, family: int = AF_UNIX) -> bytes:
    return UNIX_DIAG_MSG.pack(family, kind, state, 0, inode, bytes(8))


def handmade_unix_netlink() -> dict[str, bytes]:
    """AF_UNIX rows: names (path with its NUL, abstract with NULs inside,
    empty), peers (0: not accepted yet), queues, uid, and bad attributes."""
    done = nlmsg(NLMSG_DONE, struct.pack("=i", 0))
    rqlen = nlattr(UNIX_DIAG_RQLEN, struct.pack("=II", 3, 7))
    cases = {
        "unix-path": unix_diag(1, 10, 11) + nlattr(UNIX_DIAG_NAME, b"/tmp/sock\0") + rqlen,
        "unix-abstract": unix_diag(2, 7, 12) + nlattr(UNIX_DIAG_NAME, b"\0a\0b"),
        "unix-empty-name": unix_diag(5, 7, 13) + nlattr(UNIX_DIAG_NAME, b""),
        "unix-peer-uid": unix_diag(1, 1, 14)
        + nlattr(UNIX_DIAG_PEER, struct.pack("=I", 15))
        + nlattr(UNIX_DIAG_UID, struct.pack("=I", 1000))
        + rqlen,
        "unix-peer-zero": unix_diag(1, 1, 16) + nlattr(UNIX_DIAG_PEER, struct.pack("=I", 0)),
        "unix-second-peer-zero": unix_diag(1, 1, 23)
        + nlattr(UNIX_DIAG_PEER, struct.pack("=I", 15))
        + nlattr(UNIX_DIAG_PEER, struct.pack("=I", 0)),
        "unix-short-attributes": unix_diag(1, 1, 17)
        + nlattr(UNIX_DIAG_PEER, b"\1")
        + nlattr(UNIX_DIAG_RQLEN, b"\1\0\0\0")
        + nlattr(UNIX_DIAG_UID, b""),
        "unix-attribute-overrun": unix_diag(1, 1, 18) + nlattr(UNIX_DIAG_NAME, b"/x", length=99),
        "unix-attribute-cut": unix_diag(1, 1, 19) + nlattr(UNIX_DIAG_NAME, b"/tmp/x")[:5],
        "unix-message-short": unix_diag(1, 1, 20)[:12],
        "unix-other-family": unix_diag(1, 1, 21, family=socket.AF_INET),
        "unix-unknown-state": unix_diag(1, 13, 22),
    }
    return {
        name: netlink_input(AF_UNIX, nlmsg(SOCK_DIAG_BY_FAMILY, payload) + done)
        for name, payload in cases.items()
    }


def handmade_unix_proc() -> dict[str, bytes]:
    """/proc/net/unix lines: listener, connected, abstract, unnamed, a queued
    connection (inode 0), and what may go wrong."""
    listen = b"000000004c6851fb: 00000002 00000000 00010000 0001 01 7708627 /tmp/l"
    cases = {
        "unix-listen": listen,
        "unix-connected": b"00000000c4005be4: 00000003 00000000 00000000 0001 03 7708626",
        "unix-abstract": b"00000000fea1ebd9: 00000002 00000000 00000000 0002 01 7708629 @a@b",
        "unix-queued": b"00000000cfa82e13: 00000003 00000000 00000000 0001 02     0 /tmp/l",
        "unix-hidden-pointer": b"0000000000000000: 00000002 00000000 00000000 0005 01  1363",
        "unix-no-pointer": listen[listen.index(b":") :],
        "unix-path-after-two-spaces": listen.replace(b" /tmp", b"  /tmp"),
        "unix-trailing-space": listen[: listen.index(b" /tmp")] + b" ",
        "unix-type-too-large": listen.replace(b" 0001 ", b" 0100 "),
        "unix-inode-not-decimal": listen.replace(b"7708627", b"77x8627"),
        "unix-truncated": listen[:40],
        "unix-header": b"Num       RefCount Protocol Flags    Type St Inode Path",
    }
    return {name: proc_input(AF_UNIX, line) for name, line in cases.items()}


def handmade_proc() -> dict[str, bytes]:
    v6, v4 = socket.AF_INET6, socket.AF_INET
    good4 = b"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000"
    good6 = (
        b"   1: 00000000000000000000000001000000:0050 "
        b"0000000000000000FFFF00000100007F:9C40 01 00000000:00000000 00:00000000"
    )
    cases = {
        "empty": (v6, b""),
        "spaces": (v4, b"       "),
        "header": (v4, b"  sl  local_address rem_address   st tx_queue rx_queue tr"),
        "no-slot": (v4, good4.lstrip()[3:]),
        "huge-slot": (v4, b"99999999999999999999999" + good4.lstrip()[1:]),
        "truncated-address": (v6, good6[:30]),
        "truncated-port": (v4, good4[:22]),
        "truncated-state": (v4, good4[:36]),
        "bad-hex": (v4, good4.replace(b"7F", b"7G")),
        "lowercase-hex": (v6, good6.lower()),
        "state-00": (v4, good4.replace(b" 0A ", b" 00 ")),
        "state-0C": (v4, good4.replace(b" 0A ", b" 0C ")),
        "state-FF": (v6, good6.replace(b" 01 ", b" FF ")),
        "state-glued": (v4, good4.replace(b" 0A ", b" 0A0")),
        "no-colon": (v4, good4.replace(b":1F90", b"1F90")),
        "ipv4-line-as-ipv6": (v6, good4),
        "ipv6-line-as-ipv4": (v4, good6),
        "listen-with-peer": (v4, good4.replace(b"00000000:0000", b"0200007F:0050")),
        "nul-bytes": (v6, good6.replace(b" ", b"\0")),
    }
    out = {name: proc_input(family, line) for name, (family, line) in cases.items()}
    out.update(handmade_udp_proc())
    out.update(handmade_unix_proc())
    return out


def handmade_udp_proc() -> dict[str, bytes]:
    """/proc/net/udp{,6} lines: the drops column after ref and pointer, the
    padding udp4 adds, and what may go wrong there."""
    v6, v4 = socket.AF_INET6, socket.AF_INET
    good4 = (
        b"13138: 0100007F:9F25 00000000:0000 07 00000000:00000000 00:00000000 00000000"
        b"     0        0 24165 2 00000000f743f5b6 12         "
    )
    good6 = (
        b"16375: 00000000000000000000000001000000:EBCA "
        b"00000000000000000000000001000000:0035 01 00000000:00000000 00:00000000 00000000"
        b"     0        0 24166 2 00000000b8be9e39 0"
    )
    cases = {
        "udp-unconnected": (v4, good4),
        "udp-connected": (v6, good6),
        "udp-unconnected-with-peer": (v4, good4.replace(b"00000000:0000", b"0200007F:0050")),
        "udp-no-drops": (v4, good4[: good4.index(b" 12")]),
        "udp-no-pointer": (v6, good6[: good6.index(b" 00000000b8")]),
        "udp-pointer-not-hex": (v6, good6.replace(b"b8be9e39", b"b8be9e3z")),
        "udp-drops-negative": (v4, good4.replace(b" 12 ", b" -1 ")),
        "udp-drops-too-large": (v6, good6[:-1] + b"4294967296"),
        "udp-junk-after-drops": (v4, good4.rstrip() + b" x"),
        "udp-tcp-line": (
            v4,
            good4[: good4.index(b" 2 0000")] + b" 1 0000000000000000 100 20 4 10 -1",
        ),
    }
    return {
        name: proc_input(family, line, socket.IPPROTO_UDP) for name, (family, line) in cases.items()
    }


def diff_input(keys: int, prev: list[tuple[int, int]], cur: list[tuple[int, int]]) -> bytes:
    """One fuzz_diff input: rows as (key, state) pairs (see fuzz_diff.c)."""
    rows = [(k, s) for k, s in prev] + [(0x80 | k, s) for k, s in cur]
    return bytes([keys - 1]) + b"".join(bytes(row) for row in rows)


def handmade_diff() -> dict[str, bytes]:
    """Tables a Watcher meets: unchanged, opened, closed, changed, rows that
    share a key, and seeded random ones."""
    import random

    same = [(k, 1) for k in range(8)]
    cases = {
        "empty": diff_input(1, [], []),
        "first-poll": diff_input(8, [], same),
        "unchanged": diff_input(8, same, same),
        "unchanged-reordered": diff_input(8, same, same[::-1]),
        "all-closed": diff_input(8, same, []),
        "one-opened-middle": diff_input(9, same, same[:4] + [(8, 1)] + same[4:]),
        "one-closed-middle": diff_input(8, same, same[:3] + same[4:]),
        "one-changed": diff_input(8, same, same[:2] + [(2, 2)] + same[3:]),
        "shared-key-one-closed": diff_input(1, [(0, 1)] * 3, [(0, 1)] * 2),
        "shared-key-one-changed": diff_input(1, [(0, 1)] * 3, [(0, 1), (0, 2), (0, 1)]),
        "shared-key-more-changed": diff_input(1, [(0, 1), (0, 2)], [(0, 3), (0, 3), (0, 1)]),
        "head-and-tail-kept": diff_input(8, same, same[:1] + [(5, 3), (7, 2)] + same[-1:]),
    }
    rng = random.Random(11)
    for n in range(12):
        keys = rng.randint(1, 16)
        prev = [(rng.randrange(keys), rng.randint(1, 3)) for _ in range(rng.randint(0, 40))]
        cur = [r if rng.random() < 0.8 else (r[0], rng.randint(1, 3)) for r in prev]
        cur = [r for r in cur if rng.random() < 0.9]
        cur += [(rng.randrange(keys), rng.randint(1, 3)) for _ in range(rng.randint(0, 5))]
        cases[f"random-{n:02}"] = diff_input(keys, prev, cur)
    return cases


CAPTURED = [
    (socket.AF_INET6, socket.IPPROTO_TCP, "tcp6"),
    (socket.AF_INET, socket.IPPROTO_TCP, "tcp4"),
    (socket.AF_INET6, socket.IPPROTO_UDP, "udp6"),
    (socket.AF_INET, socket.IPPROTO_UDP, "udp4"),
]


def udp_population() -> list[socket.socket]:
    """An unconnected and a connected UDP socket per family, the connected
    one's datagrams unread (a receive queue), and its peer."""
    made = []
    for family, addr in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
        server = socket.socket(family, socket.SOCK_DGRAM)
        client = socket.socket(family, socket.SOCK_DGRAM)
        made += [server, client]
        server.bind((addr, 0))
        client.bind((addr, 0))
        client.connect(server.getsockname())
        client.send(b"x" * 100)
    return made


def write_corpus() -> None:
    sys.path.insert(0, str(Path(__file__).parent.parent / "support"))
    from netns import private_netns
    from population import standard

    corpus = {"netlink": handmade_netlink(), "proc": handmade_proc(), "diff": handmade_diff()}
    with private_netns():
        pop = standard()  # every state the tests can hold still
        try:
            udp = udp_population()
            for family, protocol, tag in CAPTURED:
                portid, batches = capture_netlink(family, protocol)
                for i, batch in enumerate(batches):
                    corpus["netlink"][f"captured-{tag}-{i}"] = netlink_input(
                        family, batch, portid, protocol=protocol
                    )
                for line in capture_proc(family, protocol):  # one line per state is enough
                    state = line.split()[3].decode()
                    corpus["proc"][f"captured-{tag}-state-{state}"] = proc_input(
                        family, line, protocol
                    )
        finally:
            pop.close()
            for s in udp:
                s.close()
    for kind, inputs in corpus.items():
        (CORPUS / kind).mkdir(parents=True, exist_ok=True)
        for name, data in inputs.items():
            (CORPUS / kind / name).write_bytes(data)
    print(f"{sum(map(len, corpus.values()))} inputs written under {CORPUS}")


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("seeds.py needs root to build a network namespace")
    write_corpus()
