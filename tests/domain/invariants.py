"""Brute-force references for the stored summaries and the downsampled reads.

Each reference reads the stored points and recomputes, the slow obvious way, what the
rollups or a downsampled read must say about them. Also imported by the process-level
tests through `manage.py shell`, so it reads the database with the ORM only.
"""

from jobs.core.values import encode_float
from jobs.models import MetricPoint, MetricRollup, MetricSummary
from jobs.rollups import WIDTHS

SUMMARY_FIELDS = (
    "count",
    "first_step",
    "first_value",
    "first_epoch",
    "last_step",
    "last_value",
    "last_epoch",
    "min_step",
    "min_value",
    "min_epoch",
    "max_step",
    "max_value",
    "max_epoch",
    "nan_step",
)


def stored_points(job_id, key=None):
    """{key: [(step, value or None for NaN, epoch)]} in step order."""
    rows = MetricPoint.objects.filter(job_id=job_id)
    if key is not None:
        rows = rows.filter(key=key)
    series = {}
    for k, step, value, epoch in rows.order_by("key", "step").values_list(
        "key", "step", "value", "epoch"
    ):
        series.setdefault(k, []).append((step, value, epoch))
    return series


def summary_recount(points):
    """The summary of one bucket's points: count, first/last, min/max (earliest step on
    ties) with their steps and epochs, and the first NaN's step."""
    values = [p for p in points if p[1] is not None]
    low = min(values, key=lambda p: (p[1], p[0])) if values else (None, None, None)
    high = max(values, key=lambda p: (p[1], -p[0])) if values else (None, None, None)
    nans = [p[0] for p in points if p[1] is None]
    first, last = points[0], points[-1]
    return dict(
        zip(
            SUMMARY_FIELDS,
            (len(points), *first, *last, *low, *high, nans[0] if nans else None),
            strict=True,
        )
    )


def rollups_recount(job_id):
    """{(key, width, bucket): summary} recomputed from every stored point of the job."""
    expected = {}
    for key, points in stored_points(job_id).items():
        for width in WIDTHS:
            buckets = {}
            for point in points:
                buckets.setdefault(point[0] // width, []).append(point)
            for bucket, members in buckets.items():
                expected[key, width, bucket] = summary_recount(members)
    return expected


def rollups_stored(job_id):
    rows = MetricRollup.objects.filter(job_id=job_id).values(
        "key", "width", "bucket", *SUMMARY_FIELDS
    )
    return {(r["key"], r["width"], r["bucket"]): {f: r[f] for f in SUMMARY_FIELDS} for r in rows}


def rollups_disagreeing(job_id):
    """Sorted (key, width, bucket) of every stored rollup that differs from a recount of
    its points, plus every bucket with points and no rollup, or a rollup and no points."""
    expected, stored = rollups_recount(job_id), rollups_stored(job_id)
    return sorted(b for b in expected.keys() | stored.keys() if expected.get(b) != stored.get(b))


def metric_summaries_disagreeing(job_id):
    """Sorted keys whose stored `MetricSummary` differs from a recount of the key's points
    (count, last, min and max with their steps; NaN never an extreme), plus keys with
    points and no summary or a summary and no points."""
    fields = ("count", "last_step", "last_value", "min_step", "min_value", "max_step")
    fields = (*fields, "max_value")
    expected = {}
    for key, points in stored_points(job_id).items():
        recount = summary_recount(points)
        expected[key] = {f: recount[f] for f in fields}
    stored = {
        r.pop("key"): r
        for r in MetricSummary.objects.filter(job_id=job_id).values(
            "key",
            "count",
            "last_step",
            "last_value",
            "min_step",
            "min_value",
            "max_step",
            "max_value",
        )
    }
    return sorted(k for k in expected.keys() | stored.keys() if expected.get(k) != stored.get(k))


def downsample_reference(points, *, group_of, max_points=None):
    """What a downsampled read of `points` (step order) must return when bucketed by
    `group_of(step)`: per group its lowest and highest value (earliest step on ties) and
    its first NaN, plus the first and last points; as [step, value, epoch] in step order,
    NaN and ±inf as the API writes them."""
    groups = {}
    for point in points:
        groups.setdefault(group_of(point[0]), []).append(point)
    kept = {}
    for members in groups.values():
        summary = summary_recount(members)
        if summary["min_step"] is not None:
            kept[summary["min_step"]] = True
            kept[summary["max_step"]] = True
        if summary["nan_step"] is not None:
            kept[summary["nan_step"]] = True
    by_step = {p[0]: p for p in points}
    grouped = len(kept)
    kept[points[0][0]] = kept[points[-1][0]] = True
    out = [_api_point(*by_step[step]) for step in sorted(kept)]
    return out, grouped


def _api_point(step, value, epoch):
    return [step, "NaN" if value is None else encode_float(value), epoch]


def rollup_path_reference(points, *, max_points):
    """`downsample_reference` with the groups a rollup read uses: the widest stored width
    giving at least half the requested resolution, groups of whole rollup buckets, and
    fewer groups while first NaNs overrun the budget."""
    lo, hi = points[0][0], points[-1][0]
    span = hi - lo + 1
    wanted = max(1, (max_points - 2) // 2)
    width = max(w for w in WIDTHS if w * wanted <= 2 * span)
    while True:
        groups = wanted
        out, grouped = downsample_reference(
            points, group_of=lambda s, g=groups: ((s // width) * width - lo) * g // span
        )
        if grouped + 2 <= max_points or wanted == 1:
            return out
        wanted = max(1, wanted - (grouped + 2 - max_points + 1) // 2 - 1)


def window_path_reference(points, *, max_points):
    """`downsample_reference` with the equal step ranges of the SQL window-function read:
    two points a range, three when the range has NaN, within `max_points`."""
    lo, hi = points[0][0], points[-1][0]
    nans = sum(1 for p in points if p[1] is None)
    budget = max_points - 2
    buckets = max(1, (budget - nans) // 2, budget // 3 if nans else 0)
    width = -(-(hi - lo + 1) // buckets)
    return downsample_reference(points, group_of=lambda s: (s - lo) // width)[0]
