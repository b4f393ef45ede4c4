"""Fixtures of the client's tests: a live server (see `live.py`) and a reporting env."""

import os

import pytest

from .live import REPO, LiveServer


@pytest.fixture(autouse=True)
def client_home(tmp_path, monkeypatch):
    """Runs kept on disk and the login config of each test in its own folders, never the
    user's: `TUNEBOARD_DIR` and `TUNEBOARD_CONFIG` (scripts started by tests inherit them)."""
    monkeypatch.setenv("TUNEBOARD_DIR", str(tmp_path / "tuneboard-runs"))
    monkeypatch.setenv("TUNEBOARD_CONFIG", str(tmp_path / "tuneboard-config.json"))
    monkeypatch.delenv("TUNEBOARD_MODE", raising=False)
    return tmp_path


@pytest.fixture(scope="session")
def live_server_proc(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("tuneboard-live"))
    server.prepare()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def server(live_server_proc):
    """The running session server (restarted if a previous test left it down)."""
    if live_server_proc.process.poll() is not None:
        live_server_proc.start()
    return live_server_proc


@pytest.fixture
def client_env(server):
    """Environment for a script that reports to the live server."""
    env = dict(os.environ)
    env.update(
        TUNEBOARD_SERVER=server.url,
        TUNEBOARD_TOKEN=server.token,
        PYTHONPATH=os.pathsep.join([str(REPO / "client"), env.get("PYTHONPATH", "")]),
    )
    return env
