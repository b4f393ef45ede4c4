"""Fixtures of the client's tests: a live server (see `live.py`) and a reporting env."""

import os

import pytest

from .live import REPO, LiveServer


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
