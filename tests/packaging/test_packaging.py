"""What a user meets before the tables: `tcptable --version`, and a source
build that cannot work (no compiler, another interpreter than CPython) saying
so with what to install, run as setup.py runs under pip."""

import importlib.metadata
import os
import shutil
import subprocess
import sys

import pytest
import tcptable
from netns import LINUX, skip_or_fail

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir)
SETUP = os.path.join(ROOT, "setup.py")


def installed_version() -> str:
    try:
        return importlib.metadata.version("tcptable")
    except importlib.metadata.PackageNotFoundError:  # tests/windows copies the package
        pytest.skip("tcptable is not installed as a distribution here (no metadata)")


def test_version_is_the_distributions():
    """--version prints the version pip installed (the wheel's metadata, read
    from pyproject.toml's source of it), which __version__ also says."""
    version = installed_version()
    proc = subprocess.run(
        [sys.executable, "-m", "tcptable", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"tcptable {version}\n"
    assert tcptable.__version__ == version


def source_build(python: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    if not os.path.exists(SETUP):
        pytest.skip("setup.py is not beside the tests (an installed suite without the sources)")
    return subprocess.run(
        [python, SETUP, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def says_what_to_install(text: str) -> None:
    for needed in ("apt install gcc", "apk add gcc musl-dev linux-headers", "C++ Build Tools"):
        assert needed in text
    assert "wheels for CPython 3.10 to 3.15" in text
    assert "pip install --only-binary tcptable tcptable" in text


@pytest.mark.skipif(not LINUX, reason="Linux: the compiler is chosen by CC (MSVC on Windows)")
def test_build_without_a_compiler_says_what_to_install(tmp_path):
    try:
        import setuptools  # noqa: F401
    except ImportError:
        skip_or_fail("needs setuptools (pip install setuptools)", "TCPTABLE_REQUIRE_TOOLS")
    temp = tmp_path / "temp"
    proc = source_build(
        sys.executable,
        "-q",
        "build_ext",
        "--build-temp",
        str(temp),
        "--build-lib",
        str(tmp_path / "lib"),
        CC="/nonexistent/cc",
    )
    assert proc.returncode != 0
    assert "tcptable: no C compiler: '/nonexistent/cc' is not found." in proc.stderr
    says_what_to_install(proc.stderr)
    assert not temp.exists() or not any(temp.rglob("*.o"))  # stopped before compiling


@pytest.mark.skipif(not LINUX, reason="Linux: Debian's PyPy is the other interpreter tried")
def test_other_interpreters_are_refused():
    pypy = shutil.which("pypy3")
    if pypy is None:
        skip_or_fail("needs PyPy, to be refused (Debian: pypy3)", "TCPTABLE_REQUIRE_TOOLS")
    version = subprocess.run(
        [pypy, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    proc = source_build(pypy, "-q", "build_ext")
    assert proc.returncode == 1
    assert proc.stderr == (
        f"tcptable is a CPython extension: PyPy {version} is not supported; "
        "use CPython 3.10 or newer\n"
    )
