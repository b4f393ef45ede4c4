"""Fixtures of the security tests."""

import pytest
from django.core.cache import cache


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "processes: starts real server processes (daphne, redis-server)"
    )


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


# The real-server fixtures of the fault tests (a migrated site per test, copied from a
# template made once per session), for the limits that only a real server shows.
from tests.reliability.conftest import site, site_template  # noqa: E402, F401
