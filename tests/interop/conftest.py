"""Fixtures of the interop tests: a live Tuneboard server for the real MLflow client."""

import pytest

from tests.client.live import LiveServer


@pytest.fixture(scope="module")
def tuneboard(tmp_path_factory):
    """A daphne serving Tuneboard on a free port, its own SQLite database, one token."""
    server = LiveServer(tmp_path_factory.mktemp("tuneboard-mlflow"))
    server.prepare()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mlflow_env(tuneboard, monkeypatch):
    """MLflow's client pointed at the live server, as a user sets it up: two variables."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tuneboard.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", tuneboard.token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return {"MLFLOW_TRACKING_URI": tuneboard.url, "MLFLOW_TRACKING_TOKEN": tuneboard.token}
