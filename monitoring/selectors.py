"""Reads of resource samples: the newest one of a job, and downsampled time series."""

from datetime import datetime

from django.db.models import (
    BigIntegerField,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    OuterRef,
    Subquery,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast

from jobs.core.values import isoformat
from jobs.events import eta_seconds
from jobs.models import JobStatus
from jobs.selectors import DEFAULT_MAX_POINTS, job_step_rate, jobs_in

from .models import GPU_FIELDS, INTEGER_FIELDS, SCALAR_FIELDS, ResourceSample


def gpu_mean_util(gpus):
    """Mean utilisation of a sample's GPUs, or None without GPU readings."""
    utils = [gpu["util"] for gpu in gpus or [] if gpu.get("util") is not None]
    return sum(utils) / len(utils) if utils else None


def resource_latest(*, job):
    """The newest sample linked to `job`, else the newest of its host; None if neither."""
    samples = ResourceSample.objects.select_related("job").order_by("-time", "-id")
    sample = samples.filter(job_id=job.pk).first()
    if sample is None and job.host:
        sample = samples.filter(host=job.host).first()
    return sample.to_dict() if sample else None


def resource_samples(*, job=None, host=None, since=None):
    """Samples of a job (by link) or of a host, newer than `since` when given."""
    samples = ResourceSample.objects.all()
    if job is not None:
        samples = samples.filter(job_id=job.pk)
    if host:
        samples = samples.filter(host=host)
    if since is not None:
        samples = samples.filter(time__gt=since)
    return samples


def _bucket_row(row, kind, gpu_count, host, job_uid):
    """One synthetic sample holding a bucket's minima (`kind="min"`) or maxima."""
    sample = {
        "host": host,
        "time": isoformat(row[f"time_{kind}"]),
        "job": job_uid,
        "resolution": f"bucket-{kind}",
        "cpu_per_core": [],
    }
    for column in SCALAR_FIELDS:
        value = row[f"{column}_{kind}"]
        sample[column] = int(value) if value is not None and column in INTEGER_FIELDS else value
    sample["gpus"] = [
        {
            "index": index,
            "name": "",
            **{f: row[f"gpu{index}_{f}_{kind}"] for f in GPU_FIELDS},
        }
        for index in range(gpu_count)
    ]
    return sample


def resource_hosts(samples):
    """Per host of `samples`: `[{"host", "samples", "first", "last"}]`, by host name."""
    rows = (
        samples.order_by()
        .values("host")
        .annotate(n=Count("id"), first=Min("time"), last=Max("time"))
        .order_by("host")
    )
    return [
        {
            "host": r["host"],
            "samples": r["n"],
            "first": isoformat(r["first"]),
            "last": isoformat(r["last"]),
        }
        for r in rows
    ]


def resource_series(*, job=None, host=None, since=None, max_points=DEFAULT_MAX_POINTS):
    """Samples of a job or host, at most `max_points` of them, oldest first, with the
    hosts they came from (`hosts`, see `resource_hosts`).

    A job whose samples come from several hosts (a multi-node run) is read host by host,
    each with an equal share of `max_points`, so a downsampled bucket never mixes two
    machines' readings; the hosts' samples are then merged by time.

    Up to `max_points` samples in range come back as stored. More are cut into
    `max_points // 2` buckets of consecutive samples, computed in the database; each
    bucket becomes two synthetic samples, one holding the minimum of every column
    (GPU readings per GPU index included) at the bucket's first time and one holding the
    maximum at its last time, so every peak and trough survives. Synthetic samples carry
    `resolution` "bucket-min" / "bucket-max". Returns
    `{"total": n, "downsampled": bool, "hosts": [...], "samples": [...]}`.
    """
    samples = resource_samples(job=job, host=host, since=since)
    hosts = resource_hosts(samples)
    if len(hosts) > 1:
        share = max(2, max_points // len(hosts))
        parts = [
            _host_series(
                resource_samples(job=job, host=h["host"], since=since), share, job, h["host"]
            )
            for h in hosts
        ]
        merged = sorted(
            (sample for part in parts for sample in part["samples"]),
            key=lambda sample: datetime.fromisoformat(sample["time"]),
        )
        return {
            "total": sum(part["total"] for part in parts),
            "downsampled": any(part["downsampled"] for part in parts),
            "hosts": hosts,
            "samples": merged,
        }
    host = host or (hosts[0]["host"] if hosts else None)
    return {**_host_series(samples, max_points, job, host), "hosts": hosts}


def _host_series(samples, max_points, job, host):
    """`{"total", "downsampled", "samples"}` of `samples` (one host's), downsampled to
    at most `max_points` as `resource_series` describes."""
    stats = samples.order_by().aggregate(total=Count("id"), lo=Min("id"), hi=Max("id"))
    total = stats["total"]
    if total <= max_points:
        rows = samples.select_related("job").order_by("time", "id")
        return {"total": total, "downsampled": False, "samples": [s.to_dict() for s in rows]}

    # Buckets of consecutive ids: ids grow with arrival, and agents report in time order.
    buckets = max(1, max_points // 2)
    width = -(-(stats["hi"] - stats["lo"] + 1) // buckets)
    bucket = ExpressionWrapper((F("id") - stats["lo"]) / width, output_field=BigIntegerField())
    newest_gpus = samples.order_by("-id").values_list("gpus", flat=True).first() or []
    gpu_count = min(len(newest_gpus), 16)
    aggregates = {"time_min": Min("time"), "time_max": Max("time"), "n": Count("id")}
    for column in SCALAR_FIELDS:
        aggregates[f"{column}_min"] = Min(column)
        aggregates[f"{column}_max"] = Max(column)
    for index in range(gpu_count):
        for field in GPU_FIELDS:
            reading = Cast(KT(f"gpus__{index}__{field}"), FloatField())
            aggregates[f"gpu{index}_{field}_min"] = Min(reading)
            aggregates[f"gpu{index}_{field}_max"] = Max(reading)
    rows = (
        samples.annotate(bucket=bucket)
        .order_by()
        .values("bucket")
        .annotate(**aggregates)
        .order_by("time_min")
    )
    job_uid = job.uid if job is not None else None
    host = host or (job.host if job is not None else "")
    out = []
    for row in rows:
        out.append(_bucket_row(row, "min", gpu_count, host, job_uid))
        if row["n"] > 1:
            out.append(_bucket_row(row, "max", gpu_count, host, job_uid))
    return {"total": total, "downsampled": True, "samples": out}


def training_summary(projects=None):
    """Across running jobs: how many, mean GPU utilisation, latest losses, throughput."""

    def newest(**lookup):
        return ResourceSample.objects.filter(**lookup).order_by("-time", "-id").values("pk")[:1]

    running = list(
        jobs_in(projects)
        .filter(status=JobStatus.RUNNING)
        .defer("config", "notes", "deployment", "error_traceback")
        .annotate(
            job_sample=Subquery(newest(job_id=OuterRef("pk"))),
            host_sample=Subquery(newest(host=OuterRef("host"))),
        )
        .order_by(F("started_at").desc(nulls_last=True), "id")
    )
    sample_ids = {job.job_sample or job.host_sample for job in running} - {None}
    samples = ResourceSample.objects.in_bulk(sample_ids)
    queued = jobs_in(projects).filter(status=JobStatus.QUEUED).count()
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
