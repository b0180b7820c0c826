"""Builds tcptable._tcptable from the sources of this platform's backend."""

import os
import sys

from setuptools import Extension, setup

COMMON = ["ext/module.c", "ext/rows.c", "ext/addr.c"]
BACKENDS = {
    "linux": ["ext/backend_linux.c", "ext/netlink_linux.c", "ext/procnet_linux.c"],
}


def platform_key():
    return "linux" if sys.platform.startswith("linux") else sys.platform


def extension():
    key = platform_key()
    if key not in BACKENDS:
        sys.exit(
            f"tcptable has no backend for {sys.platform!r}: "
            f"supported platforms are {', '.join(sorted(BACKENDS))}"
        )
    compile_args = ["-Wall", "-Wextra", "-std=c11", "-D_GNU_SOURCE"]
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
        sources=COMMON + BACKENDS[key],
        depends=["ext/tcptable.h", "ext/linux.h"],
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )


setup(ext_modules=[extension()])
