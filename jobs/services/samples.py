"""Sample generations and checkpoints a job reports.

A sample is stored once per job, prompt and step and never overwritten: a re-sent
sample (a reporter's retry, a resumed run evaluating the same step again) is ignored, so
what the panel shows is what the model said then. A checkpoint is one per job and step:
a re-report of the same step updates what it adds (a size measured later, more metrics).
"""

import json
import math

from django.db import transaction
from django.utils import timezone

from jobs import events
from jobs.core.push import broadcast_after_commit
from jobs.core.validation import (
    InvalidInput,
    clean_text,
    parse_field,
    parse_int,
    parse_number,
    parse_time,
)
from jobs.core.values import encode_float
from jobs.models import Checkpoint, Job, Sample, prompt_hash_of

MAX_SAMPLES_PER_BATCH = 200
MAX_SAMPLE_TEXT = 65_536  # characters of a prompt, an output or a reference
MAX_SAMPLE_META_BYTES = 16_384  # the meta object as JSON
MAX_CHECKPOINT_PATH = 1024
MAX_CHECKPOINT_METRICS = 200
MAX_METRIC_KEY = 128

SAMPLE_FIELDS = {"prompt", "output", "reference", "score", "meta", "step", "time"}


def _clean_meta(raw):
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("Expected an object.")
    try:
        text = json.dumps(raw, allow_nan=False, ensure_ascii=False)
    except ValueError:
        raise ValueError("NaN and Infinity are not allowed here.") from None
    if len(text.encode("utf-8")) > MAX_SAMPLE_META_BYTES:
        raise ValueError(
            f"Ensure this object has no more than {MAX_SAMPLE_META_BYTES} bytes as JSON."
        )
    return raw


def _clean_score(raw):
    if raw is None:
        return None
    return parse_number(raw)


def _clean_samples(samples, default_step, now):
    if not isinstance(samples, list):
        raise InvalidInput({"samples": ["Expected a list of samples."]})
    if len(samples) > MAX_SAMPLES_PER_BATCH:
        raise InvalidInput(
            {"samples": [f"At most {MAX_SAMPLES_PER_BATCH} samples per batch, got {len(samples)}."]}
        )
    errors, cleaned = {}, {}
    for index, item in enumerate(samples):
        if not isinstance(item, dict):
            errors[str(index)] = {"non_field_errors": ["Expected an object."]}
            continue
        err = {}
        unknown = sorted(set(item) - SAMPLE_FIELDS)
        if unknown:
            err["non_field_errors"] = [
                f"Unknown field(s): {', '.join(unknown)}; put extra data in meta."
            ]
        prompt = parse_field(
            err, "prompt", clean_text, item.get("prompt"), max_length=MAX_SAMPLE_TEXT, required=True
        )
        output = parse_field(
            err, "output", clean_text, item.get("output"), max_length=MAX_SAMPLE_TEXT
        )
        if item.get("output") is None:
            err["output"] = ["This field is required."]
        reference = parse_field(
            err, "reference", clean_text, item.get("reference"), max_length=MAX_SAMPLE_TEXT
        )
        score = parse_field(err, "score", _clean_score, item.get("score"))
        meta = parse_field(err, "meta", _clean_meta, item.get("meta"))
        raw_step = item.get("step", default_step)
        if raw_step is None:
            err["step"] = ["This field is required (in the sample or the batch)."]
            step = None
        else:
            step = parse_field(err, "step", parse_int, raw_step, minimum=0)
        time = parse_field(err, "time", parse_time, item.get("time"), default=now)
        if err:
            errors[str(index)] = err
            continue
        # The first of a prompt at a step counts, as it would had it been sent alone.
        cleaned.setdefault(
            (prompt_hash_of(prompt), step), (prompt, output, reference, score, meta, time)
        )
    if errors:
        raise InvalidInput({"samples": errors})
    return cleaned


def samples_ingest(*, job, samples, step=None):
    """Store generations `[{"prompt", "output", "reference"?, "score"?, "meta"?,
    "step"?, "time"?}]` at `step` (or each sample's own step).

    The batch is validated whole (an error names each bad sample by index and field)
    and stored whole or not at all. A (prompt, step) the job already has is ignored.
    Returns `(stored, ignored)`.
    """
    now = timezone.now()
    default_step = None
    if step is not None:
        try:
            default_step = parse_int(step, minimum=0)
        except ValueError as exc:
            raise InvalidInput({"step": [str(exc)]}) from None
    cleaned = _clean_samples(samples, default_step, now)
    if not cleaned:
        return 0, 0
    with transaction.atomic():
        # The job row first (docs/concurrency.md): the known (prompt, step) pairs are
        # read so that only new samples are stored, counted and pushed.
        Job.objects.select_for_update(no_key=True).values_list("pk").get(pk=job.pk)
        steps = {s for _, s in cleaned}
        hashes = {h for h, _ in cleaned}
        known = set(
            Sample.objects.filter(
                job_id=job.pk, step__in=steps, prompt_hash__in=hashes
            ).values_list("prompt_hash", "step")
        )
        rows = [
            Sample(
                job_id=job.pk,
                prompt=prompt,
                prompt_hash=prompt_hash,
                step=sample_step,
                output=output,
                reference=reference,
                score=score,
                meta=meta,
                time=time,
            )
            for (prompt_hash, sample_step), values in sorted(
                cleaned.items(), key=lambda item: item[0][1]
            )
            if (prompt_hash, sample_step) not in known
            for prompt, output, reference, score, meta, time in [values]
        ]
        Sample.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
        Job.objects.filter(pk=job.pk).update(last_heartbeat=now)
        if rows:
            broadcast_after_commit(
                [events.job_group(job.uid)], events.samples_message(job.uid, rows)
            )
    return len(rows), len(cleaned) - len(rows)


def _clean_checkpoint_metrics(raw):
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("Expected an object of metric key to number.")
    if len(raw) > MAX_CHECKPOINT_METRICS:
        raise ValueError(f"At most {MAX_CHECKPOINT_METRICS} metrics.")
    metrics = {}
    for key, value in raw.items():
        if not key or len(key) > MAX_METRIC_KEY:
            raise ValueError(f"Metric keys are 1–{MAX_METRIC_KEY} characters.")
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(f"{key}: a number is required.")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{key}: a number is required.") from None
        # JSON columns hold no NaN/±inf: kept as the strings the API writes them as.
        metrics[key] = encode_float(number) if not math.isfinite(number) else number
    return metrics


def checkpoint_record(*, job, step, path, size=None, metrics=None, time=None):
    """Record the checkpoint saved at `step` (one per job and step).

    A step the job already has keeps its row: a new path replaces the old, a size
    given replaces the old, metrics are merged. Returns `(checkpoint, created)`.
    """
    errors = {}
    if step is None:
        errors["step"] = ["This field is required."]
    else:
        step = parse_field(errors, "step", parse_int, step, minimum=0)
    path = parse_field(
        errors, "path", clean_text, path, max_length=MAX_CHECKPOINT_PATH, required=True
    )
    if size is not None:
        size = parse_field(errors, "size", parse_int, size, minimum=0)
    metrics = parse_field(errors, "metrics", _clean_checkpoint_metrics, metrics)
    time = parse_field(errors, "time", parse_time, time)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        Job.objects.select_for_update(no_key=True).values_list("pk").get(pk=job.pk)
        checkpoint = Checkpoint.objects.filter(job_id=job.pk, step=step).first()
        created = checkpoint is None
        if created:
            checkpoint = Checkpoint.objects.create(
                job_id=job.pk, step=step, path=path, size=size, metrics=metrics, time=time
            )
            changed = True
        else:
            before = (checkpoint.path, checkpoint.size, dict(checkpoint.metrics))
            checkpoint.path = path
            if size is not None:
                checkpoint.size = size
            checkpoint.metrics = {**checkpoint.metrics, **metrics}
            changed = before != (checkpoint.path, checkpoint.size, checkpoint.metrics)
            if changed:
                checkpoint.save(update_fields=["path", "size", "metrics"])
        if changed:
            broadcast_after_commit(
                [events.job_group(job.uid)], events.checkpoint_message(job.uid, checkpoint)
            )
    return checkpoint, created
