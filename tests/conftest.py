import json
import os
import signal
import socket
import sys
import uuid

import pytest

# The helpers of tests/support import by their bare names from any test folder.
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))

from netns import LINUX, ip, private_netns, skip_or_fail  # noqa: E402
from population import Population, standard  # noqa: E402


def pytest_configure(config):
    # A run started in the background by a shell without job control (nohup,
    # `cmd &` in a script) has SIGINT ignored, and so would every process it
    # starts: the tests that stop a child with Ctrl-C's signal would wait for
    # ever.  A handler here is back to the default in each exec'd child.
    if hasattr(signal, "SIGINT") and signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def netns():
    """Run the test inside its own network namespace (lo up, nothing else)."""
    with private_netns():
        yield


@pytest.fixture
def netns_if_possible():
    """As `netns` where a namespace can be made; else (a container without
    CAP_SYS_ADMIN, real Windows) the test runs in the host's, among sockets
    not its own: only for tests that assert about their own sockets alone."""
    with private_netns(or_host=True):
        yield


@pytest.fixture(scope="module")
def population():
    """One private network namespace per test module, holding the standard
    population (population.standard()); its sockets are closed afterwards."""
    with private_netns():
        pop = standard()
        try:
            yield pop
        finally:
            pop.close()


@pytest.fixture
def one_pair_each(netns):
    """A private namespace holding one listener and one connection per family."""
    pop = Population()
    for family, addr in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
        pop.connect(pop.listener(family, addr))
    yield pop
    pop.close()


@pytest.fixture
def named_netns(netns):
    """A namespace named with `ip netns add`, lo up; deleted afterwards."""
    if not LINUX:
        pytest.skip("Linux-only: network namespaces")
    if os.geteuid() != 0:
        skip_or_fail("needs root: ip netns add, setns")
    name = f"tt-{uuid.uuid4().hex[:10]}"
    ip("netns", "add", name)
    try:
        ip("-n", name, "link", "set", "lo", "up")
        yield f"/run/netns/{name}"
    finally:
        if os.path.exists(f"/run/netns/{name}"):  # a test may delete it itself
            ip("netns", "delete", name)


@pytest.fixture(
    params=[
        "netlink",
        # A mark, not a skip in the fixture: the Windows runner plans by marks.
        pytest.param(
            "proc",
            marks=pytest.mark.skipif(
                not LINUX, reason="Linux-only: TCPTABLE_BACKEND picks between Linux's two sources"
            ),
        ),
    ]
)
def backend(request, monkeypatch):
    """Runs the test once per Linux backend, forced by TCPTABLE_BACKEND
    (elsewhere there is one source: the first parameter runs, the other skips)."""
    if not LINUX:
        return "native"
    monkeypatch.setenv("TCPTABLE_BACKEND", request.param)
    return request.param


def pytest_collection_modifyitems(config, items):
    """For the runner of the suite under Windows CPython (tests/windows/
    cpython.py), which gives every module a private table: which tests want
    one of their own (the `netns` fixture: `netns_if_possible` promises a
    test correct among others' sockets) and which are marked to skip there
    (all run in one session: a Wine session only to skip costs seconds)."""
    plan = os.environ.get("TCPTABLE_ISOLATION_PLAN")
    if plan:
        with open(plan, "w") as f:
            json.dump(
                [
                    {
                        "nodeid": i.nodeid,
                        "skip": _marked_skip(i),
                        "own_namespace": "netns" in i.fixturenames,
                    }
                    for i in items
                ],
                f,
            )


def _marked_skip(item) -> bool:
    """A skip mark, or a skipif whose condition is a true bool, applies."""
    return any(
        m.name == "skip" or (m.name == "skipif" and bool(m.args) and m.args[0] is True)
        for m in item.iter_markers()
    )
