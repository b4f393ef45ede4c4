"""Real Tuneboard processes for the fault tests: daphne on free ports, private Redis.

`Site` is one data directory (SQLite file or a private PostgreSQL database) with a user,
a signed-in session and an API token; `Site.daphne()` starts a server process on it,
as many as a test needs. Everything runs on loopback and is stopped at the end.

The services the second pass of `.ci/run` provides (`DATABASE_URL`, `REDIS_URL`) are
found by `postgres_server()` and `redis_server()`; with `TUNEBOARD_REQUIRE_SERVICES=1`
(that pass sets it) a service that is missing or unreachable fails the test instead of
skipping it.
"""

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.support.server import (
    DaphneServer,
    free_port,
    manage,
    migrate,
    provision,
    server_env,
    wait_for_port,
)

REQUIRE_SERVICES = os.environ.get("TUNEBOARD_REQUIRE_SERVICES") == "1"
# The Redis database number the fault tests' servers use on the shared REDIS_URL server,
# apart from the in-process suite's (TUNEBOARD_SITE_REDIS_DB picks another, so that runs
# sharing one Redis keep apart).
SITE_REDIS_DB = int(os.environ.get("TUNEBOARD_SITE_REDIS_DB", "5"))


def service_missing(reason):
    """Skip the test, or fail it where the services are required (.ci/run, pass 2)."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (TUNEBOARD_REQUIRE_SERVICES=1: this run must have it)")
    pytest.skip(reason)


def _reachable(url, default_port):
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 3
        ):
            return True
    except OSError:
        return False


def postgres_server():
    """The PostgreSQL server of DATABASE_URL (None: SQLite, allowed unless required)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        if REQUIRE_SERVICES:
            pytest.fail("TUNEBOARD_REQUIRE_SERVICES=1 but DATABASE_URL is not set")
        return None
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.fail(f"the fault tests run on SQLite or PostgreSQL, not {url.split(':')[0]}")
    if not _reachable(url, 5432):
        pytest.fail(f"DATABASE_URL is set but PostgreSQL does not answer: {url}")
    return url


def redis_server(db=SITE_REDIS_DB):
    """REDIS_URL on database `db` (None when it is not set and not required)."""
    url = os.environ.get("REDIS_URL")
    if not url:
        if REQUIRE_SERVICES:
            pytest.fail("TUNEBOARD_REQUIRE_SERVICES=1 but REDIS_URL is not set")
        return None
    if not _reachable(url, 6379):
        pytest.fail(f"REDIS_URL is set but Redis does not answer: {url}")
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))


def redis_server_binary():
    """The redis-server program for a private Redis; skips (fails where required)."""
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if binary is None:
        service_missing("redis-server is not installed (apt-get install redis-server)")
    return binary


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


def _pg_execute(server_url, sql):
    """Run `sql` on the server of `server_url`, in its maintenance database `postgres`
    (the database the URL names may not exist: Django makes `test_<name>` from it)."""
    import psycopg

    url = _pg_database_url(server_url, "postgres")
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql)


def _pg_database_url(admin_url, name):
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))


class SiteTemplate:
    """A migrated database with a user, a session and a token, made once and copied by
    each `Site`: a SQLite data directory, or (with `postgres_url`) a PostgreSQL database
    that `CREATE DATABASE … TEMPLATE` copies; `close()` drops it."""

    def __init__(self, data_dir, *, postgres_url=None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.postgres_url = postgres_url
        self.database = f"tuneboard_tpl_{uuid.uuid4().hex[:10]}" if postgres_url else None
        database_url = None
        if postgres_url:
            _pg_execute(postgres_url, f'CREATE DATABASE "{self.database}"')
            database_url = _pg_database_url(postgres_url, self.database)
        env = server_env(self.data_dir, DATABASE_URL=database_url)
        migrate(env)
        credentials = provision(env, "fault-tester", token_name="fault tests", session=True)
        (self.data_dir / "credentials").write_text(" ".join(credentials) + "\n")

    def close(self):
        if self.database:
            drop = f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'
            _pg_execute(self.postgres_url, drop)


class Site:
    """A migrated database with a user, a session and a token, shared by its servers.

    Copied from `template` (its data directory: secret key, credentials, SQLite file;
    on PostgreSQL a private database made from the template's), or, without one, made
    here: SQLite, or with `postgres_url` a fresh PostgreSQL database on that server.
    A PostgreSQL database is dropped by `close()`. `redis_url` is the channel layer of
    its servers (none: in-memory).
    """

    def __init__(self, data_dir, *, postgres_url=None, redis_url=None, template=None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.servers = []
        self.pg_admin_url = template.postgres_url if template else postgres_url
        self.database_url = None
        if self.pg_admin_url:
            name = f"tuneboard_fault_{uuid.uuid4().hex[:10]}"
            copy = f' TEMPLATE "{template.database}"' if template else ""
            _pg_execute(self.pg_admin_url, f'CREATE DATABASE "{name}"{copy}')
            self.database_url = _pg_database_url(self.pg_admin_url, name)
        self.env = server_env(
            self.data_dir,
            DATABASE_URL=self.database_url,
            REDIS_URL=redis_url,
            TUNEBOARD_INGEST_RATE="1000000/min",
            LOG_LEVEL="INFO",
        )
        if template:
            for item in template.data_dir.iterdir():
                if item.is_file():
                    shutil.copy(item, self.data_dir / item.name)
            self.token, self.session = (template.data_dir / "credentials").read_text().split()
        else:
            migrate(self.env)
            self.token, self.session = provision(
                self.env, "fault-tester", token_name="fault tests", session=True
            )

    @property
    def backend(self):
        return "postgresql" if self.database_url else "sqlite"

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

    def rollup_count(self, uid):
        return int(
            self.shell(
                "from django.apps import apps;"
                "MetricRollup = apps.get_model('jobs', 'MetricRollup');"
                f"print(MetricRollup.objects.filter(job__uid={uid!r}).count())"
            ).split()[-1]
        )

    def rollup_mismatches(self, uid):
        """Every stored rollup of job `uid` that disagrees with a recount of its points
        (see `RECOUNT_SCRIPT`), and every bucket with points but no rollup: a list of
        `{"key", "width", "bucket", "field", "stored", "recount"}` (empty: all agree)."""
        out = self.shell(RECOUNT_SCRIPT.replace("UID", repr(uid)))
        return json.loads(out.splitlines()[-1])

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
            _pg_execute(self.pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# Django code run in a site's `manage.py shell`: recounts every (key, width, bucket) of a
# job's rollup levels from its points, brute force, and prints the disagreements as JSON.
# A rollup summarises the points of steps [bucket*width, (bucket+1)*width): their count,
# first and last (step and value), the minimum and maximum value (NaN skipped) with a step
# holding it (any step, when several hold it), and the first NaN's step.
RECOUNT_SCRIPT = """
import json
from django.apps import apps
from jobs.rollups import WIDTHS
MetricPoint = apps.get_model('jobs', 'MetricPoint')
MetricRollup = apps.get_model('jobs', 'MetricRollup')
uid = UID
series = {}
for key, step, value in (MetricPoint.objects.filter(job__uid=uid)
                         .order_by('key', 'step').values_list('key', 'step', 'value')):
    series.setdefault(key, []).append((step, None if value is None or value != value else value))
expected = {}
for key, pts in series.items():
    for width in WIDTHS:
        for step, value in pts:
            expected.setdefault((key, width, step // width), []).append((step, value))
def same(a, b):
    return a == b
bad = []
def report(key, width, bucket, field, stored, recount):
    bad.append(dict(key=key, width=width, bucket=bucket, field=field,
                    stored=stored, recount=recount))
stored = {(r['key'], r['width'], r['bucket']): r
          for r in MetricRollup.objects.filter(job__uid=uid).values()}
for where in sorted(set(stored) - set(expected)):
    report(*where, 'row', 'present', 'no points')
for where, pts in sorted(expected.items()):
    row = stored.get(where)
    if row is None:
        report(*where, 'row', 'missing', len(pts))
        continue
    values = dict(pts)
    numbers = [v for _, v in pts if v is not None]
    nans = [s for s, v in pts if v is None]
    checks = {
        'count': (row['count'], len(pts)),
        'first_step': (row['first_step'], pts[0][0]),
        'first_value': (row['first_value'], pts[0][1]),
        'last_step': (row['last_step'], pts[-1][0]),
        'last_value': (row['last_value'], pts[-1][1]),
        'min_value': (row['min_value'], min(numbers) if numbers else None),
        'max_value': (row['max_value'], max(numbers) if numbers else None),
        'nan_step': (row['nan_step'], nans[0] if nans else None),
    }
    for field, (have, want) in checks.items():
        if isinstance(have, float) and have != have:
            have = None
        if not same(have, want):
            report(*where, field, have, want)
    for end in ('min', 'max'):
        step, value = row[end + '_step'], row[end + '_value']
        if value is not None and (step not in values or not same(values[step], value)):
            report(*where, end + '_step', step, 'a step holding ' + repr(value))
print(json.dumps(bad[:50] + ([{'more': len(bad) - 50}] if len(bad) > 50 else [])))
"""


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
            [
                shutil.which("redis-server") or "/usr/bin/redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                *volatile,
            ],
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
