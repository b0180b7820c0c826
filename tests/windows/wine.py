"""Running the cross-compiled Windows backend (tests/windows/build.sh) under Wine.

Wine's GetTcp6Table/GetTcpTable are served by nsiproxy.sys inside winedevice.exe,
a process of the wineserver session, which reads /proc/net/tcp{,6} of ITS OWN
network namespace: the namespace of whoever started the session.  A session
left over from another namespace would show that namespace's sockets, so every
test starts a fresh session inside its namespace (``Wine.fresh_session``) and
ends it before leaving; ``Wine.check_namespace`` proves the table reader sits
in the test's namespace.

The system processes Wine starts inherit the stdout of the program that
started the session and keep it open for seconds, so the programs' output goes
to files, never to pipes.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE / "build.sh"
REQUIRE = "TCPTABLE_REQUIRE_WINE"


def missing_tools() -> str | None:
    """Why Wine tests cannot run here, or None."""
    if shutil.which("x86_64-w64-mingw32-gcc") is None:
        return "needs the mingw-w64 cross compiler (Debian: gcc-mingw-w64-x86-64)"
    if loader() is None:
        return "needs Wine's 64-bit loader (Debian: wine64)"
    if shutil.which("wineserver") is None and not Path("/usr/lib/wine/wineserver").exists():
        return "needs wineserver (Debian: wine64)"
    return None


def loader() -> str | None:
    """The wine64 loader: Debian installs it outside PATH (see `dpkg -L wine64`)."""
    for candidate in ("/usr/lib/wine/wine64", shutil.which("wine64")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def wineserver() -> str:
    path = "/usr/lib/wine/wineserver"
    return path if os.access(path, os.X_OK) else shutil.which("wineserver") or "wineserver"


# What Wine writes to the console when a process of the session faults.
SERVICE_FAULT = "wine: Unhandled "


def build(outdir: Path) -> Path:
    subprocess.run(["bash", str(BUILD), str(outdir)], check=True, capture_output=True, text=True)
    return outdir


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    def rows(self) -> list[dict]:
        """The JSON rows, without --stats lines."""
        lines = (json.loads(line) for line in self.stdout.splitlines())
        return [obj for obj in lines if "poll" not in obj]

    def stats(self) -> list[dict]:
        return [obj for obj in map(json.loads, self.stdout.splitlines()) if "poll" in obj]


class Wine:
    """A throwaway WINEPREFIX and the exes built into ``bindir``."""

    def __init__(self, prefix: Path, bindir: Path) -> None:
        self.prefix = prefix
        self.bindir = bindir
        # Without LD_PRELOAD: the sanitized run (.ci/sanitize) preloads ASan
        # for the extension, and Wine's loader cannot start under it.
        inherited = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        self.env = dict(
            inherited, WINEPREFIX=str(prefix), WINEDEBUG="-all", WINEDLLOVERRIDES="mscoree,mshtml="
        )

    def exe(self, name: str) -> str:
        return str(self.bindir / f"{name}.exe")

    def popen(self, name: str, *args: str, stdout, stderr) -> subprocess.Popen:
        return subprocess.Popen(
            [loader(), self.exe(name), *args],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
        )

    def run(self, name: str, *args: str) -> Result:
        result = self._run_once(name, *args)
        if result.returncode == 0 and result.stderr.startswith(SERVICE_FAULT):
            # The program ended well, but a process of the session faulted:
            # Wine's device host (winedevice.exe, at an address inside its
            # ntoskrnl.exe) now and then does as a fresh session starts.
            # Once more in a fresh session; a fault that repeats is returned.
            self.end_session()
            result = self._run_once(name, *args)
        return result

    def _run_once(self, name: str, *args: str) -> Result:
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            code = self.popen(name, *args, stdout=out, stderr=err).wait(timeout=300)
            out.seek(0)
            err.seek(0)
            return Result(code, out.read(), err.read())

    def end_session(self) -> None:
        """Stop the wineserver session of this prefix and every process in it."""
        server = wineserver()
        subprocess.run([server, "-k"], env=self.env, capture_output=True, timeout=60)
        subprocess.run([server, "-w"], env=self.env, capture_output=True, timeout=60)

    def session_pids(self) -> list[int]:
        """Processes of this prefix's session (found by their WINEPREFIX)."""
        marker = f"WINEPREFIX={self.prefix}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
        return pids

    def check_namespace(self) -> None:
        """Every process of the session must be in this thread's network namespace."""
        mine = os.readlink("/proc/thread-self/ns/net")
        pids = self.session_pids()
        assert pids, "no Wine session process found"
        for pid in pids:
            try:
                theirs = os.readlink(f"/proc/{pid}/ns/net")
            except OSError:
                continue  # exited meanwhile
            assert theirs == mine, f"Wine process {pid} reads another namespace's table"
