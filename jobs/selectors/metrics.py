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
    Window,
)
from django.db.models.functions import RowNumber

from jobs import rollups
from jobs.core.values import encode_float
from jobs.models import (
    MetricPoint,
)

DEFAULT_MAX_POINTS = 1000
MAX_POINTS_CAP = 10_000
LOSS_KEYS = ("train/loss", "val/loss")


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
