"""Fixtures of the fault tests: a migrated database per test, copied from one template.

On the embedded defaults (the first pass of `.ci/run`) a site is a SQLite file and its
servers use the in-memory channel layer. With DATABASE_URL and REDIS_URL (the second
pass) each site is a private PostgreSQL database on that server, made from a template
database and dropped after the test, and its servers share that Redis.
`TUNEBOARD_REQUIRE_SERVICES=1` turns a missing or unreachable service into a failure.
"""

import pytest

from tests.reliability.servers import (
    RedisServer,
    Site,
    SiteTemplate,
    postgres_server,
    redis_server,
    redis_server_binary,
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "processes: starts real server processes (daphne, redis-server)"
    )


@pytest.fixture(scope="session")
def site_template(tmp_path_factory):
    """The migrated database (with credentials) each `site` copies: SQLite, or a
    PostgreSQL template database when DATABASE_URL is set."""
    template = SiteTemplate(
        tmp_path_factory.mktemp("tuneboard-template"), postgres_url=postgres_server()
    )
    yield template
    template.close()


@pytest.fixture
def site(tmp_path, site_template):
    """A fresh site: SQLite and in-memory channel layer, or PostgreSQL and REDIS_URL."""
    site = Site(tmp_path / "site", template=site_template, redis_url=redis_server())
    yield site
    site.close()


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own, which it may stop and start."""
    redis_server_binary()
    redis = RedisServer(tmp_path).start()
    yield redis
    redis.stop()
