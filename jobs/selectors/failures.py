"""Reads across failed jobs: the earlier failures like this one, the next run of the same
model and dataset that succeeded, and the most common failure signatures.

Each takes `jobs`, the queryset of jobs the reader may see (all jobs by default), so a
caller scoped to a project passes its own.
"""

from datetime import timedelta

from django.db.models import Count, Max
from django.utils import timezone

from jobs.models import Job, JobStatus

TOP_FAILURE_DAYS = 30


def failure_earlier(job, *, jobs=None, limit=5):
    """(count, the newest `limit`) of the jobs that failed with `job`'s signature before it."""
    if job.status != JobStatus.FAILED or not job.failure_signature:
        return 0, []
    jobs = Job.objects.filter(deleted_at__isnull=True) if jobs is None else jobs
    earlier = jobs.filter(status=JobStatus.FAILED, failure_signature=job.failure_signature).exclude(
        pk=job.pk
    )
    if job.finished_at:
        earlier = earlier.filter(finished_at__lte=job.finished_at)
    earlier = earlier.order_by("-finished_at", "-id")
    return earlier.count(), list(earlier[:limit])


def failure_next_success(job, *, jobs=None):
    """The first job created after `job` with the same model and dataset that completed,
    or None (also when the job names no model)."""
    if not job.base_model:
        return None
    jobs = Job.objects.filter(deleted_at__isnull=True) if jobs is None else jobs
    return (
        jobs.filter(
            status=JobStatus.COMPLETED,
            base_model=job.base_model,
            dataset=job.dataset,
            created_at__gt=job.created_at,
        )
        .order_by("created_at", "id")
        .first()
    )


def failure_top_signatures(*, jobs=None, days=TOP_FAILURE_DAYS, limit=5, now=None):
    """The most common failure signatures of the last `days` days:
    [{"signature", "count", "last_failed_at"}], most frequent first."""
    now = now or timezone.now()
    jobs = Job.objects.filter(deleted_at__isnull=True) if jobs is None else jobs
    rows = (
        jobs.filter(status=JobStatus.FAILED, finished_at__gte=now - timedelta(days=days))
        .exclude(failure_signature="")
        .order_by()
        .values("failure_signature")
        .annotate(count=Count("id"), last=Max("finished_at"))
        .order_by("-count", "-last")[:limit]
    )
    return [
        {"signature": r["failure_signature"], "count": r["count"], "last_failed_at": r["last"]}
        for r in rows
    ]
