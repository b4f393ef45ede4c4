"""Real Tuneboard servers for tests and benchmarks: daphne on a free loopback port.

Each server has its own data directory (`TUNEBOARD_DATA_DIR`: its SQLite file, secret
key and logs). `server_env` builds the environment it runs with, `manage` runs a
manage.py command in it, `provision` makes a user with an API token (and, when asked,
a password, staff status and a signed-in session), and `DaphneServer` is one daphne
process that starts, stops, is killed and restarts on its port.

Used by tests/e2e, tests/reliability, tests/client and bench/harness.py. It imports
nothing of Tuneboard: everything it does to the database goes through manage.py.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
ASGI_APP = "config.asgi:application"
START_SECONDS = 30
MANAGE_SECONDS = 300

# What a server does not inherit from the caller's environment unless asked to: the
# developer's own database, channel layer, SQLite file, debug mode and TLS settings.
DROPPED_VARIABLES = ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "DEBUG", "TUNEBOARD_TLS")

# Django only (no Tuneboard module): gives an existing user a password and/or staff
# status and, with `session`, opens a signed-in session and prints its key.
ACCOUNT_SCRIPT = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.get(username={username!r})
if {password!r} is not None:
    user.set_password({password!r})
if {staff!r}:
    user.is_staff = True
user.save()
if {session!r}:
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    print(session.session_key)
"""


class Credentials(NamedTuple):
    token: str
    session: str | None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process=None, seconds=START_SECONDS):
    """Return once something listens on `port`; raise if `process` exits first."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)  # a port that is not open yet sends no event to wait on
    raise RuntimeError(f"nothing listened on port {port} within {seconds}s")


def server_env(data_dir, *, inherit=(), **extra):
    """The caller's environment for a server on `data_dir`.

    Without `DROPPED_VARIABLES` (except those named in `inherit`), plus `extra`;
    an `extra` value of None leaves that variable out.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in DROPPED_VARIABLES or key in inherit
    }
    env.update(
        TUNEBOARD_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
    )
    env.update({key: value for key, value in extra.items() if value is not None})
    return env


def manage(env, *args, timeout=MANAGE_SECONDS):
    """stdout of `manage.py ARGS` run with `env`; raises with its stderr if it fails."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def migrate(env):
    manage(env, "migrate", "--no-input", "-v", "0")


def provision(env, username, *, token_name, password=None, staff=False, session=False):
    """`Credentials` of `username` (created if missing): a new API token, a session key."""
    out = manage(env, "create_token", "--user", username, "--name", token_name, "--create-user")
    token = next(word for word in out.split() if word.startswith("tb_"))
    session_key = None
    if password is not None or staff or session:
        script = ACCOUNT_SCRIPT.format(
            username=username, password=password, staff=staff, session=session
        )
        printed = manage(env, "shell", "-c", script).split()
        session_key = printed[-1] if session else None
    return Credentials(token, session_key)


class DaphneServer:
    """One daphne process serving Tuneboard on a loopback port, its output in `log_path`.

    `start()` returns once it listens (or raises with the end of its log); `stop()` is
    SIGTERM, then SIGKILL after `grace` seconds; `kill()` is SIGKILL at once (a crash).
    After either, `start()` runs it again on the same port. A context manager too.
    """

    def __init__(self, env, *, log_path, port=None, args=(), prefix=()):
        self.env = env
        self.log_path = Path(log_path)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = list(args)  # daphne options
        self.prefix = list(prefix)  # what runs python, e.g. ["nice", "-n", "10"]
        self.process = None

    def start(self, timeout=START_SECONDS):
        bind = ["-b", "127.0.0.1", "-p", str(self.port)]
        with open(self.log_path, "a") as log:  # the process keeps its own descriptor
            self.process = subprocess.Popen(
                [*self.prefix, PYTHON, "-m", "daphne", *self.args, *bind, ASGI_APP],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_port(self.port, self.process, timeout)
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"daphne: {error}; its log:\n{self.log_text()[-3000:]}") from None
        return self

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, grace=10):
        if self.running:
            self.process.terminate()
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self):
        """SIGKILL: no goodbye, requests in flight are cut."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
