"""Real Tuneboard processes for the fault tests: daphne on free ports, private Redis.

`Site` is one data directory (SQLite file or a private PostgreSQL database) with a user,
a signed-in session and an API token; `Site.daphne()` starts a server process on it,
as many as a test needs. Everything runs on loopback and is stopped at the end.
"""

import asyncio
import contextlib
import json
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from tests.support.server import (
    DaphneServer,
    free_port,
    manage,
    migrate,
    provision,
    server_env,
    wait_for_port,
)


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw

    def json(self):
        return json.loads(self.raw) if self.raw else None


class Daphne(DaphneServer):
    """One daphne process serving `site`; `kill()` is SIGKILL, `stop()` a clean stop."""

    def __init__(self, site, *, env=None, args=()):
        port = free_port()
        super().__init__(
            {**site.env, **(env or {})},
            port=port,
            log_path=site.data_dir / f"daphne-{port}.log",
            args=args,
        )
        self.site = site

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
        self.env = server_env(
            self.data_dir,
            DATABASE_URL=self.database_url,
            REDIS_URL=redis_url,
            TUNEBOARD_INGEST_RATE="1000000/min",
            LOG_LEVEL="INFO",
        )
        if template and not postgres_url:
            for item in template.iterdir():
                if item.is_file():
                    shutil.copy(item, self.data_dir / item.name)
            self.token, self.session = (template / "credentials").read_text().split()
        else:
            migrate(self.env)
            self.token, self.session = provision(
                self.env, "fault-tester", token_name="fault tests", session=True
            )
            (self.data_dir / "credentials").write_text(f"{self.token} {self.session}\n")

    def _pg_execute(self, sql):
        import psycopg

        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def manage(self, *args):
        return manage(self.env, *args)

    def shell(self, code):
        """Run Django code against this site's database; returns what it printed."""
        return self.manage("shell", "-c", code).strip()

    def point_count(self, uid):
        return int(
            self.shell(
                "from django.apps import apps;"
                "MetricPoint = apps.get_model('jobs', 'MetricPoint');"
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
