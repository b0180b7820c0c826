"""A short valgrind memcheck run of the leak test's call mix (successes and
every error path) in a fresh interpreter: no definite leak and no memory
error whose stack passes through the extension.

PYTHONMALLOC=malloc puts every allocation, Python objects included, under
memcheck.  A free-threaded build refuses any allocator but mimalloc ("unknown
allocator"), whose pages memcheck sees as plain mapped memory: there the run
checks what the backends allocate (they include no Python.h: plain malloc),
the C library and the system calls' buffers, not the rows or the glue's
PyMem_ blocks, which the GIL builds' run and test_refcounts.py cover."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from netns import skip_or_fail
from test_leaks import CHILD_PATH, FREE_THREADED, population  # noqa: F401  (the fixture the call mix expects)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux-only: valgrind")

HERE = Path(__file__).parent
NATIVE = HERE.parent / "native"
CHILD = f"import sys; sys.path[:0] = {CHILD_PATH!r}; import test_leaks; test_leaks.run_calls(3000)"


def extension_frames(error: ET.Element) -> list[str]:
    return [
        f"{frame.findtext('fn')} ({frame.findtext('file')}:{frame.findtext('line')})"
        for frame in error.iter("frame")
        if "tcptable/_tcptable" in (frame.findtext("obj") or "")
    ]


def allocator_env() -> dict[str, str]:
    """malloc for everything where the build allows it (see the module doc)."""
    if FREE_THREADED:
        return {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"}
    return dict(os.environ, PYTHONMALLOC="malloc")


def test_valgrind_memcheck(population, tmp_path):  # noqa: F811
    if os.environ.get("TCPTABLE_SANITIZED"):
        pytest.skip("valgrind cannot run a process with the ASan runtime preloaded")
    if shutil.which("valgrind") is None:
        skip_or_fail("valgrind is not installed (Debian: valgrind)", "TCPTABLE_REQUIRE_TOOLS")
    report = tmp_path / "memcheck.xml"
    proc = subprocess.run(
        [
            "valgrind",
            "--tool=memcheck",
            "--leak-check=full",
            "--show-leak-kinds=definite",
            f"--suppressions={NATIVE / 'cpython.supp'}",
            "--xml=yes",
            f"--xml-file={report}",
            sys.executable,
            "-c",
            CHILD,
        ],
        env=allocator_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    errors = ET.parse(report).getroot().findall("error")
    found = []
    for error in errors:
        frames = extension_frames(error)
        if frames and (
            error.findtext("kind") == "Leak_DefinitelyLost"
            or not error.findtext("kind").startswith("Leak_")
        ):
            found.append(f"{error.findtext('kind')}: {' <- '.join(frames)}")
    allocator = "mimalloc: backends only" if FREE_THREADED else "malloc: everything"
    print(f"\nvalgrind ({allocator}): {len(errors)} reports in all, {len(found)} in the extension")
    assert not found, "\n".join(found)
