"""The one list of the extension's C sources and build settings.

Every build reads it: setup.py (the extension), tests/native/build (fuzzers and
native test tools), tests/windows (the Windows builds) and benchmarks/bench.py
(the bare C dump).  Paths are relative to this folder, which is also the one
include directory (``#include "tcptable.h"``, ``"arch/linux/backend.h"``).

From a shell: ``python3 ext/manifest.py sources|macros|libraries TARGET``
prints one item per line (sources as absolute paths, macros as ``NAME`` or
``NAME=VALUE``).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Parts: sources, preprocessor macros and libraries that travel together.
PARTS: dict[str, dict[str, list]] = {
    # Shared by every backend, no OS and no Python: rows, sort, address text,
    # the Watcher's diff.
    "core": {
        "sources": ["core/rows.c", "core/addr.c", "core/diff.c"],
    },
    # The Python glue: the only files that include Python.h.
    "py": {
        "sources": [
            "py/module.c",
            "py/query.c",
            "py/args.c",
            "py/run.c",
            "py/tables.c",
            "py/counts.c",
            "py/rowtypes.c",
            "py/errors.c",
            "py/namespaces.c",
            "py/stats.c",
            "py/info.c",
            "py/watcher.c",
        ],
    },
    "linux": {
        "sources": [
            "arch/linux/dump.c",
            "arch/linux/states.c",
            "arch/linux/netlink.c",
            "arch/linux/diag.c",
            "arch/linux/tcp_info.c",
            "arch/linux/unixdiag.c",
            "arch/linux/bytecode.c",
            "arch/linux/procnet.c",
            "arch/linux/procfs.c",
            "arch/linux/owners.c",
            "arch/linux/netns.c",
            "arch/linux/snmp.c",
        ],
        "macros": [("_GNU_SOURCE", None)],
        "libraries": ["pthread"],  # netns.c's helper thread (glibc < 2.34, musl's no-op)
    },
    "windows": {
        "sources": ["arch/windows/tables.c", "arch/windows/stats.c"],
        # Vista's API level (GetTcp6Table); no winsock.h from windows.h.
        "macros": [("_WIN32_WINNT", "0x0600"), ("WIN32_LEAN_AND_MEAN", None)],
        "libraries": ["iphlpapi", "ws2_32"],
    },
}

# What each build links: the extension per sys.platform key, and the backends
# alone (no Python) for the native tools, the Wine driver and the benchmark.
TARGETS: dict[str, tuple[str, ...]] = {
    "linux": ("py", "core", "linux"),
    "win32": ("py", "core", "windows"),
    "linux-backend": ("core", "linux"),
    "win32-backend": ("core", "windows"),
}


def _collect(target: str, key: str) -> list:
    if target not in TARGETS:
        raise KeyError(f"unknown target {target!r}: choose from {', '.join(TARGETS)}")
    return [item for part in TARGETS[target] for item in PARTS[part].get(key, [])]


def sources(target: str) -> list[str]:
    """Source paths relative to this folder."""
    return _collect(target, "sources")


def macros(target: str) -> list[tuple[str, str | None]]:
    return _collect(target, "macros")


def libraries(target: str) -> list[str]:
    return _collect(target, "libraries")


def headers() -> list[str]:
    """Every header, relative to this folder (setup.py's ``depends``)."""
    found = []
    for folder, _, names in os.walk(HERE):
        found += [os.path.relpath(os.path.join(folder, n), HERE) for n in names if n.endswith(".h")]
    return sorted(found)


def _main(argv: list[str]) -> int:
    kinds = {
        "sources": lambda t: [os.path.join(HERE, s) for s in sources(t)],
        "macros": lambda t: [n if v is None else f"{n}={v}" for n, v in macros(t)],
        "libraries": libraries,
    }
    if len(argv) != 2 or argv[0] not in kinds or argv[1] not in TARGETS:
        print(
            f"usage: manifest.py {'|'.join(kinds)} {'|'.join(TARGETS)}",
            file=sys.stderr,
        )
        return 2
    print("\n".join(kinds[argv[0]](argv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
