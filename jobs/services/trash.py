"""The trash: deleting a job (restorable for `TRASH_DAYS`), restoring it, and the purge
that then removes it with everything it owns.

A deleted job keeps its rows; `deleted_at` hides it from every list, query, page and
statistic (`jobs.selectors.jobs_in`). The purge removes a due job's rows table by table
in batches of `PURGE_BATCH`, each batch its own short transaction, so ingest of other
jobs waits at most one batch (on SQLite, whose writers take turns, and on PostgreSQL,
where a batch locks only the rows it deletes).
"""

import time
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from jobs import events
from jobs.core.push import broadcast_after_commit
from jobs.core.validation import Conflict
from jobs.models import TRASH_DAYS, Job

from .audit import JOB_DELETE, JOB_PURGE, JOB_RESTORE, audit_record
from .jobs import job_broadcast

PURGE_BATCH = 5000
# The share of its running time the purge holds the database: after a batch that took t
# seconds it waits t·(1 − duty)/duty, so writers queued behind it (SQLite serialises
# writers; its busy handler polls) get their turn, and it takes at most half a core.
PURGE_DUTY = 0.5
# The least rest between batches: longer than the longest sleep of SQLite's busy handler
# (100 ms), so a writer that found the database locked wakes while it is free.
PURGE_REST_MIN = 0.12
# Batches one pass of the purge daemon runs (about 2.5 million rows) before it yields.
PURGE_PASS_BATCHES = 500
# Jobs one purge pass looks at; the next pass takes the rest.
PURGE_JOBS_PER_PASS = 100
# What a job owns in bulk, removed in batches before the job row itself (whose own
# delete then cascades over the few rows left: stages, comments, alerts).
OWNED = (
    "metric_points",
    "metric_rollups",
    "metric_summaries",
    "log_entries",
    "resource_samples",
    "samples",
    "checkpoints",
)


def trash_cutoff(now=None):
    """Jobs deleted at or before this instant are due for the purge."""
    return (now or timezone.now()) - timedelta(days=TRASH_DAYS)


def job_trash(*, job, actor=None, token=None, now=None):
    """Move a job to the trash (a job already there stays as it was). Its viewers and its
    project's dashboard are told it is gone. Returns the job."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.deleted_at is not None:
            return job
        job.deleted_at = now or timezone.now()
        job.save(update_fields=["deleted_at"])
        audit_record(action=JOB_DELETE, job=job, actor=actor, token=token)
        trash_broadcast(job)
    return job


def trash_broadcast(job):
    message = events.job_deleted_message(job.uid)
    broadcast_after_commit(
        [events.dashboard_group(job.project_id), events.job_group(job.uid)], message
    )


def job_restore(*, job, actor=None, token=None, now=None):
    """Take a job out of the trash, as it was before. A job whose `TRASH_DAYS` are over is
    being purged and cannot come back (`Conflict`). Returns the job."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.deleted_at is None:
            return job
        if job.deleted_at <= trash_cutoff(now):
            raise Conflict(f"Job {job.uid} was deleted over {TRASH_DAYS} days ago and is purged.")
        job.deleted_at = None
        job.save(update_fields=["deleted_at"])
        audit_record(action=JOB_RESTORE, job=job, actor=actor, token=token)
        job_broadcast(job)
    return job


def trash_purge(*, now=None, batch_size=PURGE_BATCH, max_batches=None, duty=1.0):
    """Remove the jobs deleted `TRASH_DAYS` or more before `now` with their points,
    rollups, summaries, logs, resource samples, samples and checkpoints.

    Each batch deletes at most `batch_size` rows of one table in its own transaction;
    with `duty` < 1 the purge rests after each batch (see `PURGE_DUTY`), so waiting
    writers get the database between batches. With `max_batches` the pass
    stops after that many batches (the next pass goes on where it stopped). Returns
    `{"jobs": [purged uids], "rows": rows deleted, "batches": n, "done": bool}`.
    """
    cutoff = trash_cutoff(now)
    result = {"jobs": [], "rows": 0, "batches": 0, "done": False}
    due = list(
        Job.objects.filter(deleted_at__lte=cutoff)
        .order_by("deleted_at", "id")
        .values_list("pk", flat=True)[:PURGE_JOBS_PER_PASS]
    )
    for pk in due:
        for name in OWNED:
            model = Job._meta.get_field(name).related_model
            while True:
                if max_batches is not None and result["batches"] >= max_batches:
                    return result
                started = time.monotonic()
                with transaction.atomic():
                    ids = list(
                        model._base_manager.filter(job_id=pk).values_list("pk", flat=True)[
                            :batch_size
                        ]
                    )
                    if ids:
                        result["rows"] += model._base_manager.filter(pk__in=ids).delete()[0]
                if not ids:
                    break
                result["batches"] += 1
                if duty < 1:
                    held = time.monotonic() - started
                    time.sleep(max(PURGE_REST_MIN, held * (1 - duty) / duty))
        with transaction.atomic():
            job = Job.objects.select_for_update().filter(pk=pk, deleted_at__lte=cutoff).first()
            if job is None:
                continue
            audit_record(action=JOB_PURGE, job=job, detail={"deleted_at": str(job.deleted_at)})
            job.delete()
        result["jobs"].append(job.uid)
    result["done"] = len(due) < PURGE_JOBS_PER_PASS
    return result
