"""`manage.py backup` during ingest and `manage.py restore` into an empty database.

A real server ingests metrics and logs without pause while `manage.py backup` runs as
an operator would run it; the backup is restored into a new data directory (SQLite) or
a new database (PostgreSQL, when DATABASE_URL names a server) and read back.
"""

import json
import math
import os
import threading
import time
import uuid

import pytest

from tests.reliability.servers import Site
from tests.support.server import manage, server_env

KEYS = ("train/loss", "train/lr", "eval/accuracy")
STEPS_PER_BATCH = 100
LINES_PER_BATCH = 40
BATCHES_BEFORE_BACKUP = 15
BATCHES_AFTER_BACKUP = 5

# What the restored database holds, read through the ORM: each key's steps, the log
# sequence numbers, and every rollup that disagrees with a recount of its points.
READ_BACK = """
import json
from collections import defaultdict
from jobs.models import LogEntry, MetricPoint, MetricRollup
from jobs.rollups import WIDTHS
points = defaultdict(dict)
for key, step, value in MetricPoint.objects.values_list("key", "step", "value"):
    points[key][step] = value
wrong, buckets = [], defaultdict(set)
rollups = MetricRollup.objects.values_list(
    "key", "width", "bucket", "count", "first_step", "last_step", "min_value", "max_value"
)
for key, width, bucket, *stored in rollups:
    buckets[key, width].add(bucket)
    inside = {s: v for s, v in points[key].items() if bucket * width <= s < (bucket + 1) * width}
    values = [v for v in inside.values() if v is not None]
    recount = [len(inside), min(inside, default=None), max(inside, default=None),
               min(values, default=None), max(values, default=None)]
    if recount != stored:
        wrong.append({"rollup": [key, width, bucket], "stored": stored, "recount": recount})
for key, steps in points.items():
    for width in WIDTHS:
        if missing := {s // width for s in steps} - buckets[key, width]:
            wrong.append({"rollup": [key, width, sorted(missing)], "stored": None})
print(json.dumps({
    "steps": {key: sorted(steps) for key, steps in points.items()},
    "seqs": list(LogEntry.objects.order_by("seq").values_list("seq", flat=True)),
    "rollups": len(rollups),
    "wrong": wrong,
}))
"""


def metric_batch(batch):
    steps = range(batch * STEPS_PER_BATCH, (batch + 1) * STEPS_PER_BATCH)
    return {
        "points": [
            {"key": key, "step": step, "value": math.sin(step * (k + 1) * 0.37) + step / 1000}
            for k, key in enumerate(KEYS)
            for step in steps
        ]
    }


def log_batch(batch):
    first = batch * LINES_PER_BATCH
    return {
        "lines": [
            {"seq": seq, "message": f"line {seq}"} for seq in range(first, first + LINES_PER_BATCH)
        ]
    }


class Ingest(threading.Thread):
    """Posts a metrics batch, then a logs batch, again and again, as a training run does;
    records when each was sent and when the server acknowledged it."""

    def __init__(self, server, uid):
        super().__init__(daemon=True)
        self.server, self.uid = server, uid
        self.sent = []  # (kind, batch, sent at, acknowledged at)
        self.failure = None
        self.halt = threading.Event()

    def run(self):
        batch = 0
        try:
            while not self.halt.is_set():
                for kind, body in (("metrics", metric_batch(batch)), ("logs", log_batch(batch))):
                    sent = time.monotonic()
                    response = self.server.request("POST", f"/api/jobs/{self.uid}/{kind}", body)
                    assert response.status == 200, response.raw
                    self.sent.append((kind, batch, sent, time.monotonic()))
                batch += 1
        except Exception as error:  # reported by the test, not lost in a thread
            self.failure = error

    def acknowledged(self, kind):
        return [batch for k, batch, _, _ in self.sent if k == kind]

    def wait_for(self, kind, count, timeout=60):
        deadline = time.monotonic() + timeout
        while len(self.acknowledged(kind)) < count:
            assert self.failure is None, self.failure
            assert time.monotonic() < deadline, f"only {len(self.acknowledged(kind))} batches"
            time.sleep(0.05)


def batches_of_steps(steps):
    return {step // STEPS_PER_BATCH for step in steps}


def batches_of_seqs(seqs):
    return {seq // LINES_PER_BATCH for seq in seqs}


class ScratchDatabases:
    """Empty PostgreSQL databases on the server DATABASE_URL names, dropped at the end."""

    def __init__(self, url):
        self.admin_url, self.names = url, []

    def create(self):
        name = f"tuneboard_restore_{uuid.uuid4().hex[:10]}"
        self._execute(f'CREATE DATABASE "{name}"')
        self.names.append(name)
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    def drop_all(self):
        for name in self.names:
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _execute(self, sql):
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(sql)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database(request):
    """`None` for SQLite, else the URL of the PostgreSQL server to make databases on."""
    url = os.environ.get("DATABASE_URL")
    if request.param == "postgresql" and not url:
        pytest.skip("DATABASE_URL names no PostgreSQL server")
    return url if request.param == "postgresql" else None


@pytest.fixture(scope="module")
def scratch(database):
    databases = ScratchDatabases(database) if database else None
    yield databases
    if databases:
        databases.drop_all()


@pytest.fixture(scope="module")
def run(database, scratch, tmp_path_factory):
    """A backup taken during continuous ingest, restored into an empty database."""
    root = tmp_path_factory.mktemp("backup")
    site = Site(root / "live", postgres_url=database)
    try:
        server = site.daphne()
        assert server.request("POST", "/api/jobs", {"uid": "run", "name": "run"}).status == 201
        ingest = Ingest(server, "run")
        ingest.start()
        ingest.wait_for("logs", BATCHES_BEFORE_BACKUP)
        backup_path = root / "tuneboard.backup"
        began = time.monotonic()
        backup_output = manage(site.env, "backup", str(backup_path))
        finished = time.monotonic()
        ingest.wait_for("logs", len(ingest.acknowledged("logs")) + BATCHES_AFTER_BACKUP)
        ingest.halt.set()
        ingest.join(30)
        assert ingest.failure is None, ingest.failure

        restored_env = server_env(
            root / "restored", DATABASE_URL=scratch.create() if database else None
        )
        restore_output = manage(restored_env, "restore", str(backup_path))
        restored = json.loads(manage(restored_env, "shell", "-c", READ_BACK).splitlines()[-1])
        yield {
            "site": site,
            "root": root,
            "backup_path": backup_path,
            "outputs": (backup_output, restore_output),
            "sent": ingest.sent,
            "began": began,
            "finished": finished,
            "restored": restored,
            "restored_env": restored_env,
        }
    finally:
        site.close()


def test_ingest_went_on_while_the_backup_ran(run):
    during = [s for s in run["sent"] if run["began"] < s[3] < run["finished"]]
    assert during, "no batch was acknowledged while the backup ran"
    assert "Backed up" in run["outputs"][0]
    assert "Restored" in run["outputs"][1]


def test_the_restored_database_holds_every_batch_acknowledged_before_the_backup_began(run):
    restored = run["restored"]
    for kind, batch, _, acknowledged in run["sent"]:
        if acknowledged >= run["began"]:
            continue
        if kind == "metrics":
            for key in KEYS:
                assert batch in batches_of_steps(restored["steps"][key]), (key, batch)
        else:
            assert batch in batches_of_seqs(restored["seqs"]), batch


def test_the_restored_database_holds_nothing_sent_after_the_backup_finished(run):
    after = [(kind, batch) for kind, batch, sent, _ in run["sent"] if sent > run["finished"]]
    assert after
    restored = run["restored"]
    present = {("logs", batch) for batch in batches_of_seqs(restored["seqs"])}
    for key in KEYS:
        present |= {("metrics", batch) for batch in batches_of_steps(restored["steps"][key])}
    assert not set(after) & present


def test_the_restored_batches_are_whole_and_without_gaps(run):
    """A snapshot is one moment: batches 0..n-1 complete, never part of a batch."""
    restored = run["restored"]
    for key in KEYS:
        steps = restored["steps"][key]
        assert steps == list(range(len(steps)))
        assert len(steps) % STEPS_PER_BATCH == 0
    seqs = restored["seqs"]
    assert seqs == list(range(len(seqs)))
    assert len(seqs) % LINES_PER_BATCH == 0


def test_every_restored_rollup_equals_a_recount_of_the_restored_points(run):
    assert run["restored"]["rollups"] > 0
    assert run["restored"]["wrong"] == []


def test_restore_refuses_a_database_that_is_not_empty(run):
    with pytest.raises(RuntimeError, match="is not empty") as refused:
        manage(run["restored_env"], "restore", str(run["backup_path"]))
    assert "a restore goes only into an empty one" in str(refused.value)


def test_backup_never_overwrites_an_existing_file(run):
    with pytest.raises(RuntimeError, match="already exists"):
        manage(run["site"].env, "backup", str(run["backup_path"]))


def test_backup_names_the_pg_dump_it_needs_when_the_server_is_newer(run, database):
    if not database:
        pytest.skip("PostgreSQL only")
    old_pg_dump = run["root"] / "pg_dump"
    old_pg_dump.write_text('#!/bin/sh\necho "pg_dump (PostgreSQL) 9.6.24"\n')
    old_pg_dump.chmod(0o755)
    target = run["root"] / "never-written.backup"
    with pytest.raises(RuntimeError, match=r"is version 9 and the server runs PostgreSQL \d+"):
        manage(run["site"].env, "backup", str(target), "--pg-dump", str(old_pg_dump))
    assert not target.exists()
