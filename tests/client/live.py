"""A real Tuneboard server for the client's tests: daphne in a subprocess.

`conftest.py` starts one per test session, on a free port, with its own SQLite database
in a temporary `TUNEBOARD_DATA_DIR` (migrated first), whatever DATABASE_URL/REDIS_URL the suite runs
with: the client is tested against what a user runs. Tests read what was stored straight
from that database (exact counts, no API downsampling) and through the read API.
"""

import json
import shutil
import sqlite3
import sys
import urllib.request
from pathlib import Path

from tests.support.server import ROOT as REPO
from tests.support.server import DaphneServer, migrate, provision, server_env

sys.path.insert(0, str(REPO / "client"))  # the client as a user has it, installed or not


class LiveServer(DaphneServer):
    """A daphne process serving Tuneboard; `kill()` and `start()` restart it in place."""

    def __init__(self, data_dir):
        self.data_dir = Path(data_dir)
        env = server_env(
            self.data_dir,
            # The fault test sends many batches through restarts; the default rate is
            # for shared servers, not for a test measuring delivery.
            TUNEBOARD_INGEST_RATE="100000/min",
        )
        # The server runs at a lower CPU priority: on a small shared machine the fault
        # test measures the client's blocking, not the scheduler handing the producer's
        # core to the server.
        nice = ["nice", "-n", "10"] if shutil.which("nice") else []
        super().__init__(env, log_path=self.data_dir / "daphne.log", prefix=nice)
        self.token = None

    def prepare(self):
        migrate(self.env)
        self.token = provision(self.env, "client-tests", token_name="client tests").token

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
