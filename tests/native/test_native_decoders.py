"""The pure decoders under ASan+UBSan with their fuzz harnesses' invariants:
the committed regression corpus, today's kernel output, and a 4 GiB batch."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest
from native_tools import NATIVE, native_dir, standalone_env
from population import Population

sys.path.insert(0, str(NATIVE))
import seeds  # noqa: E402

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux-only: the Linux decoders' harnesses"
)

FAMILIES = [(socket.AF_INET6, "tcp6", "::1"), (socket.AF_INET, "tcp4", "127.0.0.1")]


def run_harness(name: str, inputs: list[Path]) -> None:
    """Runs each input once; fails on any sanitizer report or broken invariant."""
    assert inputs
    proc = subprocess.run(
        [str(native_dir() / name), *map(str, inputs)],
        capture_output=True,
        text=True,
        timeout=120,
        env=standalone_env(),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    executed = [line for line in proc.stderr.splitlines() if line.startswith("Executed ")]
    assert len(executed) == len(inputs), proc.stderr[-4000:]


@pytest.mark.parametrize("kind", ["netlink", "proc", "bytecode", "diff"])
def test_regression_corpus(kind):
    inputs = sorted((NATIVE / "corpus" / kind).iterdir())
    assert len(inputs) >= 20
    run_harness(f"fuzz_{kind}", inputs)


def ss_count(family: int, protocol: int) -> int:
    """Sockets ss lists (ss -tanH or -uanH, -4 or -6)."""
    kind = "-uanH" if protocol == socket.IPPROTO_UDP else "-tanH"
    family_flag = "-6" if family == socket.AF_INET6 else "-4"
    out = subprocess.run(
        ["ss", kind, family_flag], capture_output=True, text=True, check=True
    ).stdout
    return len(out.splitlines())


def test_live_kernel_output(netns, tmp_path):
    """Batches and lines the kernel produces right now, for every state the
    population builds, TCP (with and without info) and UDP, go through both
    harnesses."""
    pop = Population()
    udp: list[socket.socket] = []
    try:
        for family, _, addr in FAMILIES:
            lst = pop.listener(family, addr)
            for _ in range(150):  # > 256 rows in total: the row array grows
                pop.connect(lst)
            pop.half_closed(lst)
            pop.time_wait(lst)
            pop.syn_sent(family, addr)
        pop.link_local()
        udp += seeds.udp_population()
        netlink_inputs, proc_inputs = [], []
        for family, protocol, tag in seeds.CAPTURED:
            portid, batches = seeds.capture_netlink(family, protocol)
            rows = sum(seeds.message_types(b).count(seeds.SOCK_DIAG_BY_FAMILY) for b in batches)
            assert rows == ss_count(family, protocol)
            for i, batch in enumerate(batches):
                netlink_inputs.append(tmp_path / f"{tag}-batch-{i}")
                netlink_inputs[-1].write_bytes(
                    seeds.netlink_input(family, batch, portid, protocol=protocol)
                )
            whole = b"".join(batches)  # one input holding the whole dump
            netlink_inputs.append(tmp_path / f"{tag}-whole")
            netlink_inputs[-1].write_bytes(
                seeds.netlink_input(family, whole, portid, protocol=protocol)
            )
            if protocol == socket.IPPROTO_TCP:  # and as tcp6(info=True) asks
                portid, batches = seeds.capture_netlink(family, protocol, info=True)
                for i, batch in enumerate(batches):
                    netlink_inputs.append(tmp_path / f"{tag}-info-batch-{i}")
                    netlink_inputs[-1].write_bytes(
                        seeds.netlink_input(family, batch, portid, info=True)
                    )
            lines = seeds.capture_proc(family, protocol)
            assert len(lines) == rows
            for i, line in enumerate(lines):
                proc_inputs.append(tmp_path / f"{tag}-line-{i}")
                proc_inputs[-1].write_bytes(seeds.proc_input(family, line, protocol))
    finally:
        pop.close()
        for s in udp:
            s.close()
    assert len(netlink_inputs) >= 6
    run_harness("fuzz_netlink", netlink_inputs)
    run_harness("fuzz_proc", proc_inputs)


def test_length_near_uint32_max_terminates():
    """nlmsg_len 0xFFFFFFFF in a 4 GiB batch: the decoder must step past it
    (it looped forever before NLMSG_ALIGN was done in size_t)."""
    proc = subprocess.run(
        [str(native_dir() / "huge_length")],
        capture_output=True,
        text=True,
        timeout=60,
        env=standalone_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
