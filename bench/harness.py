"""What every benchmark shares: a real server on loopback, machine facts, results files.

`Server` starts daphne on a free loopback port over a fresh SQLite database in a temp
directory (or the PostgreSQL/Redis of `DATABASE_URL`/`REDIS_URL` when they are set, or
of the `env` it is given), with a user, a session and an API token, and stops it
afterwards; with `workers=2` it starts a second daphne on the same database, data
directory (secret key) and channel layer. `scratch_postgres_redis()` makes a PostgreSQL
database for one benchmark and drops it afterwards. The server's machinery is
tests/support/server.py, shared with the test suites.
"""

import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(1, str(ROOT))  # after bench/ itself: the shared server helpers in tests/

from tests.support.server import (  # noqa: E402 (needs the path above)
    DaphneServer,
    manage,
    migrate,
    provision,
    server_env,
)

RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable
# The local services of the distributed configuration (trust auth on loopback). The
# Redis database index is not 0, the one a developer's own server uses.
POSTGRES = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/11")


@contextlib.contextmanager
def scratch_postgres_redis(name):
    """{"DATABASE_URL", "REDIS_URL"} of a new, empty PostgreSQL database, dropped after."""
    import psycopg

    database = f"tuneboard_bench_{name}_{os.getpid()}"
    with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        yield {"DATABASE_URL": f"{POSTGRES}/{database}", "REDIS_URL": REDIS}
    finally:
        with psycopg.connect(f"{POSTGRES}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def percentile(values, pct):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(seconds):
    ms = [s * 1000 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def machine(env=None):
    """Facts about this machine and the configuration (`env`: the server's environment)."""
    import sqlite3

    import django
    import psutil

    return {
        "cores": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "sqlite": sqlite3.sqlite_version,
        "database": "postgresql" if (env or os.environ).get("DATABASE_URL") else "sqlite",
        "channel_layer": "redis" if (env or os.environ).get("REDIS_URL") else "in-memory",
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


class Server(DaphneServer):
    """daphne on loopback with a fresh database, a token and a signed-in session.

    `workers`: how many daphne processes serve it (the first is this object, the others
    are in `others`; all are in `workers`). `collectstatic`: collect the static files
    into the data directory first, as `make run` does, so pages load hashed, compressed
    files.
    """

    def __init__(self, env=None, *, workers=1, collectstatic=False):
        self.tmp = tempfile.TemporaryDirectory(prefix="tuneboard-bench-")
        self.data_dir = Path(self.tmp.name)
        self.collectstatic = collectstatic
        server = server_env(
            self.data_dir,
            inherit=("DATABASE_URL", "REDIS_URL"),
            TUNEBOARD_INGEST_RATE="1000000/min",
            **(env or {}),
        )
        super().__init__(server, log_path=self.data_dir / "daphne.log")
        self.others = [
            DaphneServer(server, log_path=self.data_dir / f"daphne-{n + 2}.log")
            for n in range(workers - 1)
        ]
        self.workers = [self, *self.others]

    def manage(self, *args):
        return manage(self.env, *args)

    def __enter__(self):
        migrate(self.env)
        if self.collectstatic:
            manage(self.env, "collectstatic", "--no-input", "-v", "0")
        self.token, self.session = provision(
            self.env, "bench", token_name="bench", staff=True, session=True
        )
        for other in self.others:
            other.start()
        return self.start()

    def __exit__(self, *exc):
        for worker in self.workers:
            worker.stop()
        self.tmp.cleanup()

    @property
    def headers(self):
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def request(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers=self.headers
        )
        with urllib.request.urlopen(req, timeout=120) as response:
            payload = response.read()
            return response.status, json.loads(payload) if payload else None

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body=None, raw=None):
        return self.request("POST", path, body, raw)


def write_result(name, data):
    """Write bench/results/<name>.json and refresh the Markdown table of all results."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    rows, machines = [], []
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        checks = result.get("checks")
        if checks is None and "cpu_percent_of_one_core" in result:
            # The sampler benchmark's own format (bench_sampler.py).
            where = "H200 host" if "h200" in path.stem else "this machine"
            checks = [
                check(
                    f"B7 sample_resources --interval 1 CPU ({where})",
                    f"{result['cpu_percent_of_one_core']} % of one core",
                    "≤ 1 % of one core",
                    result["passed"],
                )
            ]
        for item in checks or []:
            rows.append(
                f"| {result.get('id', path.stem)} | {item['what']} | {item['measured']} | "
                f"{item['target']} | {'met' if item['met'] else '**missed**'} |"
            )
        if "cores" in result.get("machine", {}):
            machines.append(result["machine"])
    first = machines[0]
    dates = sorted({m["when"][:10] for m in machines if "when" in m})
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (each benchmark rewrites its own JSON file and this table).",
        f"Machine: {first['cores']} cores, {first['memory_gib']} GiB, Python {first['python']}, "
        f"Django {first['django']}, SQLite {first['sqlite']}. Every row runs one daphne on "
        "SQLite with the in-memory channel layer unless it names PostgreSQL + Redis.",
        "",
        f"Measured {', '.join(dates)} on a {first['cores']}-core machine shared with other "
        "test suites running at the same time: latencies, load times and scripting times "
        "are noisy (a rerun on an idle machine gives lower figures); counts, bytes and "
        "invariants are exact. Live viewers (B4, B8) are WebSocket clients of the "
        "`websockets` library, not browsers; B6 is the one browser benchmark (headless "
        "Chromium). Each row names its percentile and the number of samples behind it.",
        "",
        "| # | what | measured | target | |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]
    (RESULTS / "README.md").write_text("\n".join(lines))


def timed(server, conn, path, *, cookie, n=30):
    """Latencies of `n` GETs of `path` on `conn` (after 3 warm-up requests), with the
    server's session cookie or its token: `summary_ms` of them."""
    headers = {"Cookie": f"sessionid={server.session}"} if cookie else server.headers
    latencies = []
    for _ in range(n + 3):
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        assert response.status == 200, (path, response.status)
        latencies.append(time.perf_counter() - start)
    return summary_ms(latencies[3:])


def check(what, measured, target, met):
    return {"what": what, "measured": measured, "target": target, "met": bool(met)}
