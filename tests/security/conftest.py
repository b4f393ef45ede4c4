"""Fixtures of the security tests."""

import pytest
from django.core.cache import cache


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "processes: starts real server processes (daphne, redis-server)"
    )


@pytest.fixture
def in_memory_channel_layer(settings):
    """An in-memory channel layer for in-process socket tests, also in the Redis run:
    channels_redis keeps locks bound to the event loop of the test that made them, and
    each async test runs on a loop of its own. (The Redis layer is tested with real
    processes in tests/reliability.)"""
    from channels.layers import channel_layers

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()
    yield
    cache.clear()


# The real-server fixtures of the fault tests (a migrated site per test, copied from a
# template made once per session), for the limits that only a real server shows.
from tests.reliability.conftest import site, site_template  # noqa: E402, F401
