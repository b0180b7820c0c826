"""The native test tools of tests/native/, built once per test process."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from netns import LINUX, skip_or_fail

NATIVE = Path(__file__).parent.parent / "native"
TOOLS_FLAG = "TCPTABLE_REQUIRE_TOOLS"
# For a module's skipif mark too: the Windows runner plans its sessions by marks.
OFF_LINUX = "Linux-only: the native test tools (libFuzzer, LD_PRELOAD shims)"


def standalone_env() -> dict[str, str]:
    """The environment without a preloaded sanitizer runtime (.ci/sanitize
    preloads gcc's libasan into Python): the harnesses carry their own."""
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    return env


@functools.cache
def _build() -> Path | str:
    if shutil.which("clang") is None:
        return "clang is not installed (Debian: clang, libclang-rt-14-dev)"
    out = Path(tempfile.mkdtemp(prefix="tcptable-native-"))
    proc = subprocess.run(
        [str(NATIVE / "build"), str(out)], capture_output=True, text=True, env=standalone_env()
    )
    if proc.returncode != 0:
        raise AssertionError(f"tests/native/build failed:\n{proc.stderr}")
    return out


def native_dir() -> Path:
    """Where the fuzz harnesses and failshim.so are; skips without clang."""
    if not LINUX:
        import pytest

        pytest.skip(OFF_LINUX)
    built = _build()
    if isinstance(built, str):
        skip_or_fail(built, TOOLS_FLAG)
    return built


def shim_env(**settings: str) -> dict[str, str]:
    """The environment for a child with tests/native/failshim.so preloaded
    (after .ci/sanitize's ASan runtime, which must stay first) and the shim
    settings given (TT_SHIM_*, see failshim.c)."""
    env = dict(os.environ, **settings)
    preload = [os.environ.get("LD_PRELOAD"), str(native_dir() / "failshim.so")]
    env["LD_PRELOAD"] = ":".join(filter(None, preload))
    return env


def asan_preloaded() -> bool:
    """Under .ci/sanitize ASan's malloc and recvmsg come before the shim's."""
    return "libasan" in os.environ.get("LD_PRELOAD", "")
