"""Per job and key summaries of metric series (`MetricSummary`): last value, min and max
with their steps, point count — what the query language and the runs table read.

Metrics ingest calls `summaries_update` inside its transaction, holding the job row's
lock, after the points and rollups are stored (docs/concurrency.md). A batch that only
appends (every step after the stored last step) is folded in memory. A batch that
writes at or before the stored last step may have replaced the current extreme or
repeated a point, so that key's summary is recounted from the widest rollups
(`jobs.rollups.WIDTHS[-1]`: one row per 2048 steps), never from the points.

Extremes skip NaN; on equal values the earliest step wins, as in the rollups.
"""

from jobs.core.upsert import upsert

from .models import MetricRollup, MetricSummary
from .rollups import WIDTHS

_FIELDS = (
    "count",
    "last_step",
    "last_value",
    "min_step",
    "min_value",
    "max_step",
    "max_value",
)


def _fold(summary, points):
    """Fold `points` [(step, value or None)] in step order, all after the summary's last."""
    for step, value in points:
        summary["count"] += 1
        summary["last_step"], summary["last_value"] = step, value
        if value is None:
            continue
        if summary["min_value"] is None or value < summary["min_value"]:
            summary["min_step"], summary["min_value"] = step, value
        if summary["max_value"] is None or value > summary["max_value"]:
            summary["max_step"], summary["max_value"] = step, value
    return summary


def _empty():
    return dict.fromkeys(_FIELDS[1:], None) | {"count": 0}


def _from_rollups(job_id, keys):
    """{key: summary} recounted from the widest rollups of `keys`."""
    summaries = {}
    rows = (
        MetricRollup.objects.filter(job_id=job_id, key__in=keys, width=WIDTHS[-1])
        .order_by("key", "bucket")
        .values_list(
            "key",
            "count",
            "last_step",
            "last_value",
            "min_step",
            "min_value",
            "max_step",
            "max_value",
        )
    )
    for key, count, last_step, last_value, mn_step, mn, mx_step, mx in rows:
        s = summaries.setdefault(key, _empty())
        s["count"] += count
        s["last_step"], s["last_value"] = last_step, last_value
        # Buckets come in step order, so a strict comparison keeps the earliest step.
        if mn is not None and (s["min_value"] is None or mn < s["min_value"]):
            s["min_step"], s["min_value"] = mn_step, mn
        if mx is not None and (s["max_value"] is None or mx > s["max_value"]):
            s["max_step"], s["max_value"] = mx_step, mx
    return summaries


def summaries_update(*, job_id, by_key):
    """Fold a stored batch into the job's summaries; call inside the ingest transaction,
    holding the job row's lock, after `rollups_update`.

    `by_key` is {key: [(step, value, epoch, wall_time)]} in step order, NaN as float nan.
    One read of the batch's summaries, one more per batch when a key needs a recount,
    one upsert.
    """
    stored = {
        row["key"]: row
        for row in MetricSummary.objects.filter(job_id=job_id, key__in=list(by_key)).values(
            "key", *_FIELDS
        )
    }
    recount = []
    result = {}
    for key, series in by_key.items():
        points = [(s, None if v != v else v) for s, v, _, _ in series]
        old = stored.get(key)
        if old is None:
            result[key] = _fold(_empty(), points)
        elif points[0][0] > old["last_step"]:
            result[key] = _fold({f: old[f] for f in _FIELDS}, points)
        else:
            recount.append(key)
    if recount:
        result.update(_from_rollups(job_id, recount))
    rows = [(job_id, key, *(s[f] for f in _FIELDS)) for key, s in result.items()]
    if rows:
        _upsert(rows)


def _upsert(rows):
    columns = ("job_id", "key", *_FIELDS)
    upsert(MetricSummary, columns, rows, unique=("job_id", "key"), update=_FIELDS)


def summaries_rebuild(*, job_id):
    """Recount every summary of a job from its widest rollups (after a bulk change)."""
    keys = list(
        MetricRollup.objects.filter(job_id=job_id, width=WIDTHS[-1])
        .order_by()
        .values_list("key", flat=True)
        .distinct()
    )
    MetricSummary.objects.filter(job_id=job_id).exclude(key__in=keys).delete()
    result = _from_rollups(job_id, keys)
    rows = [(job_id, key, *(s[f] for f in _FIELDS)) for key, s in result.items()]
    if rows:
        _upsert(rows)
