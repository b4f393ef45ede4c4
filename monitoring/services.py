"""Every write of resource samples: the local sampler, the remote host agent, mock data."""

from django.db import transaction

from jobs import events
from jobs.core.push import broadcast_after_commit
from jobs.core.validation import InvalidInput, clean_text, parse_number, parse_time
from jobs.models import Job

from .models import GPU_FIELDS, INTEGER_FIELDS, SCALAR_FIELDS, ResourceSample

MAX_SAMPLES_PER_BATCH = 1000
# Bounds of each number; all are ≥ 0 but a temperature, which may be below zero.
_BOUNDS = dict.fromkeys(SCALAR_FIELDS, (0, None)) | {"cpu_temp": (-100, 300)}


def _clean_gpus(raw):
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 64:
        raise ValueError("Expected a list of at most 64 GPU readings.")
    gpus = []
    for index, gpu in enumerate(raw):
        if not isinstance(gpu, dict):
            raise ValueError(f"GPU {index}: expected an object.")
        clean = {"index": gpu.get("index", index), "name": str(gpu.get("name") or "")[:200]}
        for field in GPU_FIELDS:
            value = gpu.get(field)
            if value is not None:
                try:
                    value = parse_number(value, minimum=0)
                except ValueError as exc:
                    raise ValueError(f"GPU {index} {field}: {exc}") from None
            clean[field] = value
        gpus.append(clean)
    return gpus


def _clean_sample(raw, errors):
    if not isinstance(raw, dict):
        errors["non_field_errors"] = ["Expected an object."]
        return None
    clean = {}
    try:
        clean["time"] = parse_time(raw.get("time"))
    except ValueError as exc:
        errors["time"] = [str(exc)]
    for field, (low, high) in _BOUNDS.items():
        value = raw.get(field)
        if value is None:
            continue
        try:
            value = parse_number(value, minimum=low, maximum=high)
        except ValueError as exc:
            errors[field] = [str(exc)]
            continue
        clean[field] = int(value) if field in INTEGER_FIELDS else value
    cores = raw.get("cpu_per_core")
    if cores is not None:
        try:
            if not isinstance(cores, list) or len(cores) > 1024:
                raise ValueError("Expected a list of at most 1024 numbers.")
            clean["cpu_per_core"] = [parse_number(c, minimum=0, maximum=100) for c in cores]
        except ValueError as exc:
            errors["cpu_per_core"] = [str(exc)]
    try:
        clean["gpus"] = _clean_gpus(raw.get("gpus"))
    except ValueError as exc:
        errors["gpus"] = [str(exc)]
    return clean


def resource_samples_ingest(*, host, samples, jobs=(), broadcast=True):
    """Store a batch of samples from `host`, one row per sample and linked job.

    `jobs` are the jobs running on the host; with none the samples are stored for the
    host alone. Each stored sample is pushed to its job's group and the dashboard.
    Returns the number of rows stored.
    """
    errors = {}
    try:
        host = clean_text(host, max_length=255, required=True)
    except ValueError as exc:
        errors["host"] = [str(exc)]
    if not isinstance(samples, list) or not samples:
        errors["samples"] = ["Expected a non-empty list of samples."]
    elif len(samples) > MAX_SAMPLES_PER_BATCH:
        errors["samples"] = [f"At most {MAX_SAMPLES_PER_BATCH} samples per batch."]
    if errors:
        raise InvalidInput(errors)
    cleaned, sample_errors = [], {}
    for index, raw in enumerate(samples):
        err = {}
        clean = _clean_sample(raw, err)
        if err:
            sample_errors[str(index)] = err
        else:
            cleaned.append(clean)
    if sample_errors:
        raise InvalidInput({"samples": sample_errors})

    targets = list(jobs) or [None]
    rows = [ResourceSample(host=host, job=job, **clean) for clean in cleaned for job in targets]
    with transaction.atomic():
        ResourceSample.objects.bulk_create(rows)
        if broadcast:
            newest = {}
            for row in rows:
                newest[row.job_id] = row
            for row in newest.values():
                # Only job pages draw samples; a host's samples without a job are read
                # from the API, never pushed (the dashboard shows no resources).
                if row.job:
                    payload = events.resources_message(row.to_dict())
                    broadcast_after_commit([events.job_group(row.job.uid)], payload)
        if jobs:
            Job.objects.filter(pk__in=[j.pk for j in jobs], host="").update(host=host)
    return len(rows)
