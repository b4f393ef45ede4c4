"""Reads of jobs, metrics and logs that need care: bounded queries, database downsampling.

Every function here reads a bounded number of rows into Python whatever the size of
the job: lists use a fixed number of queries, series are downsampled by SQL window
functions, exports stream through `.iterator()`.
"""

import math
from datetime import timedelta

from django.db.models import (
    Avg,
    BigIntegerField,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from . import rollups
from .live import encode_float, isoformat
from .models import (
    CURRENT_STATUSES,
    FINISHED_STATUSES,
    Job,
    JobStatus,
    LogEntry,
    LogLevel,
    MetricPoint,
    Stage,
)
from .payloads import eta_seconds, job_card, log_payload, stage_payload

DEFAULT_MAX_POINTS = 1000
MAX_POINTS_CAP = 10_000
LOSS_KEYS = ("train/loss", "val/loss")
STEP_RATE_KEY = "train/loss"
STEP_RATE_WINDOW = timedelta(seconds=60)
# The newest points a step-rate estimate looks at; enough for 4 points/s over a minute.
STEP_RATE_SAMPLE = 240
LOG_LEVELS = list(LogLevel.values)  # DEBUG < INFO < WARNING < ERROR < CRITICAL
LOG_PAGE_DEFAULT = 500
LOG_PAGE_MAX = 5000
STATISTICS_DAYS = 30


# --- jobs ----------------------------------------------------------------------------


def job_queryset():
    """Jobs with their stages prefetched in order: lists cost a fixed number of queries."""
    return Job.objects.prefetch_related(
        Prefetch("stages", queryset=Stage.objects.order_by("order"))
    )


def job_list_queryset():
    """All jobs for lists and cards; wide fields no card shows are left in the database."""
    return job_queryset().defer("config", "notes", "deployment")


def current_jobs_queryset():
    """Running jobs (most recently started first), then queued jobs in queue order."""
    running_first = Case(
        When(status=JobStatus.RUNNING, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        job_list_queryset()
        .filter(status__in=CURRENT_STATUSES)
        .annotate(running_first=running_first)
        .order_by("running_first", F("started_at").desc(nulls_last=True), "queue_position", "id")
    )


def past_jobs_queryset():
    """Completed, failed and cancelled jobs, most recently finished first."""
    return (
        job_list_queryset()
        .filter(status__in=FINISHED_STATUSES)
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


def job_detail(job):
    """The job screen's data: the card plus stages, config, metrics, deployment, rates.

    For a running job also `resources` (its newest resource sample), `step_rate` over the
    last minute and `eta_seconds`; these are null for other jobs.
    """
    from monitoring.selectors import resource_latest

    stages = list(job.stages.order_by("order"))
    running = job.status == JobStatus.RUNNING
    rate = job_step_rate(job) if running else None
    detail = job_card(job, stages)
    detail.update(
        {
            "config": job.config,
            "notes": job.notes,
            "stages": [stage_payload(stage) for stage in stages],
            "latest_metrics": job.latest_metrics or {},
            "metric_keys": sorted(job.latest_metrics or {}),
            "deployment": job.deployment or None,
            "step_rate": rate,
            "mean_step_rate": job_mean_step_rate(job),
            "eta_seconds": eta_seconds(job, rate),
            "resources": resource_latest(job=job) if running else None,
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


def training_summary():
    """Across running jobs: how many, mean GPU utilisation, latest losses, throughput."""
    from monitoring.models import ResourceSample
    from monitoring.selectors import gpu_mean_util

    def newest(**lookup):
        return ResourceSample.objects.filter(**lookup).order_by("-time", "-id").values("pk")[:1]

    running = list(
        Job.objects.filter(status=JobStatus.RUNNING)
        .defer("config", "notes", "deployment", "error_traceback")
        .annotate(
            job_sample=Subquery(newest(job_id=OuterRef("pk"))),
            host_sample=Subquery(newest(host=OuterRef("host"))),
        )
        .order_by(F("started_at").desc(nulls_last=True), "id")
    )
    sample_ids = {job.job_sample or job.host_sample for job in running} - {None}
    samples = ResourceSample.objects.in_bulk(sample_ids)
    queued = Job.objects.filter(status=JobStatus.QUEUED).count()
    jobs, utils, throughput = [], [], 0.0
    for job in running:
        sample = samples.get(job.job_sample or job.host_sample)
        util = gpu_mean_util(sample.gpus) if sample else None
        if util is not None:
            utils.append(util)
        # One indexed query per running job (tens at most), not per point or per job stored.
        rate = job_step_rate(job)
        throughput += rate or 0.0
        latest = job.latest_metrics or {}
        jobs.append(
            {
                "uid": job.uid,
                "name": job.name,
                "model": job.base_model,
                "progress": round(job.progress, 2),
                "current_step": job.current_step,
                "total_steps": job.total_steps,
                "latest_loss": (latest.get("train/loss") or {}).get("value"),
                "latest_val_loss": (latest.get("val/loss") or {}).get("value"),
                "step_rate": rate,
                "eta_seconds": eta_seconds(job, rate),
                "gpu_util": util,
                "last_heartbeat": isoformat(job.last_heartbeat),
            }
        )
    return {
        "running": len(running),
        "queued": queued,
        "mean_gpu_util": sum(utils) / len(utils) if utils else None,
        "throughput_steps_per_second": throughput,
        "jobs": jobs,
    }


def job_statistics(*, now=None, per_day=True):
    """Counts by status, success rate, mean duration, GPU-hours and jobs per day.

    Success rate is completed / (completed + failed + cancelled). GPU-hours sum each
    started job's duration (to now while running) times its config's `num_gpus` (1 when
    absent). Jobs per day counts jobs created on each of the last 30 UTC days, oldest first;
    `per_day=False` leaves it out (None): the dashboard's strip does not show it, and on
    SQLite its date cast runs in Python for every recent job.
    """
    now = now or timezone.now()
    counts = dict.fromkeys(JobStatus.values, 0)
    counts.update(
        Job.objects.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    finished = sum(counts[status] for status in FINISHED_STATUSES)
    mean = (
        Job.objects.filter(
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
    timings = Job.objects.filter(started_at__isnull=False).values_list(
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
        Job.objects.filter(created_at__date__gte=first_day)
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


# --- metric series -------------------------------------------------------------------


def metric_keys(job):
    """The metric keys a job has reported (kept in `latest_metrics` by ingest)."""
    keys = sorted(job.latest_metrics or {})
    if keys:
        return keys
    return list(
        MetricPoint.objects.filter(job_id=job.pk)
        .order_by("key")
        .values_list("key", flat=True)
        .distinct()
    )


def _point(step, value, epoch):
    return [step, encode_float(math.nan if value is None else value), epoch]


def _series_downsample(points, *, lo, hi, nans, max_points):
    """At most `max_points` points of one key's series, chosen in the database.

    The step range [lo, hi] is cut into equal buckets; each bucket keeps the point with
    its smallest and the point with its largest value (so no spike disappears) and, when
    the series has NaN, the first NaN point of the bucket. The first and last points are
    always kept. Returns `[[step, value, epoch], ...]` ordered by step.
    """
    # Two points per bucket, plus one per bucket holding a NaN: at most `nans` of them.
    budget = max_points - 2
    buckets = max(1, (budget - nans) // 2, budget // 3 if nans else 0)
    width = -(-(hi - lo + 1) // buckets)  # ceil, so bucket numbers stay below `buckets`
    bucket = ExpressionWrapper((F("step") - lo) / width, output_field=BigIntegerField())
    by_bucket = [F("bucket")]
    ranked = points.annotate(bucket=bucket).annotate(
        lowest=Window(
            RowNumber(),
            partition_by=by_bucket,
            order_by=[F("value").asc(nulls_last=True), F("step").asc()],
        ),
        highest=Window(
            RowNumber(),
            partition_by=by_bucket,
            order_by=[F("value").desc(nulls_last=True), F("step").asc()],
        ),
    )
    keep = Q(lowest=1) | Q(highest=1) | Q(step=lo) | Q(step=hi)
    if nans:
        ranked = ranked.annotate(
            first_nan=Window(
                RowNumber(),
                partition_by=by_bucket,
                order_by=[F("value").asc(nulls_first=True), F("step").asc()],
            )
        )
        keep |= Q(first_nan=1, value__isnull=True)
    rows = ranked.filter(keep).order_by("step").values_list("step", "value", "epoch")
    return [_point(*row) for row in rows]


def metric_series(*, job, keys=None, since_step=None, max_points=DEFAULT_MAX_POINTS):
    """Series of `keys` (default: every key of the job), each at most `max_points` long.

    A key with at most `max_points` points in range comes back whole; a longer one is
    downsampled in the database (see `_series_downsample`). With `since_step`, only
    points with `step > since_step` are in range. Returns
    `{key: {"points": [[step, value, epoch], ...], "total": n, "downsampled": bool}}`
    with NaN and ±inf as "NaN", "Infinity", "-Infinity".
    """
    keys = list(keys) if keys is not None else metric_keys(job)
    series = {key: {"points": [], "total": 0, "downsampled": False} for key in keys}
    if not keys:
        return series
    in_range = MetricPoint.objects.filter(job_id=job.pk, key__in=keys)
    if since_step is not None:
        in_range = in_range.filter(step__gt=since_step)
    else:
        # Whole series: sizes come from the stored rollups (a few rows per key) and long
        # series are downsampled from them; keys without rollups take the scan below.
        totals = rollups.series_totals(job_id=job.pk, keys=keys)
        for key, (count, lo, hi) in totals.items():
            if count <= max_points:
                continue
            points = rollups.series_downsample(
                job_id=job.pk, key=key, lo=lo, hi=hi, max_points=max_points
            )
            if points is not None:
                series[key].update(points=points, total=count, downsampled=True)
        done = [key for key in keys if series[key]["downsampled"]]
        if len(done) == len(keys):
            return series
        if done:
            in_range = in_range.exclude(key__in=done)
    stats = (
        in_range.order_by()
        .values("key")
        .annotate(
            total=Count("id"),
            lo=Min("step"),
            hi=Max("step"),
            nans=Count("id", filter=Q(value__isnull=True)),
        )
    )
    whole = []
    for row in stats:
        entry = series[row["key"]]
        entry["total"] = row["total"]
        if row["total"] <= max_points:
            whole.append(row["key"])
            continue
        entry["downsampled"] = True
        entry["points"] = _series_downsample(
            in_range.filter(key=row["key"]),
            lo=row["lo"],
            hi=row["hi"],
            nans=row["nans"],
            max_points=max_points,
        )
    if whole:
        rows = (
            in_range.filter(key__in=whole)
            .order_by("key", "step")
            .values_list("key", "step", "value", "epoch")
        )
        for key, step, value, epoch in rows:
            series[key]["points"].append(_point(step, value, epoch))
    return series


def metric_export_rows(job):
    """Every point of the job as (key, step, epoch, value, wall_time), streamed."""
    return (
        MetricPoint.objects.filter(job_id=job.pk)
        .order_by("key", "step")
        .values_list("key", "step", "epoch", "value", "wall_time")
        .iterator(chunk_size=5000)
    )


# --- logs ----------------------------------------------------------------------------


def log_levels_at_least(level):
    """The levels at `level` or above (WARN, FATAL accepted as WARNING, CRITICAL)."""
    aliases = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR", "TRACE": "DEBUG"}
    level = aliases.get(level.upper(), level.upper())
    if level not in LOG_LEVELS:
        raise ValueError(f'"{level}" is not a valid level; one of {", ".join(LOG_LEVELS)}.')
    return LOG_LEVELS[LOG_LEVELS.index(level) :]


def log_page(*, job, after_seq=None, level=None, q=None, limit=LOG_PAGE_DEFAULT, tail=False):
    """One page of a job's log lines in sequence order.

    `after_seq` keeps lines with a greater seq; `level` keeps lines at that level or
    above; `q` keeps lines whose message contains it (case-insensitive); `tail` returns
    the newest `limit` matching lines instead of the oldest. Returns
    `{"lines": [...], "next_after_seq": seq | None, "last_seq": seq | None}`:
    `next_after_seq` is set when more lines may follow (a full page), `last_seq` is the
    seq to poll after for new lines.
    """
    lines = LogEntry.objects.filter(job_id=job.pk)
    if after_seq is not None:
        lines = lines.filter(seq__gt=after_seq)
    if level:
        lines = lines.filter(level__in=log_levels_at_least(level))
    if q:
        lines = lines.filter(message__icontains=q)
    if tail:
        page = list(lines.order_by("-seq")[:limit])[::-1]
        more = False
    else:
        page = list(lines.order_by("seq")[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
    last_seq = page[-1].seq if page else after_seq
    return {
        "lines": [log_payload(entry) for entry in page],
        "next_after_seq": last_seq if more else None,
        "last_seq": last_seq,
    }
