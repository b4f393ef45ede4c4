"""Test data helpers: users, tokens, jobs in any status, metric points, logs, samples.

Jobs, tokens, logs and samples are made through the service functions, so they look
exactly like reported data. `add_points` and `jobs_bulk` write rows directly for speed
(hundreds of thousands of points, hundreds of jobs); use them only to set up reads.
"""

import itertools
import math
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from jobs import services
from jobs.models import STAGE_ORDER, Job, JobStatus, MetricPoint, Stage
from jobs.rollups import rollups_update
from jobs.summaries import summaries_update
from monitoring.services import resource_samples_ingest

_counter = itertools.count(1)


def make_user(username=None, *, password="pw-for-tests-only", **fields):
    """A user who can sign in with `password`."""
    username = username or f"user{next(_counter)}"
    return get_user_model().objects.create_user(username=username, password=password, **fields)


def make_token(user=None, *, name="test token", job_scope=None, tag_prefixes=None, **kwargs):
    """An API token; returns `(token, raw)` where `raw` goes in `Authorization: Bearer`."""
    return services.token_create(
        user=user or make_user(),
        name=name,
        job_scope=job_scope,
        tag_prefixes=tag_prefixes,
        **kwargs,
    )


def make_job(*, uid=None, name=None, status=JobStatus.QUEUED, step=None, error=None, **fields):
    """A job created through the services and moved to `status`.

    `fields` are `job_create` arguments (model, dataset, tags, config, total_steps, ...).
    A running job is at `step` (default 0); a failed one gets `error` (default a message).
    """
    number = next(_counter)
    job, _ = services.job_create(uid=uid or f"job-{number}", name=name or f"Job {number}", **fields)
    if status == JobStatus.QUEUED:
        return job
    services.job_status_update(job=job, status=JobStatus.RUNNING, step=step)
    if status == JobStatus.FAILED:
        error = error or {"message": "CUDA out of memory", "type": "OutOfMemoryError"}
        return services.job_status_update(job=job, status=status, error=error)
    if status != JobStatus.RUNNING:
        return services.job_status_update(job=job, status=status)
    job.refresh_from_db()
    return job


def jobs_bulk(count, *, status=JobStatus.COMPLETED, prefix="bulk", **fields):
    """`count` jobs with five stages each in a few statements (for query-count tests)."""
    now = timezone.now()
    jobs = Job.objects.bulk_create(
        [
            Job(
                uid=f"{prefix}-{index}",
                name=f"{prefix} job {index}",
                status=status,
                created_at=now - timedelta(minutes=index),
                started_at=None if status == JobStatus.QUEUED else now - timedelta(hours=1),
                finished_at=now if status in (JobStatus.COMPLETED, JobStatus.FAILED) else None,
                **fields,
            )
            for index in range(count)
        ]
    )
    Stage.objects.bulk_create(
        [
            Stage(job=job, name=name, order=order)
            for job in jobs
            for order, name in enumerate(STAGE_ORDER)
        ]
    )
    return jobs


def points(count, *, key="train/loss", start=0, value=lambda step: 1.0 / (step + 1)):
    """`count` point dicts as a client posts them: step `start`.., value `value(step)`."""
    return [{"key": key, "step": start + i, "value": value(start + i)} for i in range(count)]


def ingest_points(job, count, **kwargs):
    """Post `count` points through `metrics_ingest` (keeps latest_metrics up to date)."""
    return services.metrics_ingest(job=job, points=points(count, **kwargs))


def add_points(job, values, *, key="train/loss", start=0, wall_time=None, epoch=None):
    """Insert one point per value at steps `start`.. directly (fast; for large series).

    A value of None is NaN, as stored. `latest_metrics` is not updated; the rollups and
    summaries are. Rows go in with one `executemany`, as model instances would make a
    200 000-point setup take seconds.
    """
    stamp = connection.ops.adapt_datetimefield_value(wall_time or timezone.now())
    table = MetricPoint._meta.db_table
    rows = ((job.pk, key, start + i, epoch, v, stamp) for i, v in enumerate(values))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (job_id, key, step, epoch, value, wall_time) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            list(rows),
        )
    # Keep the stored rollups and summaries too, as metrics ingest does.
    series = [(start + i, math.nan if v is None else v, epoch, None) for i, v in enumerate(values)]
    rollups_update(job_id=job.pk, by_key={key: series})
    summaries_update(job_id=job.pk, by_key={key: series})


def add_logs(job, count, *, start=0, level="INFO", message="line {seq}"):
    """Log lines with seqs `start`..`start + count - 1` through `logs_ingest`."""
    lines = [
        {"seq": seq, "level": level, "message": message.format(seq=seq)}
        for seq in range(start, start + count)
    ]
    return services.logs_ingest(job=job, lines=lines)


def sample(**fields):
    """One resource sample as the host agent posts it; `fields` override the defaults."""
    data = {
        "cpu_percent": 40.0,
        "ram_used": 8 * 2**30,
        "ram_total": 64 * 2**30,
        "gpus": [{"index": 0, "name": "H100", "util": 90.0, "mem_used": 2**34, "mem_total": 2**36}],
    }
    data.update(fields)
    return data


def add_samples(host, samples, *, job=None):
    """Store resource samples of `host` through the service (linked to `job` if given)."""
    return resource_samples_ingest(host=host, samples=samples, jobs=[job] if job else [])
