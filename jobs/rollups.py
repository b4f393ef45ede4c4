"""Stored min/max summaries of metric series, for fast shape-preserving downsampling.

Metrics ingest keeps, for every key, one `MetricRollup` row per bucket of `width` steps
at each of `WIDTHS`. A read of a long series picks the widest level that still gives at
least the requested resolution, reads those few hundred rows and merges them into the
requested number of buckets, emitting each bucket's minimum, maximum and first NaN —
so a spike or a NaN is never hidden, and the cost does not grow with the series.
"""

import math

from django.db.models import Case, Max, Min, OuterRef, Subquery, Sum, When

from jobs.core.upsert import upsert
from jobs.core.values import encode_float

from .models import MetricPoint, MetricRollup

WIDTHS = (32, 256, 2048)
_COLUMNS = (
    "job_id",
    "key",
    "width",
    "bucket",
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


def _fold(summary, points):
    for step, value, epoch in points:
        if value is None:
            if summary["nan_step"] is None or step < summary["nan_step"]:
                summary["nan_step"] = step
            continue
        if summary["min_value"] is None or value < summary["min_value"]:
            summary.update(min_step=step, min_value=value, min_epoch=epoch)
        if summary["max_value"] is None or value > summary["max_value"]:
            summary.update(max_step=step, max_value=value, max_epoch=epoch)
    return summary


def rollups_update(*, job_id, by_key):
    """Fold a stored batch into the rollups; call inside the ingest transaction, holding
    the job row's lock (`select_for_update`), taken before the points were written.

    The buckets are read, merged in memory and written back whole, so two writers of
    one job must not run this at the same time (docs/concurrency.md).

    `by_key` is {key: [(step, value, epoch, wall_time)]} in step order, NaN as float nan.
    Points appended after a bucket's last step are merged in memory; a bucket that gets
    a point at or before its last step (a retry or an out-of-order write may have
    replaced its extreme) is recomputed from its stored points.
    """
    groups = {}  # (key, width) -> {bucket: [(step, value, epoch)]}
    for key, series in by_key.items():
        points = [(s, None if v != v else v, e) for s, v, e, _ in series]
        for width in WIDTHS:
            buckets = groups[key, width] = {}
            for point in points:
                buckets.setdefault(point[0] // width, []).append(point)
    # One statement, one indexed read per width joined by UNION ALL (an OR of ranges
    # would make SQLite scan all of the job's summaries).
    reads = []
    for width in WIDTHS:
        touched = [b for (k, w), buckets in groups.items() if w == width for b in buckets]
        reads.append(
            MetricRollup.objects.filter(
                job_id=job_id,
                key__in=list(by_key),
                width=width,
                bucket__gte=min(touched),
                bucket__lte=max(touched),
            )
            .order_by()
            .values(*_COLUMNS[1:])
        )
    existing = {
        (r["key"], r["width"], r["bucket"]): r for r in reads[0].union(*reads[1:], all=True)
    }
    rows = []
    for (key, width), buckets in groups.items():
        for bucket, new in buckets.items():
            old = existing.get((key, width, bucket))
            if old is None:
                summary = _fold(_empty(new), new)
            elif new[0][0] > old["last_step"]:
                summary = _fold({c: old[c] for c in _COLUMNS[4:]}, new)
                summary.update(
                    count=old["count"] + len(new),
                    last_step=new[-1][0],
                    last_value=new[-1][1],
                    last_epoch=new[-1][2],
                )
            else:
                stored = list(
                    MetricPoint.objects.filter(
                        job_id=job_id,
                        key=key,
                        step__gte=bucket * width,
                        step__lt=(bucket + 1) * width,
                    )
                    .order_by("step")
                    .values_list("step", "value", "epoch")
                )
                summary = _fold(_empty(stored), stored)
            rows.append((job_id, key, width, bucket, *(summary[c] for c in _COLUMNS[4:])))
    if rows:
        _upsert(rows)


def _empty(points):
    first, last = points[0], points[-1]
    return {
        "count": len(points),
        "first_step": first[0],
        "first_value": first[1],
        "first_epoch": first[2],
        "last_step": last[0],
        "last_value": last[1],
        "last_epoch": last[2],
        "min_step": None,
        "min_value": None,
        "min_epoch": None,
        "max_step": None,
        "max_value": None,
        "max_epoch": None,
        "nan_step": None,
    }


def _upsert(rows):
    upsert(MetricRollup, _COLUMNS, rows, unique=_COLUMNS[:4], update=_COLUMNS[4:])


def series_totals(*, job_id, keys):
    """{key: (count, first_step, last_step)} from the widest rollups: a few rows per key."""
    totals = {}
    rows = (
        MetricRollup.objects.filter(job_id=job_id, key__in=keys, width=WIDTHS[-1])
        .order_by()
        .values("key")
        .annotate(total=Sum("count"), lo=Min("first_step"), hi=Max("last_step"))
    )
    for row in rows:
        totals[row["key"]] = (row["total"], row["lo"], row["hi"])
    return totals


def _point(step, value, epoch):
    if value is None:
        return [step, "NaN", epoch]
    if -math.inf < value < math.inf:
        return [step, value, epoch]
    return [step, encode_float(value), epoch]


def series_downsample(*, job_id, key, lo, hi, max_points):
    """At most `max_points` points of `key` over steps [lo, hi] from the rollups.

    Each of about max_points / 2 step ranges contributes its minimum and maximum (and,
    when the range has NaNs, its first NaN, with fewer ranges to stay in budget); the
    first and last points are always kept. Returns None when no stored level is coarse
    enough to help (the caller reads raw points).
    """
    span = hi - lo + 1
    groups_wanted = max(1, (max_points - 2) // 2)
    # The widest level that still has at least half the requested resolution: reading
    # its rows is what a read costs, and a level 8× finer would cost 8× more rows.
    width = max((w for w in WIDTHS if w * groups_wanted <= 2 * span), default=None)
    if width is None:
        return None
    # A rollup keeps the step of its first NaN, not its epoch: that one point's epoch is
    # read in the same query (an index probe, for the buckets that have a NaN only), so
    # a NaN comes back exactly as it was stored.
    nan_point = MetricPoint.objects.filter(job_id=job_id, key=key, step=OuterRef("nan_step"))
    nan_epoch = Case(When(nan_step__isnull=False, then=Subquery(nan_point.values("epoch")[:1])))
    rows = list(
        MetricRollup.objects.filter(
            job_id=job_id, key=key, width=width, bucket__gte=lo // width, bucket__lte=hi // width
        )
        .order_by("bucket")
        .annotate(nan_epoch=nan_epoch)
        .values_list("bucket", *_COLUMNS[5:], "nan_epoch")
    )
    if not rows:
        return None
    while True:
        out = _group(rows, width, lo, span, groups_wanted)
        if len(out) + 2 <= max_points or groups_wanted == 1:
            break
        # NaN points took part of the budget: fewer, wider groups.
        groups_wanted = max(1, groups_wanted - (len(out) + 2 - max_points + 1) // 2 - 1)
    first, last = rows[0][1:4], rows[-1][4:7]
    out.setdefault(first[0], first)
    out.setdefault(last[0], last)
    return [_point(*out[step]) for step in sorted(out)]


def _group(rows, width, lo, span, groups_wanted):
    """{step: point} of each group's minimum, maximum and first NaN.

    The hot loop of a long read (thousands of rows per key): plain locals, no dicts.
    """
    out = {}
    group_of = None
    lo_pt = hi_pt = nan_pt = None
    for row in rows:
        group = (row[0] * width - lo) * groups_wanted // span
        if group != group_of:
            for point in (lo_pt, hi_pt, nan_pt):
                if point is not None and point[0] not in out:
                    out[point[0]] = point
            group_of, lo_pt, hi_pt, nan_pt = group, None, None, None
        mn_step, mn_val, mn_ep, mx_step, mx_val, mx_ep, nan_step, nan_ep = row[7:]
        if mn_step is not None and (lo_pt is None or mn_val < lo_pt[1]):
            lo_pt = (mn_step, mn_val, mn_ep)
        if mx_step is not None and (hi_pt is None or mx_val > hi_pt[1]):
            hi_pt = (mx_step, mx_val, mx_ep)
        if nan_step is not None and nan_pt is None:
            nan_pt = (nan_step, None, nan_ep)
    for point in (lo_pt, hi_pt, nan_pt):
        if point is not None and point[0] not in out:
            out[point[0]] = point
    return out
