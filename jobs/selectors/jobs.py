"""Reads of jobs: lists in a fixed number of queries, detail, step rate, statistics."""

from datetime import timedelta

from django.db.models import (
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Prefetch,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from jobs.core.values import isoformat
from jobs.events import eta_seconds, job_card, stage_payload
from jobs.filters import JobFilter
from jobs.models import (
    CURRENT_STATUSES,
    FINISHED_STATUSES,
    Job,
    JobStatus,
    MetricPoint,
    Stage,
)

STEP_RATE_KEY = "train/loss"
STEP_RATE_WINDOW = timedelta(seconds=60)
# The newest points a step-rate estimate looks at; enough for 4 points/s over a minute.
STEP_RATE_SAMPLE = 240
STATISTICS_DAYS = 30


def jobs_in(projects):
    """Jobs of the projects with these ids (`jobs.accounts.permissions
    .readable_project_ids` of the reader); None means every project. Jobs in the trash
    are never among them: every list, query, page and statistic reads through here."""
    jobs = Job.objects.filter(deleted_at__isnull=True)
    return jobs if projects is None else jobs.filter(project_id__in=projects)


def jobs_in_trash(projects):
    """The deleted jobs of these projects (None: every project), most recently deleted
    first: what the trash page lists and what may be restored."""
    jobs = Job.objects.filter(deleted_at__isnull=False).order_by("-deleted_at", "-id")
    return jobs if projects is None else jobs.filter(project_id__in=projects)


def job_in_trash_by_uid(uid, *, projects=None):
    """The deleted job with this uid among `projects`' jobs, or None."""
    return jobs_in_trash(projects).filter(uid=uid).first()


def job_queryset(projects=None):
    """Jobs with their stages prefetched in order and the queued ones' positions read in
    one query: lists cost a fixed number of queries."""
    return (
        jobs_in(projects)
        .with_queue_positions()
        .prefetch_related(Prefetch("stages", queryset=Stage.objects.order_by("order")))
    )


def job_list_queryset(projects=None):
    """Jobs for lists and cards; wide fields no card shows are left in the database."""
    return job_queryset(projects).defer("config", "notes", "description", "deployment")


def current_jobs_queryset(projects=None):
    """Running jobs (most recently started first), then queued jobs in queue order."""
    running_first = Case(
        When(status=JobStatus.RUNNING, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        job_list_queryset(projects)
        .filter(status__in=CURRENT_STATUSES, archived=False)
        .annotate(running_first=running_first)
        .order_by("running_first", F("started_at").desc(nulls_last=True), "queued_at", "id")
    )


def past_jobs_queryset(projects=None):
    """Completed, failed and cancelled jobs, most recently finished first."""
    return (
        job_list_queryset(projects)
        .filter(status__in=FINISHED_STATUSES, archived=False)
        .order_by(F("finished_at").desc(nulls_last=True), "-id")
    )


def job_step_rate(job):
    """Steps per second over the last minute of `train/loss` reports, else None.

    The minute ends at the newest reported point; with fewer than two points in it the
    rate falls back to the job's average (current step over time since start).
    """
    recent = list(
        MetricPoint.objects.filter(job_id=job.pk, key=STEP_RATE_KEY)
        .order_by("-step")
        .values_list("step", "wall_time")[:STEP_RATE_SAMPLE]
    )
    if len(recent) >= 2:
        newest_step, newest_time = recent[0]
        window = [(s, t) for s, t in recent if newest_time - t <= STEP_RATE_WINDOW]
        if len(window) >= 2:
            oldest_step, oldest_time = window[-1]
            seconds = (newest_time - oldest_time).total_seconds()
            if seconds > 0 and newest_step > oldest_step:
                return (newest_step - oldest_step) / seconds
    return job_mean_step_rate(job)


def job_mean_step_rate(job):
    """Average steps per second from start to the last heartbeat (or finish), or None."""
    end = job.finished_at or job.last_heartbeat
    if not job.started_at or not end or not job.current_step:
        return None
    seconds = (end - job.started_at).total_seconds()
    return job.current_step / seconds if seconds > 0 else None


def job_detail(job, *, resources=None):
    """The job screen's data: the card plus stages, config, metrics, deployment, rates.

    For a running job also `step_rate` over the last minute and `eta_seconds` (null for
    other jobs); `resources` is the newest resource sample the caller read (monitoring's
    `resource_latest`), as the domain does not read samples itself.
    """
    stages = list(job.stages.order_by("order"))
    running = job.status == JobStatus.RUNNING
    rate = job_step_rate(job) if running else None
    detail = job_card(job, stages)
    detail.update(
        {
            "config": job.config,
            "source": job.source,
            "notes": job.notes,
            "description": job.description,
            "archived": job.archived,
            "stages": [stage_payload(stage) for stage in stages],
            "latest_metrics": job.latest_metrics or {},
            "metric_keys": sorted(job.latest_metrics or {}),
            "deployment": job.deployment or None,
            "step_rate": rate,
            "mean_step_rate": job_mean_step_rate(job),
            "eta_seconds": eta_seconds(job, rate),
            "resources": resources,
        }
    )
    return detail


def job_training_status(job):
    """The compact status a training script or a poller asks for."""
    stages = list(job.stages.order_by("order"))
    rate = job_step_rate(job) if job.status == JobStatus.RUNNING else None
    card = job_card(job, stages)
    return {
        "uid": job.uid,
        "status": job.status,
        "stage": card["stage"],
        "progress": card["progress"],
        "current_step": job.current_step,
        "total_steps": job.total_steps,
        "epoch": job.epoch,
        "total_epochs": job.total_epochs,
        "queue_position": job.queue_position,
        "step_rate": rate,
        "eta_seconds": eta_seconds(job, rate),
        "started_at": isoformat(job.started_at),
        "finished_at": isoformat(job.finished_at),
        "last_heartbeat": isoformat(job.last_heartbeat),
        "error": job.error,
    }


def job_statistics(*, now=None, per_day=True, projects=None):
    """Counts by status, success rate, mean duration, GPU-hours and jobs per day.

    Success rate is completed / (completed + failed + cancelled). GPU-hours sum each
    started job's duration (to now while running) times its config's `num_gpus` (1 when
    absent). Jobs per day counts jobs created on each of the last 30 UTC days, oldest first;
    `per_day=False` leaves it out (None): the dashboard's strip does not show it, and on
    SQLite its date cast runs in Python for every recent job.
    """
    now = now or timezone.now()
    jobs = jobs_in(projects)
    counts = dict.fromkeys(JobStatus.values, 0)
    counts.update(
        jobs.order_by().values_list("status").annotate(n=Count("id")).values_list("status", "n")
    )
    finished = sum(counts[status] for status in FINISHED_STATUSES)
    mean = (
        jobs.filter(
            status__in=FINISHED_STATUSES, started_at__isnull=False, finished_at__isnull=False
        )
        .order_by()
        .aggregate(
            mean=Avg(
                ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
            )
        )["mean"]
    )
    gpu_seconds = 0.0
    timings = jobs.filter(started_at__isnull=False).values_list(
        "started_at", "finished_at", "config__num_gpus"
    )
    for started_at, finished_at, num_gpus in timings.iterator(chunk_size=2000):
        gpus = num_gpus if isinstance(num_gpus, (int, float)) and num_gpus > 0 else 1
        seconds = max(0.0, ((finished_at or now) - started_at).total_seconds())
        gpu_seconds += seconds * gpus
    result = {
        "total": sum(counts.values()),
        "counts": counts,
        "success_rate": counts[JobStatus.COMPLETED] / finished if finished else None,
        "mean_duration_seconds": mean.total_seconds() if mean is not None else None,
        "gpu_hours": round(gpu_seconds / 3600, 3),
        "jobs_per_day": None,
    }
    if not per_day:
        return result
    first_day = (now - timedelta(days=STATISTICS_DAYS - 1)).date()
    created = dict(
        jobs.filter(created_at__date__gte=first_day)
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    result["jobs_per_day"] = [
        {"date": day.isoformat(), "count": created.get(day, 0)}
        for day in (first_day + timedelta(days=n) for n in range(STATISTICS_DAYS))
    ]
    return result


def job_by_uid(uid, *, with_stages=False, projects=None):
    """The job with this uid among `projects`' jobs, or None; `with_stages` prefetches its
    stages in order."""
    jobs = job_queryset(projects) if with_stages else jobs_in(projects)
    try:
        return jobs.get(uid=uid)
    except Job.DoesNotExist:
        return None


def job_by_uids(uids, *, projects=None):
    """{uid: job} for those of `uids` that exist among `projects`' jobs, in one query."""
    return {job.uid: job for job in jobs_in(projects).filter(uid__in=uids)}


def job_list_page(*, params, limit, projects=None):
    """(count, first `limit` jobs) of the list `params` filter (`JobFilter`'s fields)."""
    jobs = JobFilter(params, queryset=job_list_queryset(projects)).qs
    return jobs.count(), list(jobs[:limit])


def job_filter_options(projects=None):
    """(models, tags) for the dashboard's filter lists, each sorted.

    Two DISTINCT queries: tags come from the distinct `tags_text` strings (",a,b,"), so
    the rows read grow with the number of different tag sets, not with the number of jobs,
    and no job's JSON is decoded.
    """
    models = list(
        jobs_in(projects)
        .exclude(base_model="")
        .order_by("base_model")
        .values_list("base_model", flat=True)
        .distinct()
    )
    tag_sets = (
        jobs_in(projects)
        .exclude(tags_text="")
        .order_by()
        .values_list("tags_text", flat=True)
        .distinct()
    )
    tags = sorted({tag for text in tag_sets for tag in text.split(",") if tag})
    return models, tags
