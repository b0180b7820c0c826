"""Builds tcptable._tcptable from the sources of this platform's backend."""

import os
import platform
import runpy
import shutil
import sys

# Before setuptools is imported: the refusal reads the same under any
# interpreter.  The extension uses CPython's C API and its structseq layout.
if sys.implementation.name != "cpython":
    sys.exit(
        f"tcptable is a CPython extension: {platform.python_implementation()} "
        f"{platform.python_version()} is not supported; use CPython 3.10 or newer"
    )

from setuptools import Extension, setup  # noqa: E402
from setuptools.command.build_ext import build_ext  # noqa: E402
from setuptools.errors import PlatformError  # noqa: E402

# The one source manifest (ext/manifest.py), shared with every other build.
HERE = os.path.dirname(os.path.abspath(__file__))
MANIFEST = runpy.run_path(os.path.join(HERE, "ext", "manifest.py"))


# What a source build needs, per platform, and the wheels that need nothing.
PYTHON = "python{}.{}".format(*sys.version_info[:2])
NEEDS = f"""tcptable builds a C extension from source here, and needs:
  Debian, Ubuntu: apt install gcc libc6-dev python3-dev ({PYTHON}-dev for Debian's {PYTHON})
  Alpine: apk add gcc musl-dev linux-headers python3-dev
  Windows: Microsoft C++ Build Tools (Visual Studio's "Desktop development with C++")
or a wheel, which needs none of them: PyPI has wheels for CPython 3.10 to 3.15 and the
free-threaded 3.14t and 3.15t, for Linux (manylinux and musllinux; x86_64, aarch64) and
Windows (AMD64, ARM64): pip install --only-binary tcptable tcptable"""


def cannot_build(why):
    sys.exit(f"tcptable: {why}.\n{NEEDS}")


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

    def check_tools(self):
        """A missing compiler or Python.h said with what to install, instead
        of setuptools' bare "No such file or directory"."""
        cc = self.compiler.compiler_so[0]
        if shutil.which(cc) is None:
            cannot_build(f"no C compiler: {cc!r} is not found")
        if not any(os.path.exists(os.path.join(d, "Python.h")) for d in self.include_dirs):
            cannot_build(f"no Python.h (CPython's headers) in {', '.join(self.include_dirs)}")

    def build_extensions(self):
        link = []
        if self.compiler.compiler_type == "msvc":
            flags = ["/W4"]  # MSVC writes symbols to a .pdb only when asked
        else:
            self.check_tools()
            flags = ["-Wall", "-Wextra", "-std=c11"]
            if not os.environ.get("TCPTABLE_SANITIZE"):
                # A release build: no debug info (CPython's CFLAGS bring -g)
                # and no symbol table; the exported init function stays.
                flags.append("-g0")
                link.append("-s")
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
            ext.extra_link_args = ext.extra_link_args + link
        try:
            super().build_extensions()
        except PlatformError as exc:  # MSVC not installed
            cannot_build(str(exc).rstrip("."))


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
    macros = MANIFEST["macros"](key)
    # TCPTABLE_PUBLIC_ROWS=1 builds rows through PyStructSequence_New() on any
    # CPython (ext/py/rowtypes.c), as CI tests that path on every run.
    if os.environ.get("TCPTABLE_PUBLIC_ROWS") == "1":
        macros.append(("TT_PUBLIC_ROWS", None))
    return Extension(
        "tcptable._tcptable",
        sources=[f"ext/{s}" for s in MANIFEST["sources"](key)],
        depends=[f"ext/{h}" for h in MANIFEST["headers"]()],
        include_dirs=["ext"],
        define_macros=macros,
        libraries=MANIFEST["libraries"](key),
        extra_compile_args=compile_args,
        extra_link_args=link_args,
    )


setup(ext_modules=[extension()], cmdclass={"build_ext": BuildExt})
