"""Fixtures of the fault tests: a migrated database per test, copied from one template."""

import os

import pytest

from tests.reliability.servers import Site


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "processes: starts real server processes (daphne, redis-server)"
    )


@pytest.fixture(scope="session")
def site_template(tmp_path_factory):
    """A migrated SQLite data directory with credentials, copied by each `site`."""
    template = tmp_path_factory.mktemp("tuneboard-template")
    Site(template)
    return template


@pytest.fixture
def site(tmp_path, site_template):
    """A fresh SQLite-backed site (data directory, user, session, token)."""
    site = Site(tmp_path / "site", template=site_template)
    yield site
    site.close()


@pytest.fixture
def shared_site(tmp_path, site_template):
    """A site for several servers: PostgreSQL when DATABASE_URL is set, else SQLite."""
    url = os.environ.get("DATABASE_URL")
    site = Site(tmp_path / "site", postgres_url=url, template=None if url else site_template)
    yield site
    site.close()
