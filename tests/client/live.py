"""A real Tuneboard server for the client's tests: daphne in a subprocess.

`conftest.py` starts one per test session, on a free port, with its own SQLite database
in a temporary `TUNEBOARD_DATA_DIR` (migrated first), whatever DATABASE_URL/REDIS_URL the suite runs
with: the client is tested against what a user runs. Tests read what was stored straight
from that database (exact counts, no API downsampling) and through the read API.
"""

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "client"))  # the client as a user has it, installed or not


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A daphne process serving Tuneboard; `kill()` and `start()` restart it in place."""

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log_path = self.data_dir / "daphne.log"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")
        }
        self.env.update(
            TUNEBOARD_DATA_DIR=str(self.data_dir),
            DJANGO_SETTINGS_MODULE="config.settings",
            # The fault test sends many batches through restarts; the default rate is
            # for shared servers, not for a test measuring delivery.
            TUNEBOARD_INGEST_RATE="100000/min",
            PYTHONUNBUFFERED="1",
        )
        self.token = None

    def manage(self, *args):
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def prepare(self):
        self.manage("migrate", "--no-input", "-v", "0")
        out = self.manage(
            "create_token", "--user", "client-tests", "--name", "client tests", "--create-user"
        )
        self.token = next(word for word in out.split() if word.startswith("tb_"))

    def start(self, timeout=30):
        log = open(self.log_path, "a")  # noqa: SIM115  (kept open for the process's life)
        # The server runs at a lower CPU priority: on a small shared machine the fault
        # test measures the client's blocking, not the scheduler handing the producer's
        # core to the server.
        nice = ["nice", "-n", "10"] if shutil.which("nice") else []
        self.process = subprocess.Popen(
            [
                *nice,
                sys.executable,
                "-m",
                "daphne",
                "-b",
                "127.0.0.1",
                "-p",
                str(self.port),
                "config.asgi:application",
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"daphne did not listen within {timeout}s")

    def kill(self):
        """SIGKILL: no goodbye, requests in flight are cut."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def get(self, path):
        request = urllib.request.Request(
            self.url + path, headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def query(self, sql, *params):
        """Rows from the server's own database (read-only)."""
        db = self.data_dir / "tuneboard.sqlite3"
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as conn:
            return conn.execute(sql, params).fetchall()

    def job_row(self, uid):
        columns = "id, status, error_stage, error_type, error_message, error_traceback, host"
        row = self.query(f"SELECT {columns} FROM jobs_job WHERE uid = ?", uid)
        assert row, f"job {uid} was not stored"
        return dict(zip([c.strip() for c in columns.split(",")], row[0], strict=True))

    def stages(self, uid):
        rows = self.query(
            "SELECT s.name, s.status FROM jobs_stage s JOIN jobs_job j ON j.id = s.job_id "
            'WHERE j.uid = ? ORDER BY s."order"',
            uid,
        )
        return dict(rows)
