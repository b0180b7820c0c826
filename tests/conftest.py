import pytest

from netns import private_netns


@pytest.fixture
def netns():
    """Run the test inside its own network namespace (lo up, nothing else)."""
    with private_netns():
        yield
