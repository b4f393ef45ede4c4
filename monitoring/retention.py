"""Retention of resource samples: old raw samples become per-minute averages.

A long job keeps its resource history at one row per minute (per host and job) while
the raw rows, one every couple of seconds, are deleted in bounded batches so that no
statement holds the database for long.
"""

from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import GPU_FIELDS, INTEGER_FIELDS, SCALAR_FIELDS, Resolution, ResourceSample

PRUNE_BATCH = 5000

_GPU_INTS = {"mem_used", "mem_total"}
_READ_FIELDS = ("id", "host", "job_id", "time", "cpu_per_core", "gpus", *SCALAR_FIELDS)


def _mean(values, *, integer=False):
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean = sum(values) / len(values)
    return round(mean) if integer else mean


def _minute(time):
    return time.replace(second=0, microsecond=0)


def samples_average(rows):
    """The field values of one averaged sample from raw sample dicts (same host/job/minute).

    Numbers are averaged over the samples that have them (None when none does); per-core
    CPU is averaged core by core, and GPUs index by index, keeping each GPU's latest name.
    """
    averaged = {
        field: _mean([row[field] for row in rows], integer=field in INTEGER_FIELDS)
        for field in SCALAR_FIELDS
    }
    cores = defaultdict(list)
    gpus = defaultdict(list)
    for row in rows:
        for index, value in enumerate(row["cpu_per_core"] or []):
            cores[index].append(value)
        for position, gpu in enumerate(row["gpus"] or []):
            gpus[gpu.get("index", position)].append(gpu)
    averaged["cpu_per_core"] = [_mean(cores[index]) for index in sorted(cores)]
    averaged["gpus"] = [
        {
            "index": index,
            "name": next((g.get("name") for g in reversed(gpus[index]) if g.get("name")), ""),
            **{
                field: _mean([g.get(field) for g in gpus[index]], integer=field in _GPU_INTS)
                for field in GPU_FIELDS
            },
        }
        for index in sorted(gpus)
    ]
    return averaged


def _flush(buckets, ids):
    """Write the averaged rows of finished buckets and delete their raw rows.

    Several servers may prune at once. Each raw row is locked before it is averaged,
    and a row another pass deleted meanwhile is left out, so every row is averaged by
    exactly one pass and a minute is written once. Returns `(written, deleted)`.
    """
    with transaction.atomic():
        present = set()
        for start in range(0, len(ids), PRUNE_BATCH):
            chunk = ids[start : start + PRUNE_BATCH]
            locked = ResourceSample.objects.select_for_update().filter(id__in=chunk)
            present.update(locked.values_list("id", flat=True))
        rows = []
        for (host, job_id, minute), members in buckets.items():
            members = [row for row in members if row["id"] in present]
            if members:
                rows.append(
                    ResourceSample(
                        host=host,
                        job_id=job_id,
                        time=minute,
                        resolution=Resolution.MINUTE,
                        **samples_average(members),
                    )
                )
        ResourceSample.objects.bulk_create(rows, batch_size=1000)
        gone = sorted(present)
        for start in range(0, len(gone), PRUNE_BATCH):
            ResourceSample.objects.filter(id__in=gone[start : start + PRUNE_BATCH]).delete()
    return len(rows), len(gone)


def resource_samples_prune(*, retain_days, now=None, batch_size=PRUNE_BATCH):
    """Replace raw samples older than `retain_days` by per-minute averages.

    The cut-off is rounded down to a whole minute, so every minute is averaged once
    whole. Raw rows are read and deleted `batch_size` at a time, oldest first; each
    batch commits on its own. Returns `(minute_rows_written, raw_rows_deleted)`.
    """
    if retain_days is None or retain_days <= 0:
        return 0, 0
    cutoff = _minute((now or timezone.now()) - timedelta(days=retain_days))
    old = ResourceSample.objects.filter(resolution=Resolution.RAW, time__lt=cutoff)
    written = deleted = 0
    buckets = defaultdict(list)
    pending_ids = []
    after = None  # keyset (time, id) of the last row read
    while True:
        page = old.order_by("time", "id")
        if after is not None:
            page = page.filter(time__gte=after[0]).exclude(time=after[0], id__lte=after[1])
        rows = list(page.values(*_READ_FIELDS)[:batch_size])
        if not rows:
            break
        after = (rows[-1]["time"], rows[-1]["id"])
        for row in rows:
            buckets[(row["host"], row["job_id"], _minute(row["time"]))].append(row)
            pending_ids.append(row["id"])
        if len(rows) < batch_size:
            break
        # Rows come in time order, so every minute before the last row's is complete.
        current = _minute(after[0])
        done = {key: members for key, members in buckets.items() if key[2] < current}
        if done:
            done_ids = [row["id"] for members in done.values() for row in members]
            flushed = _flush(done, done_ids)
            written, deleted = written + flushed[0], deleted + flushed[1]
            done_set = set(done_ids)
            pending_ids = [i for i in pending_ids if i not in done_set]
            for key in done:
                del buckets[key]
    if buckets:
        flushed = _flush(buckets, pending_ids)
        written, deleted = written + flushed[0], deleted + flushed[1]
    return written, deleted
