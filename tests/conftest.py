import pytest
from netns import private_netns
from population import standard


@pytest.fixture
def netns():
    """Run the test inside its own network namespace (lo up, nothing else)."""
    with private_netns():
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


@pytest.fixture(params=["netlink", "proc"])
def backend(request, monkeypatch):
    """Runs the test once per Linux backend, forced by TCPTABLE_BACKEND."""
    monkeypatch.setenv("TCPTABLE_BACKEND", request.param)
    return request.param
