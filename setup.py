"""Builds tcptable._tcptable from the sources of this platform's backend."""

import os
import runpy
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# The one source manifest (ext/manifest.py), shared with every other build.
HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = runpy.run_path(os.path.join(HERE, "ext", "manifest.py"))


SANITIZERS = {
    "1": ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"],
    "thread": ["-fsanitize=thread"],
}


def platform_key():
    return "linux" if sys.platform.startswith("linux") else sys.platform


class BuildExt(build_ext):
    """Warning flags in the dialect of the compiler setuptools picked, and
    always a full build: pip builds in the source tree, and setuptools would
    otherwise link objects left in build/ by a build with other flags (a
    TCPTABLE_SANITIZE build reusing plain objects sanitizes nothing)."""

    def finalize_options(self):
        super().finalize_options()
        self.force = True

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
    if key not in MANIFEST["TARGETS"] or key.endswith("-backend"):
        supported = sorted(t for t in MANIFEST["TARGETS"] if not t.endswith("-backend"))
        sys.exit(
            f"tcptable has no backend for {sys.platform!r}: "
            f"supported platforms are {', '.join(supported)}"
        )
    compile_args = []
    link_args = []
    # For the tests: TCPTABLE_SANITIZE=1 builds with AddressSanitizer and
    # UBSan (.ci/sanitize), =thread with ThreadSanitizer (.ci/tsan).
    sanitize = os.environ.get("TCPTABLE_SANITIZE")
    if sanitize:
        if sanitize not in SANITIZERS:
            sys.exit(f"TCPTABLE_SANITIZE={sanitize!r}: expected one of {', '.join(SANITIZERS)}")
        flags = SANITIZERS[sanitize] + ["-fno-omit-frame-pointer", "-O1", "-g"]
        compile_args += flags
        link_args += flags
    return Extension(
        "tcptable._tcptable",
        sources=[f"ext/{s}" for s in MANIFEST["sources"](key)],
        depends=[f"ext/{h}" for h in MANIFEST["headers"]()],
        include_dirs=["ext"],
        define_macros=MANIFEST["macros"](key),
        libraries=MANIFEST["libraries"](key),
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )


setup(ext_modules=[extension()], cmdclass={"build_ext": BuildExt})
