"""Writers that run at the same time, each thread on its own database connection.

On PostgreSQL (DATABASE_URL set) the threads' transactions really overlap under READ
COMMITTED; on SQLite they queue on the write lock, which checks the same outcome with
another interleaving. docs/concurrency.md gives the lock order these tests hold to.
"""

import contextlib
import math
import threading
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from django.db import connection, connections

from jobs import services
from jobs.models import Alert, Job, LogEntry, MetricPoint
from monitoring.models import Resolution, ResourceSample
from monitoring.retention import resource_samples_prune
from monitoring.services import resource_samples_ingest
from tests.domain.invariants import (
    metric_summaries_disagreeing,
    rollups_disagreeing,
    stored_points,
)

pytestmark = pytest.mark.django_db(transaction=True)

WRITERS = 8
KEY = "train/loss"


def run_together(*writers, timeout=120):
    """Run each writer (a list of steps: callables) in its own thread, all released at
    once; re-raise the first error.

    The test database on SQLite is in memory with a shared cache, where a second writer
    fails at once ("table is locked") instead of waiting as on the server's file: there,
    steps take turns, which is what SQLite's IMMEDIATE transactions do on a file.
    """
    barrier = threading.Barrier(len(writers))
    turn = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()
    errors = []

    def run(steps):
        try:
            barrier.wait(timeout)
            for step in steps:
                with turn:
                    step()
        except Exception as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(steps,)) for steps in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a writer is stuck (deadlock?)"
    if errors:
        raise errors[0]


def interleaved_batches(writer, *, batches, size, key=KEY):
    """Writer `writer`'s batches: its steps are writer, writer + WRITERS, …, so every
    bucket is written by all writers at the same time."""
    out = []
    for batch in range(batches):
        steps = [(batch * size + i) * WRITERS + writer for i in range(size)]
        out.append(
            [
                {"key": key, "step": s, "value": math.sin(s / 7) + s / 10_000, "epoch": s / 100}
                for s in steps
            ]
        )
    return out


@pytest.fixture
def job():
    return services.job_create(name="concurrent", uid="concurrent")[0]


def test_eight_concurrent_writers_of_one_key_leave_every_rollup_equal_to_its_points(job):
    batches = [interleaved_batches(w, batches=3, size=500) for w in range(WRITERS)]

    def writer(number):
        # Its batches, a retry of the first, and an extreme written then overwritten
        # while the others still write.
        spike = {"key": KEY, "step": number, "value": 1000.0 + number}
        sent = [*batches[number], batches[number][0], [spike], [{**spike, "value": 0.0}]]
        return [partial(services.metrics_ingest, job=job, points=batch) for batch in sent]

    run_together(*(writer(w) for w in range(WRITERS)))
    assert MetricPoint.objects.filter(job=job).count() == WRITERS * 3 * 500
    assert rollups_disagreeing(job.pk) == []
    assert metric_summaries_disagreeing(job.pk) == []


def test_concurrent_writers_keep_latest_metrics_and_the_loss_sparkline_at_the_newest_step(job):
    keys = (KEY, "val/loss", "lr")

    def writer(number):
        return [
            partial(services.metrics_ingest, job=job, points=batch)
            for key in keys
            for batch in interleaved_batches(number, batches=3, size=50, key=key)
        ]

    run_together(*(writer(w) for w in range(WRITERS)))
    job.refresh_from_db()
    for key, points in stored_points(job.pk).items():
        step, value, epoch = points[-1]
        latest = job.latest_metrics[key]
        assert (latest["step"], latest["value"], latest["epoch"]) == (step, value, epoch)
    sparkline_steps = [step for step, _ in job.loss_sparkline]
    assert sparkline_steps == sorted(set(sparkline_steps))
    assert len(sparkline_steps) <= services.SPARKLINE_POINTS
    assert sparkline_steps[-1] == job.latest_metrics[KEY]["step"]


def test_concurrent_log_batches_with_shared_seqs_store_and_count_each_line_once(job):
    stored = []

    def writer(number):
        # Overlapping ranges: what two reporters, or a retry racing its original, send.
        lines = [{"seq": s, "message": f"line {s}"} for s in range(number * 50, 400)]
        return [lambda: stored.append(services.logs_ingest(job=job, lines=lines))]

    run_together(*(writer(w) for w in range(WRITERS)))
    assert LogEntry.objects.filter(job=job).count() == 400
    assert sum(stored) == 400


def test_concurrent_delivery_attempts_of_one_alert_are_all_counted(job):
    alert = Alert.objects.create(job=job, code="nan_loss", severity="critical", title="NaN")
    copies = [Alert.objects.get(pk=alert.pk) for _ in range(4)]  # each deliverer's read

    def attempt(copy):
        return [partial(services.alert_delivery_record, alert=copy, ok=False, error="503")]

    run_together(*(attempt(copy) for copy in copies))
    alert.refresh_from_db()
    assert alert.delivery_attempts == 4


def test_a_token_last_use_never_moves_back_and_is_written_once_a_minute(user):
    from jobs.accounts.tokens import token_lookup, token_touch
    from tests.factories import make_token

    token, raw = make_token(user)
    now = datetime(2026, 1, 1, 12, tzinfo=UTC)
    stale = token_lookup(raw)  # read before the other request recorded its use
    token_touch(token_lookup(raw), now=now)
    token_touch(stale, now=now - timedelta(seconds=5))  # a slower request, older clock
    token_touch(stale, now=now + timedelta(seconds=30))  # within the minute: no write
    token.refresh_from_db()
    assert token.last_used_at == now


def test_two_concurrent_retention_passes_average_each_minute_once(job):
    old = datetime(2026, 1, 1, 8, tzinfo=UTC)
    samples = [
        {"time": (old + timedelta(seconds=5 * i)).isoformat(), "cpu_percent": float(i % 7)}
        for i in range(600)  # 50 minutes of raw samples
    ]
    resource_samples_ingest(host="box", jobs=[job], samples=samples)
    now = old + timedelta(days=30)

    prune = partial(resource_samples_prune, retain_days=14, now=now, batch_size=100)
    run_together([prune], [prune])
    assert not ResourceSample.objects.filter(resolution=Resolution.RAW).exists()
    minutes = ResourceSample.objects.filter(resolution=Resolution.MINUTE)
    assert minutes.count() == 50
    assert {m.cpu_percent for m in minutes if m.time == old} == {sum(i % 7 for i in range(12)) / 12}


def test_writers_of_logs_metrics_status_and_stages_of_one_job_do_not_deadlock(job):
    metrics = [
        partial(services.metrics_ingest, job=job, points=batch)
        for batch in interleaved_batches(0, batches=10, size=200)
    ]
    logs = [
        partial(
            services.logs_ingest,
            job=job,
            lines=[{"seq": s, "message": "x"} for s in range(start, start + 100)],
        )
        for start in range(0, 1000, 100)
    ]
    status = [partial(services.job_status_update, job=job, step=step) for step in range(20)]
    alerts = [partial(services.alerts_sync, job=job, findings=[]) for _ in range(10)]
    stages = [partial(services.stage_move, job=job, stage="training", status="active")] + [
        partial(services.stage_move, job=job, stage="training", status="active", progress=p)
        for p in range(10)
    ]
    run_together(metrics, logs, status, alerts, stages)
    job = Job.objects.get(pk=job.pk)
    assert job.status == "running"
    assert LogEntry.objects.filter(job=job).count() == 1000
    assert rollups_disagreeing(job.pk) == []
