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
