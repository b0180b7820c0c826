"""Builds tcptable._tcptable from the sources of this platform's backend."""

import os
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

COMMON = ["ext/module.c", "ext/rows.c", "ext/addr.c"]
BACKENDS = {
    "linux": {
        "sources": ["ext/backend_linux.c", "ext/netlink_linux.c", "ext/procnet_linux.c"],
        "depends": ["ext/linux.h"],
        "define_macros": [("_GNU_SOURCE", None)],
    },
    "win32": {
        "sources": ["ext/backend_windows.c"],
        "depends": ["ext/backend_windows.h"],
        # Vista's API level (GetTcp6Table); no winsock.h from windows.h.
        "define_macros": [("_WIN32_WINNT", "0x0600"), ("WIN32_LEAN_AND_MEAN", None)],
        "libraries": ["iphlpapi", "ws2_32"],
    },
}


def platform_key():
    return "linux" if sys.platform.startswith("linux") else sys.platform


class BuildExt(build_ext):
    """Warning flags in the dialect of the compiler setuptools picked."""

    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            flags = ["/W4"]
        else:
            flags = ["-Wall", "-Wextra", "-std=c11"]
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
        super().build_extensions()


def extension():
    key = platform_key()
    if key not in BACKENDS:
        sys.exit(
            f"tcptable has no backend for {sys.platform!r}: "
            f"supported platforms are {', '.join(sorted(BACKENDS))}"
        )
    backend = BACKENDS[key]
    compile_args = []
    link_args = []
    # TCPTABLE_SANITIZE=1 builds with AddressSanitizer and UBSan for the tests.
    if os.environ.get("TCPTABLE_SANITIZE") == "1":
        flags = [
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=undefined",
            "-O1",
            "-g",
        ]
        compile_args += flags
        link_args += flags
    return Extension(
        "tcptable._tcptable",
        sources=COMMON + backend["sources"],
        depends=["ext/tcptable.h", *backend["depends"]],
        define_macros=backend["define_macros"],
        libraries=backend.get("libraries", []),
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )


setup(ext_modules=[extension()], cmdclass={"build_ext": BuildExt})
