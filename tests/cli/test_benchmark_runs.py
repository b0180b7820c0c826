"""benchmarks/bench.py still runs end to end (its figures are not judged here:
no test relies on timing)."""

import importlib.util
import os
import re
import runpy
import subprocess
import sys

import pytest
from netns import skip_or_fail

BENCH = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, "benchmarks", "bench.py")


CALLS = {
    "table": ["bare C dump (limit)", "tcp6()", "tcp6(sort=True)", "counts()", "ss -t6 -anH"],
    "owners": [
        "bare C dump + fd walk (limit)",
        "tcp6(pids=True)",
        "bare C fd walk",
        "psutil.net_connections('tcp6')",
        "ss -t6 -anpH",
    ],
    "netns": ["bare C dump (limit)", "tcp6()", "tcp6(netns=path)", "tcp6(netns=fd)"],
    "ports": [
        "bare C dump (limit)",
        "tcp6(local_ports={P})",
        "counts(local_ports={P})",
        'counts(by="local_port")',
        "ss -tanH 'sport = :P'",
    ],
    "watch": [
        "bare C dump (limit)",
        "Watcher.poll(), unchanged",
        "Watcher.poll(), 1% changed",
    ],
    "udp": [
        "bare C dump (limit)",
        "udp6()",
        "udp6(sort=True)",
        "psutil.net_connections('udp6')",
        "Python parse of /proc/net/udp6",
        "ss -u6 -anH",
    ],
    "compat": [
        "bare C dumps + fd walk (limit)",
        "compat.net_connections('inet')",
        "psutil.net_connections('inet')",
        "the 4 tables, pids=True",
        "bare C dumps",
    ],
    "unix": [
        "bare C dump (limit)",
        "unix()",
        "unix(sort=True)",
        "psutil.net_connections('unix')",
        "ss -xaH",
    ],
}

# The rows of the table each scenario checks, from --connections n, all
# built by one child: n connections are 2n rows and its listener's one; the
# udp and unix scenarios build 2n sockets, and a UNIX table has the child's
# control pipe (a socketpair) too; compat's table is tcp6() + udp6().
ROWS = {
    "table": lambda n: 2 * n + 1,
    "owners": lambda n: 2 * n + 1,
    "netns": lambda n: 2 * n + 1,
    "ports": lambda n: 2 * n + 1,
    "watch": lambda n: 2 * n + 1,
    "udp": lambda n: 2 * n,
    "compat": lambda n: (2 * n + 1) + 2 * n,
    "unix": lambda n: 2 * n + 2,
}


# Every series of the scaling chart, the limit first.
SCALING = [
    "bare C dump (limit)",
    "tcp6()",
    "counts()",
    "psutil.net_connections('tcp6')",
    "Python parse of /proc/net/tcp6",
    "ss -t6 -anH",
]
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Linux-only: the benchmark"
)


def needs_netns() -> None:
    probe = subprocess.run(["unshare", "--net", "true"], capture_output=True, text=True)
    if os.geteuid() != 0 or probe.returncode != 0:
        skip_or_fail(f"the benchmark needs a network namespace (root): {probe.stderr.strip()}")


def test_every_scenario_is_run_here():
    # bench.py defines its scenarios at import and runs nothing: a scenario
    # added there without its calls and rows here would go untested.
    scenarios = runpy.run_path(BENCH)["SCENARIOS"]
    assert sorted(scenarios) == sorted(CALLS) == sorted(ROWS)


def run_bench(scenario: str, n: int, *options: str) -> str:
    out = subprocess.run(
        [sys.executable, BENCH, "--connections", str(n), "--rounds", "1", "--polls", "2"]
        + ["--scenario", scenario, *options],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # 1 only means a goal was missed, which tables this small are expected to do.
    assert out.returncode in (0, 1), out.stderr
    rows = re.search(r"(\d+) rows in the table \(bare dump: (\d+)\)", out.stdout)
    assert rows, out.stdout
    assert int(rows[1]) == int(rows[2]) == ROWS[scenario](n)
    assert "retained memory <= 260 bytes per row" in out.stdout
    return out.stdout


@pytest.mark.parametrize("scenario", sorted(CALLS))
def test_benchmark_runs_and_its_limit_sees_the_same_table(scenario):
    needs_netns()
    out = run_bench(scenario, 200)
    for call in CALLS[scenario]:
        assert f"| `{call}` |" in out


def test_udp_scenario_reads_udp4_with_ipv4():
    needs_netns()
    out = run_bench("udp", 200, "--ipv4")
    for call in ["udp4()", "psutil.net_connections('udp4')", "Python parse of /proc/net/udp"]:
        assert f"| `{call}` |" in out
    assert "udp4() <= 1.3x bare C dump (limit)" in out


def test_scaling_grows_the_table_and_draws_every_series(tmp_path):
    if os.environ.get("TCPTABLE_SANITIZED"):
        # Its C++ (ft2font) throws on import, and a preloaded ASan runtime
        # cannot intercept __cxa_throw from a libstdc++ loaded after it.
        pytest.skip("matplotlib cannot run with the ASan runtime preloaded")
    needs_netns()
    if importlib.util.find_spec("matplotlib") is None:
        skip_or_fail(
            "bench.py --scaling draws with matplotlib (pip install -r benchmarks/requirements.txt)",
            "TCPTABLE_REQUIRE_TOOLS",
        )
    import matplotlib.colors
    from matplotlib import rcParams
    from PIL import Image

    chart = tmp_path / "scaling.png"
    out = subprocess.run(
        [sys.executable, BENCH, "--scaling", "--sizes", "400,200", "--rounds", "1"]
        + ["--chart", str(chart)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    # Smallest size first; each size is size/2 connections (two rows each)
    # plus one listener per child, and the population grew by one child a size.
    rows = re.findall(r"(\d+) rows in the table \(bare dump: (\d+)\)", out.stdout)
    assert rows == [(str(2 * 100 + 1),) * 2, (str(2 * 200 + 2),) * 2], out.stdout
    for call in SCALING:
        assert re.search(rf"\| `{re.escape(call)}` \| [\d.]+ ms \| [\d.]+ ms \|", out.stdout)
    with Image.open(chart) as image:
        image.load()  # decodes every pixel: a truncated or corrupt file raises
        assert image.format == "PNG"
        assert image.text["Description"].split("\n") == SCALING
        colors = {rgb for _, rgb in image.convert("RGB").getcolors(maxcolors=1 << 24)}
    # Each series drawn (line, markers, legend) in the next of matplotlib's
    # colours, none of which the axes' black text can make.
    for color in rcParams["axes.prop_cycle"].by_key()["color"][: len(SCALING)]:
        rgb = tuple(round(255 * c) for c in matplotlib.colors.to_rgb(color))
        assert rgb in colors, color
