"""What every benchmark shares: a real server on loopback, machine facts, results files.

`Server` starts daphne on a free loopback port over a fresh SQLite database in a temp
directory (or the PostgreSQL/Redis of `DATABASE_URL`/`REDIS_URL` when they are set),
with a user, a session and an API token, and stops it afterwards.
"""

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable

SETUP_SCRIPT = """
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.auth import SESSION_KEY, BACKEND_SESSION_KEY, HASH_SESSION_KEY
from jobs.services import token_create
User = get_user_model()
user, _ = User.objects.get_or_create(username="bench", defaults={"is_staff": True})
user.set_password("bench-password-123")
user.save()
token, raw = token_create(user=user, name="bench")
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


def machine():
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
        "database": "postgresql" if os.environ.get("DATABASE_URL") else "sqlite",
        "channel_layer": "redis" if os.environ.get("REDIS_URL") else "in-memory",
        "when": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
    }


class Server:
    """daphne on loopback with a fresh database, a token and a signed-in session."""

    def __init__(self, env=None):
        self.tmp = tempfile.TemporaryDirectory(prefix="tuneboard-bench-")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "TUNEBOARD_DATA_DIR": self.tmp.name,
            "TUNEBOARD_INGEST_RATE": "1000000/min",
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process = None

    def manage(self, *args, input_text=None):
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            input=input_text,
        ).stdout

    def __enter__(self):
        self.manage("migrate", "--no-input", "-v", "0")
        out = self.manage("shell", "-c", SETUP_SCRIPT).split()
        self.token, self.session = out[-2], out[-1]
        self.log = open(Path(self.tmp.name) / "daphne.log", "w")
        self.process = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "config.asgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.get("/api/jobs")
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start; see {self.log.name}")

    def __exit__(self, *exc):
        if self.process:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()
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
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (each benchmark rewrites its own JSON file and this table).",
        f"Machine: {first['cores']} cores, {first['memory_gib']} GiB, Python {first['python']}, "
        f"Django {first['django']}, SQLite {first['sqlite']}; database {first['database']}, "
        f"channel layer {first['channel_layer']}.",
        "",
        "| # | what | measured | target | |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]
    (RESULTS / "README.md").write_text("\n".join(lines))


def check(what, measured, target, met):
    return {"what": what, "measured": measured, "target": target, "met": bool(met)}
