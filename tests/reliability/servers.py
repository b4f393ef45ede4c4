"""Real Tuneboard processes for the fault tests: daphne on free ports, private Redis.

`Site` is one data directory (SQLite file or a private PostgreSQL database) with a user,
a signed-in session and an API token; `Site.daphne()` starts a server process on it,
as many as a test needs. Everything runs on loopback and is stopped at the end.
"""

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
START_SECONDS = 30

SETUP_SCRIPT = """
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from jobs.services import token_create
User = get_user_model()
user, _ = User.objects.get_or_create(username="fault-tester")
user.set_password("fault-tester-password-1")
user.save()
token, raw = token_create(user=user, name="fault tests")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(raw)
print(session.session_key)
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, process=None, seconds=START_SECONDS):
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


def base_env(data_dir, **extra):
    """The test process's environment for a server on `data_dir`, without its DB/Redis."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "DEBUG", "TUNEBOARD_TLS")
    }
    env.update(
        TUNEBOARD_DATA_DIR=str(data_dir),
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        TUNEBOARD_INGEST_RATE="1000000/min",
        LOG_LEVEL="INFO",
    )
    env.update({key: value for key, value in extra.items() if value is not None})
    return env


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw

    def json(self):
        return json.loads(self.raw) if self.raw else None


class Daphne:
    """One daphne process serving `site`; `kill()` is SIGKILL, `stop()` a clean stop."""

    def __init__(self, site, *, env=None, args=()):
        self.site = site
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = site.data_dir / f"daphne-{self.port}.log"
        self.env = {**site.env, **(env or {})}
        self.args = list(args)
        self.process = None

    def start(self):
        self.log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop/kill)
        bind = ["-b", "127.0.0.1", "-p", str(self.port)]
        self.process = subprocess.Popen(
            [PYTHON, "-m", "daphne", *self.args, *bind, "config.asgi:application"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_for_port(self.port, self.process)
        return self

    def kill(self):
        self.process.kill()
        self.process.wait(10)
        self.log.close()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process:
            self.log.close()

    def log_text(self):
        return self.log_path.read_text(errors="replace")

    def request(self, method, path, body=None, *, raw=None, token=True, headers=None, timeout=60):
        """`Response` for any status (4xx/5xx included); raises only on connection errors."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json"}
        if token:
            all_headers["Authorization"] = f"Bearer {self.site.token}"
        all_headers.update(headers or {})
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return Response(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Response(error.code, error.headers, error.read())

    def ws_url(self, path):
        return f"ws://127.0.0.1:{self.port}{path}"

    def ws_headers(self):
        """What a signed-in browser on this server sends with a WebSocket handshake."""
        return {"Cookie": f"sessionid={self.site.session}", "Origin": self.url}


class Site:
    """A migrated database with a user, a session and a token, shared by its servers.

    SQLite by default (a file in `data_dir`); with `postgres_url` a fresh PostgreSQL
    database on that server, dropped by `close()`.
    """

    def __init__(self, data_dir, *, postgres_url=None, redis_url=None, template=None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.servers = []
        self.pg_admin_url = None
        self.database_url = None
        if postgres_url:
            self.pg_admin_url = postgres_url
            name = f"tuneboard_fault_{uuid.uuid4().hex[:10]}"
            self._pg_execute(f'CREATE DATABASE "{name}"')
            self.database_url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
        self.env = base_env(self.data_dir, DATABASE_URL=self.database_url, REDIS_URL=redis_url)
        if template and not postgres_url:
            for item in template.iterdir():
                if item.is_file():
                    shutil.copy(item, self.data_dir / item.name)
            self.token, self.session = (template / "credentials").read_text().split()
        else:
            self.manage("migrate", "--no-input", "-v", "0")
            self.token, self.session = self.manage("shell", "-c", SETUP_SCRIPT).split()[-2:]
            (self.data_dir / "credentials").write_text(f"{self.token} {self.session}\n")

    def _pg_execute(self, sql):
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def manage(self, *args):
        result = subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def shell(self, code):
        """Run Django code against this site's database; returns what it printed."""
        return self.manage("shell", "-c", code).strip()

    def point_count(self, uid):
        return int(
            self.shell(
                "from jobs.models import MetricPoint;"
                f"print(MetricPoint.objects.filter(job__uid={uid!r}).count())"
            ).split()[-1]
        )

    def daphne(self, **kwargs):
        server = Daphne(self, **kwargs)
        self.servers.append(server)
        return server.start()

    def close(self):
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
        if self.database_url:
            name = self.database_url.rsplit("/", 1)[1]
            self._pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class RedisServer:
    """A private, non-persistent redis-server on a free port."""

    def __init__(self, data_dir):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = Path(data_dir)
        self.process = None

    def start(self):
        volatile = ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", *volatile],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


async def receive_until(socket, predicate, timeout):
    """The first pushed payload for which `predicate` holds, within `timeout` seconds."""

    async def wait():
        async for message in socket:
            payload = json.loads(message)
            if predicate(payload):
                return payload
        raise AssertionError("socket closed before the expected message")

    return await asyncio.wait_for(wait(), timeout)


def points(count, *, key="train/loss", start=0):
    return [{"key": key, "step": start + i, "value": 1.0 / (start + i + 1)} for i in range(count)]
