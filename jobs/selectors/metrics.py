"""Reads of metric series: downsampled in the database (rollups or window functions), and
exports streamed through `.iterator()`; never a whole long series in memory."""

import math

from django.db.models import (
    BigIntegerField,
    Count,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    Sum,
    Window,
)
from django.db.models.functions import RowNumber

from jobs import rollups
from jobs.core.values import encode_float
from jobs.models import (
    MetricPoint,
    MetricRollup,
)

DEFAULT_MAX_POINTS = 1000
MAX_POINTS_CAP = 10_000
LOSS_KEYS = ("train/loss", "val/loss")
# Step→time anchors per job for the relative-time x-axis (the series API has no times).
STEP_CLOCK_BUCKETS = 200


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


def metric_key_counts(job):
    """{key: number of stored points} for every key of the job, from the widest rollups.

    One grouped query over a few rows per key (the rollups ingest keeps), whatever the
    length of the series; keys without rollups are counted from their points.
    """
    rows = (
        MetricRollup.objects.filter(job_id=job.pk, width=rollups.WIDTHS[-1])
        .order_by()
        .values("key")
        .annotate(total=Sum("count"))
        .values_list("key", "total")
    )
    counts = dict(rows)
    missing = [key for key in (job.latest_metrics or {}) if key not in counts]
    if missing:
        counted = (
            MetricPoint.objects.filter(job_id=job.pk, key__in=missing)
            .order_by()
            .values("key")
            .annotate(total=Count("id"))
            .values_list("key", "total")
        )
        counts.update(dict(counted))
    return counts


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


def metric_first_step(job):
    """The smallest step the job reported any metric at, or None before its first point."""
    return MetricPoint.objects.filter(job=job).aggregate(first=Min("step"))["first"]


def metric_previous_values(job, keys):
    """{key: value of the point before the latest one} for each of `keys` the job reported.

    The value is None when the latest point is the key's first. One indexed query a key.
    """
    latest = job.latest_metrics or {}
    previous = {}
    for key in keys:
        if key not in latest:
            continue
        previous[key] = (
            MetricPoint.objects.filter(job=job, key=key, step__lt=latest[key]["step"])
            .order_by("-step")
            .values_list("value", flat=True)
            .first()
        )
    return previous


def metric_best_point(*, job, key):
    """`{"value", "step"}` of the job's lowest `key` value (earliest step on ties), or None."""
    return (
        MetricPoint.objects.filter(job=job, key=key, value__isnull=False)
        .order_by("value", "step")
        .values("value", "step")
        .first()
    )


def metric_step_clock(job, *, buckets=STEP_CLOCK_BUCKETS):
    """[[step, seconds since the job started], ...] anchors, steps and seconds rising.

    One grouped query: the job's step range is cut into `buckets` equal parts and each
    keeps its first and last step with the earliest and latest wall time, so the page can
    interpolate the time of any step (pauses and restarts included).
    """
    points = MetricPoint.objects.filter(job=job)
    span = points.aggregate(lo=Min("step"), hi=Max("step"), t0=Min("wall_time"))
    if span["lo"] is None:
        return []
    width = (span["hi"] - span["lo"]) // buckets + 1
    bucket = ExpressionWrapper((F("step") - span["lo"]) / width, output_field=BigIntegerField())
    rows = (
        points.annotate(bucket=bucket)
        .values("bucket")
        .annotate(s0=Min("step"), t0=Min("wall_time"), s1=Max("step"), t1=Max("wall_time"))
        .order_by("bucket")
    )
    origin = job.started_at or span["t0"]
    anchors = []
    for row in rows:
        for step, time in ((row["s0"], row["t0"]), (row["s1"], row["t1"])):
            seconds = max(0.0, (time - origin).total_seconds())
            if anchors and step <= anchors[-1][0]:
                continue
            if anchors:
                seconds = max(seconds, anchors[-1][1])
            anchors.append([step, round(seconds, 3)])
    return anchors


def metric_points_page(*, job, key, after_step=None, start_step=None, end_step=None, limit):
    """Up to `limit` stored points of one series as (step, value, wall_time), in step
    order, after `after_step` and within [start_step, end_step] when given: exact values
    for readers that page through a whole series (the MLflow metric history)."""
    points = MetricPoint.objects.filter(job_id=job.pk, key=key)
    if after_step is not None:
        points = points.filter(step__gt=after_step)
    if start_step is not None:
        points = points.filter(step__gte=start_step)
    if end_step is not None:
        points = points.filter(step__lte=end_step)
    return list(points.order_by("step").values_list("step", "value", "wall_time")[:limit])


def metric_steps_sampled(*, job, key, start_step=None, end_step=None, max_points):
    """At most `max_points` points of one series evenly spread over its steps within
    [start_step, end_step], always with the first and the last, as (step, value,
    wall_time) in step order. Reads the steps once, then only the chosen points."""
    points = MetricPoint.objects.filter(job_id=job.pk, key=key)
    if start_step is not None:
        points = points.filter(step__gte=start_step)
    if end_step is not None:
        points = points.filter(step__lte=end_step)
    steps = list(points.order_by("step").values_list("step", flat=True))
    if len(steps) > max_points:
        if max_points <= 1:
            steps = steps[-1:]
        else:
            last = len(steps) - 1
            picks = {round(i * last / (max_points - 1)) for i in range(max_points)}
            steps = [steps[i] for i in sorted(picks)]
    chosen = points.filter(step__in=steps) if steps else points.none()
    return list(chosen.order_by("step").values_list("step", "value", "wall_time"))
