"""Fixtures shared by every test package; helpers that build data live in tests/factories.py."""

import pytest
from rest_framework.test import APIClient

from tests.factories import make_token, make_user


@pytest.fixture
def user(db):
    return make_user("alice")


@pytest.fixture
def api_client():
    """A client with no credentials."""
    return APIClient()


@pytest.fixture
def token(user):
    """The raw text of an unscoped API token owned by `user`."""
    return make_token(user, name="fixture token")[1]


@pytest.fixture
def token_client(token):
    """A client that sends `Authorization: Bearer <token>` (may read and write)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def session_client(user):
    """A client signed in as `user` with a session (may read, may not write)."""
    client = APIClient()
    client.force_login(user)
    return client
