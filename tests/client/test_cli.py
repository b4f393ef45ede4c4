"""`python -m tuneboard`: login (a 0600 config file the client reads), status, --help."""

import io
import os
import stat
import subprocess
import sys
import tomllib

import tuneboard
from tuneboard import cli

from .live import REPO


def tuneboard_cli(*args, env, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "tuneboard", *args],
        env=env,
        cwd=REPO,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_login_stores_server_and_token_readable_by_the_owner_only(client_env, server):
    env = {k: v for k, v in client_env.items() if k not in ("TUNEBOARD_TOKEN", "TUNEBOARD_SERVER")}
    result = tuneboard_cli(
        "login", "--server", server.url, "--token", "-", env=env, stdin=server.token + "\n"
    )
    assert result.returncode == 0, result.stderr
    path = os.environ["TUNEBOARD_CONFIG"]
    assert path in result.stdout
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as file:
        assert server.token in file.read()


def test_a_script_without_environment_variables_reports_with_the_stored_login(server, monkeypatch):
    monkeypatch.delenv("TUNEBOARD_TOKEN", raising=False)
    monkeypatch.delenv("TUNEBOARD_SERVER", raising=False)
    out = io.StringIO()
    assert cli.main(["login", "--server", server.url, "--token", server.token], out=out) == 0
    with tuneboard.init(name="from login", system_metrics=False, capture_console=False) as run:
        run.log({"train/loss": 0.5}, step=1)
    assert run.server == server.url
    assert server.get(f"/api/jobs/{run.uid}")["status"] == "completed"


def test_status_lists_each_kept_run_with_what_it_has_pending(monkeypatch):
    monkeypatch.setenv("TUNEBOARD_MODE", "offline")
    with tuneboard.init(
        uid="kept-run", name="kept", system_metrics=False, capture_console=False
    ) as run:
        run.log({"train/loss": 0.5, "val/loss": 0.6}, step=1)
        run.log_text("hello")
    out = io.StringIO()
    assert cli.main(["status"], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["RUN", "MODE", "PENDING", "POINTS", "LINES", "STATE"]
    # creation, running, two points, one line, completed
    assert lines[1].split() == ["kept-run", "offline", "6", "2", "1", "pending"]
    assert lines[-1] == "6 events pending in 1 runs."


def test_status_says_when_nothing_is_kept():
    out = io.StringIO()
    assert cli.main(["status"], out=out) == 0
    assert out.getvalue().startswith("No runs kept in ")


def test_every_command_has_help(client_env):
    for command in ((), ("login",), ("status",), ("sync",)):
        result = tuneboard_cli(*command, "--help", env=client_env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("usage: tuneboard")

    def described(command):
        return " ".join(tuneboard_cli(command, "--help", env=client_env).stdout.split())

    assert "readable by you only (mode 0600)" in described("login")
    assert "never sends an event twice" in described("sync")
    assert "events each still has to upload" in described("status")


def test_the_client_package_installs_a_tuneboard_command():
    with open(REPO / "client" / "pyproject.toml", "rb") as file:
        scripts = tomllib.load(file)["project"]["scripts"]
    module, _, function = scripts["tuneboard"].partition(":")
    assert module == "tuneboard.cli" and getattr(cli, function) is cli.main
