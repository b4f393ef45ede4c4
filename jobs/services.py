"""Every write to jobs, stages, metrics and logs.

Fixtures, mock data, the simulator, the REST ingest API and the host agent all end
here. Each function validates its whole input first (raising `InvalidInput` with every
bad field named, DRF's error shape), stores it in one transaction, and pushes the change
to the job's Channels group after commit.
"""

import math
import re
import secrets
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.text import slugify

from .live import DASHBOARD_GROUP, broadcast_after_commit, encode_float, isoformat, job_group
from .models import (
    FINISHED_STATUSES,
    STAGE_ORDER,
    ApiToken,
    Job,
    JobStatus,
    LogEntry,
    LogLevel,
    MetricPoint,
    Stage,
    StageStatus,
    token_hash,
)
from .payloads import job_card, log_payload, stage_payload
from .rollups import rollups_update

UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_KEY_LENGTH = 128
MAX_LOG_MESSAGE = 65_536
SPARKLINE_POINTS = 64
LOSS_KEY = "train/loss"


class InvalidInput(ValueError):
    """Input that cannot be stored; `detail` names each bad field, as DRF does."""

    def __init__(self, detail):
        self.detail = detail
        super().__init__(detail)


class Conflict(Exception):
    """A well-formed write the job's current state does not allow (HTTP 409)."""

    def __init__(self, message):
        self.message = message
        super().__init__(message)


# --- parsing helpers ---------------------------------------------------------------

_NON_FINITE = {
    "nan": math.nan,
    "+nan": math.nan,
    "-nan": math.nan,
    "inf": math.inf,
    "+inf": math.inf,
    "infinity": math.inf,
    "+infinity": math.inf,
    "-inf": -math.inf,
    "-infinity": -math.inf,
}


def parse_value(raw):
    """A metric value: a JSON number, or NaN/±inf as JSON tokens or strings."""
    if isinstance(raw, bool) or raw is None:
        raise ValueError("A number is required.")
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip().lower()
        if text in _NON_FINITE:
            return _NON_FINITE[text]
        try:
            return float(text)
        except ValueError:
            pass
    raise ValueError("A number is required (NaN and ±inf may be given as strings).")


def parse_int(raw, *, minimum=0):
    if isinstance(raw, bool):
        raise ValueError("An integer is required.")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        raw = int(raw)
    if not isinstance(raw, int):
        raise ValueError("An integer is required.")
    if minimum is not None and raw < minimum:
        raise ValueError(f"Ensure this value is greater than or equal to {minimum}.")
    if raw > 2**62:
        raise ValueError("Ensure this value is less than or equal to 4611686018427387904.")
    return raw


def parse_number(raw, *, minimum=None, maximum=None):
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError("A number is required.")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("A number is required.") from None
    if not math.isfinite(value):
        raise ValueError("A finite number is required.")
    if minimum is not None and value < minimum:
        raise ValueError(f"Ensure this value is greater than or equal to {minimum}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"Ensure this value is less than or equal to {maximum}.")
    return value


def parse_time(raw, *, default=None):
    """An aware datetime from ISO 8601 text, a Unix timestamp, or a datetime."""
    if raw is None:
        return default or timezone.now()
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if not math.isfinite(raw) or not 0 <= raw < 32503680000:
            raise ValueError("Timestamp out of range.")
        return datetime.fromtimestamp(raw, tz=UTC)
    elif isinstance(raw, str):
        try:
            value = parse_datetime(raw.strip())
        except ValueError:
            value = None
        if value is None:
            raise ValueError("Datetime has wrong format. Use ISO 8601 or a Unix timestamp.")
    else:
        raise ValueError("Datetime has wrong format. Use ISO 8601 or a Unix timestamp.")
    if timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    try:
        # Stored in UTC: PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 allows.
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("Datetime out of range.") from None


def clean_text(raw, *, max_length, required=False):
    """Text with NUL bytes replaced (PostgreSQL cannot store them) and a length bound."""
    if raw is None:
        if required:
            raise ValueError("This field is required.")
        return ""
    if not isinstance(raw, str):
        raise ValueError("A string is required.")
    text = raw.replace("\x00", "\ufffd")
    if required and not text.strip():
        raise ValueError("This field may not be blank.")
    if len(text) > max_length:
        raise ValueError(f"Ensure this field has no more than {max_length} characters.")
    return text


def _field(errors, name, func, *args, **kwargs):
    """Run one field's parser, recording its error under `name` instead of raising."""
    try:
        return func(*args, **kwargs)
    except ValueError as exc:
        errors[name] = [str(exc)]
        return None


# --- jobs --------------------------------------------------------------------------


def uid_generate(name):
    base = slugify(name)[:48].strip("-") or "job"
    return f"{base}-{secrets.token_hex(3)}"


def _clean_tags(raw):
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(tag, str) for tag in raw):
        raise ValueError("Expected a list of strings.")
    tags = []
    for tag in raw:
        tag = tag.strip()
        if not tag or len(tag) > 64 or "," in tag or "\x00" in tag:
            raise ValueError(f"Invalid tag {tag[:70]!r}: 1–64 characters, no commas.")
        if tag not in tags:
            tags.append(tag)
    if len(tags) > 32:
        raise ValueError("At most 32 tags.")
    return tags


def _clean_config(raw):
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("Expected a JSON object.")
    return raw


def _clean_job_fields(data, errors):
    """Validate the descriptive fields shared by job creation and fixture records."""
    cleaned = {}
    if data.get("uid") is not None:
        uid = data["uid"]
        if not isinstance(uid, str) or not UID_RE.match(uid):
            errors["uid"] = ["1–64 characters: letters, digits, '-' and '_'."]
        cleaned["uid"] = uid
    cleaned["name"] = _field(
        errors, "name", clean_text, data.get("name"), max_length=200, required=True
    )
    cleaned["base_model"] = _field(errors, "model", clean_text, data.get("model"), max_length=200)
    cleaned["dataset"] = _field(errors, "dataset", clean_text, data.get("dataset"), max_length=200)
    cleaned["tags"] = _field(errors, "tags", _clean_tags, data.get("tags"))
    cleaned["config"] = _field(errors, "config", _clean_config, data.get("config"))
    if data.get("total_steps") is not None:
        cleaned["total_steps"] = _field(
            errors, "total_steps", parse_int, data["total_steps"], minimum=1
        )
    if data.get("total_epochs") is not None:
        cleaned["total_epochs"] = _field(
            errors, "total_epochs", parse_number, data["total_epochs"], minimum=0
        )
    if data.get("host") is not None:
        cleaned["host"] = _field(errors, "host", clean_text, data["host"], max_length=255)
    return cleaned


def _stages_create(job):
    Stage.objects.bulk_create(
        [Stage(job=job, name=name, order=order) for order, name in enumerate(STAGE_ORDER)]
    )


def queue_renumber():
    """Number queued jobs 1..n, keeping their present order (oldest first)."""
    queued = Job.objects.filter(status=JobStatus.QUEUED).order_by(
        "queue_position", "created_at", "id"
    )
    changed = []
    for position, job in enumerate(queued, start=1):
        if job.queue_position != position:
            job.queue_position = position
            changed.append(job)
    Job.objects.bulk_update(changed, ["queue_position"])
    Job.objects.exclude(status=JobStatus.QUEUED).exclude(queue_position=None).update(
        queue_position=None
    )


def _broadcast_job(job, stages=None, *, extra=None):
    card = job_card(job, stages)
    broadcast_after_commit([DASHBOARD_GROUP], {"type": "job", "job": card})
    payload = {"type": "status", "job": card}
    if extra:
        payload.update(extra)
    broadcast_after_commit([job_group(job.uid)], payload)


def job_create(
    *,
    name,
    uid=None,
    model="",
    dataset="",
    tags=None,
    config=None,
    total_steps=None,
    total_epochs=None,
    host=None,
):
    """Create a queued job with its five pending stages; a known `uid` returns that job.

    Returns `(job, created)`.
    """
    errors = {}
    data = {
        "uid": uid,
        "name": name,
        "model": model,
        "dataset": dataset,
        "tags": tags,
        "config": config,
        "total_steps": total_steps,
        "total_epochs": total_epochs,
        "host": host,
    }
    cleaned = _clean_job_fields(data, errors)
    if errors:
        raise InvalidInput(errors)
    if cleaned.get("uid"):
        existing = Job.objects.filter(uid=cleaned["uid"]).first()
        if existing:
            return existing, False
    else:
        cleaned["uid"] = uid_generate(cleaned["name"])
    try:
        with transaction.atomic():
            job = Job(**cleaned, status=JobStatus.QUEUED, queue_position=10**6)
            job.save()
            _stages_create(job)
            queue_renumber()
            job.refresh_from_db()
            _broadcast_job(job)
    except IntegrityError:
        # Two reporters created the same uid at once: the other one won, use its job.
        existing = Job.objects.filter(uid=cleaned["uid"]).first()
        if existing is None:
            raise
        return existing, False
    return job, True


def job_history_clear(*, job):
    """Delete a job's points, log lines and resource samples (mock data regeneration)."""
    with transaction.atomic():
        job.metric_points.all().delete()
        job.metric_rollups.all().delete()
        job.log_entries.all().delete()
        job.resource_samples.all().delete()
        job.latest_metrics = {}
        job.loss_sparkline = []
        job.save(update_fields=["latest_metrics", "loss_sparkline"])


_TERMINAL_MOVES = {
    JobStatus.QUEUED: {
        JobStatus.QUEUED,
        JobStatus.RUNNING,
        JobStatus.CANCELLED,
        JobStatus.FAILED,
        JobStatus.COMPLETED,
    },
    JobStatus.RUNNING: {
        JobStatus.RUNNING,
        JobStatus.COMPLETED,
        JobStatus.FAILED,
        JobStatus.CANCELLED,
    },
    JobStatus.COMPLETED: {JobStatus.COMPLETED},
    JobStatus.FAILED: {JobStatus.FAILED},
    JobStatus.CANCELLED: {JobStatus.CANCELLED},
}


def _clean_error(raw, errors):
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"message": raw}
    if not isinstance(raw, dict):
        errors["error"] = ["Expected an object with message, type, traceback, stage, step."]
        return None
    sub = {}
    cleaned = {
        "message": _field(sub, "message", clean_text, raw.get("message"), max_length=20_000),
        "type": _field(sub, "type", clean_text, raw.get("type"), max_length=200),
        "traceback": _field(sub, "traceback", clean_text, raw.get("traceback"), max_length=200_000),
        "stage": None,
        "step": None,
    }
    if raw.get("stage") is not None:
        if raw["stage"] not in STAGE_ORDER:
            sub["stage"] = [f"Unknown stage {raw['stage']!r}; one of {', '.join(STAGE_ORDER)}."]
        cleaned["stage"] = raw["stage"]
    if raw.get("step") is not None:
        cleaned["step"] = _field(sub, "step", parse_int, raw["step"], minimum=0)
    if sub:
        errors["error"] = sub
    return cleaned


def _apply_status(job, stages, status, *, at, error=None):
    """Move `job` (and its stages, in memory) to `status`; returns the stages changed."""
    changed = []
    if status == job.status:
        return changed
    if status not in _TERMINAL_MOVES[job.status]:
        raise Conflict(f"Job {job.uid} is {job.status} and cannot become {status}.")
    previous = job.status
    job.status = status
    if status == JobStatus.RUNNING:
        job.started_at = job.started_at or at
    if status in FINISHED_STATUSES:
        job.finished_at = at
        job.started_at = job.started_at or at
    if previous == JobStatus.QUEUED:
        job.queue_position = None
    active = [s for s in stages if s.status == StageStatus.ACTIVE]
    if status == JobStatus.COMPLETED:
        job.progress = 100.0
        if job.total_steps:
            job.current_step = max(job.current_step, job.total_steps)
        for stage in stages:
            if stage.status == StageStatus.ACTIVE:
                stage.status, stage.progress, stage.finished_at = StageStatus.COMPLETED, 100.0, at
                changed.append(stage)
            elif stage.status == StageStatus.PENDING:
                stage.status = StageStatus.SKIPPED
                changed.append(stage)
    elif status == JobStatus.FAILED:
        error = error or {}
        failed_stage = error.get("stage") or (active[0].name if active else None)
        job.error_message = error.get("message") or job.error_message or "Job failed"
        job.error_type = error.get("type") or job.error_type
        job.error_traceback = error.get("traceback") or job.error_traceback
        job.error_stage = failed_stage or job.error_stage
        job.error_step = error.get("step") if error.get("step") is not None else job.current_step
        for stage in stages:
            if stage.name == failed_stage or stage.status == StageStatus.ACTIVE:
                stage.status, stage.finished_at = StageStatus.FAILED, at
                stage.started_at = stage.started_at or at
                changed.append(stage)
    elif status == JobStatus.CANCELLED:
        for stage in active:
            stage.status, stage.finished_at, stage.message = StageStatus.SKIPPED, at, "Cancelled"
            changed.append(stage)
    return changed


def job_status_update(
    *,
    job,
    status=None,
    progress=None,
    step=None,
    epoch=None,
    total_steps=None,
    error=None,
    host=None,
    at=None,
):
    """A status change and/or heartbeat from the job's reporter.

    Terminal statuses are final: a repeated identical status is a no-op (safe retries),
    any other move away from them raises `Conflict`.
    """
    errors = {}
    if status is not None and status not in JobStatus.values:
        errors["status"] = [
            f'"{status}" is not a valid choice; one of {", ".join(JobStatus.values)}.'
        ]
    if progress is not None:
        progress = _field(errors, "progress", parse_number, progress, minimum=0, maximum=100)
    if step is not None:
        step = _field(errors, "step", parse_int, step, minimum=0)
    if epoch is not None:
        epoch = _field(errors, "epoch", parse_number, epoch, minimum=0)
    if total_steps is not None:
        total_steps = _field(errors, "total_steps", parse_int, total_steps, minimum=1)
    if host is not None:
        host = _field(errors, "host", clean_text, host, max_length=255)
    cleaned_error = _clean_error(error, errors)
    at = _field(errors, "time", parse_time, at)
    if errors:
        raise InvalidInput(errors)

    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        stages = list(job.stages.all())
        was_queued = job.status == JobStatus.QUEUED
        changed = []
        if status is not None:
            changed = _apply_status(job, stages, status, at=at, error=cleaned_error)
        elif cleaned_error and job.status == JobStatus.FAILED:
            pass  # a retried fail() after the job is already failed changes nothing
        if not job.is_finished or status is not None:
            if total_steps is not None:
                job.total_steps = total_steps
            if step is not None:
                job.current_step = step
            if epoch is not None:
                job.epoch = epoch
            if progress is not None:
                job.progress = progress
            elif step is not None and job.total_steps and job.status != JobStatus.COMPLETED:
                job.progress = min(100.0, 100.0 * step / job.total_steps)
        if host:
            job.host = host
        job.last_heartbeat = timezone.now()
        job.save()
        for stage in changed:
            stage.save()
        if was_queued and job.status != JobStatus.QUEUED:
            queue_renumber()
        _broadcast_job(job, stages)
        for stage in changed:
            broadcast_after_commit(
                [job_group(job.uid)], {"type": "stage", "stage": stage_payload(stage)}
            )
    return job


# --- stages ------------------------------------------------------------------------

_STAGE_MOVES = {
    StageStatus.PENDING: {
        StageStatus.PENDING,
        StageStatus.ACTIVE,
        StageStatus.COMPLETED,
        StageStatus.SKIPPED,
        StageStatus.FAILED,
    },
    StageStatus.ACTIVE: {StageStatus.ACTIVE, StageStatus.COMPLETED, StageStatus.FAILED},
    # A stage may be entered again (periodic validation during training).
    StageStatus.COMPLETED: {StageStatus.COMPLETED, StageStatus.ACTIVE},
    StageStatus.SKIPPED: {StageStatus.SKIPPED, StageStatus.ACTIVE},
    StageStatus.FAILED: {StageStatus.FAILED},
}


def stage_move(*, job, stage, status, progress=None, message=None, at=None):
    """Move one pipeline stage; the job's status follows.

    The first active stage starts a queued job; a failed stage fails the job; when every
    stage is completed or skipped the job is completed. An illegal move raises `Conflict`.
    """
    errors = {}
    if stage not in STAGE_ORDER:
        errors["stage"] = [f'"{stage}" is not a valid stage; one of {", ".join(STAGE_ORDER)}.']
    if status not in StageStatus.values:
        errors["status"] = [
            f'"{status}" is not a valid choice; one of {", ".join(StageStatus.values)}.'
        ]
    if progress is not None:
        progress = _field(errors, "progress", parse_number, progress, minimum=0, maximum=100)
    if message is not None:
        message = _field(errors, "message", clean_text, message, max_length=500)
    at = _field(errors, "time", parse_time, at)
    if errors:
        raise InvalidInput(errors)

    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        stages = list(job.stages.all())
        target = next(s for s in stages if s.name == stage)
        if job.is_finished and not (status == target.status and progress is None):
            raise Conflict(f"Job {job.uid} is {job.status}; its stages can no longer move.")
        if status not in _STAGE_MOVES[target.status]:
            raise Conflict(f"Stage {stage} is {target.status} and cannot move to {status}.")
        was_queued = job.status == JobStatus.QUEUED
        if status == StageStatus.ACTIVE:
            if target.status != StageStatus.ACTIVE:
                target.started_at = (
                    at if target.status == StageStatus.PENDING else (target.started_at or at)
                )
                target.finished_at = None
            if job.status == JobStatus.QUEUED:
                _apply_status(job, stages, JobStatus.RUNNING, at=at)
        elif status in (StageStatus.COMPLETED, StageStatus.SKIPPED, StageStatus.FAILED):
            if target.status != status:
                target.started_at = target.started_at or (
                    at if status != StageStatus.SKIPPED else None
                )
                target.finished_at = at
            if status == StageStatus.COMPLETED:
                target.progress = 100.0
        target.status = status
        if progress is not None:
            target.progress = progress
        if message is not None:
            target.message = message
        changed = [target]
        if status == StageStatus.FAILED and not job.is_finished:
            changed += _apply_status(
                job,
                stages,
                JobStatus.FAILED,
                at=at,
                error={"stage": stage, "message": message or f"Stage {stage} failed"},
            )
        elif (
            status in (StageStatus.COMPLETED, StageStatus.SKIPPED)
            and not job.is_finished
            and all(s.status in (StageStatus.COMPLETED, StageStatus.SKIPPED) for s in stages)
        ):
            changed += _apply_status(job, stages, JobStatus.COMPLETED, at=at)
        job.last_heartbeat = timezone.now()
        job.save()
        for s in {s.pk: s for s in changed}.values():
            s.save()
        if was_queued and job.status != JobStatus.QUEUED:
            queue_renumber()
        for s in {s.pk: s for s in changed}.values():
            broadcast_after_commit(
                [job_group(job.uid)], {"type": "stage", "stage": stage_payload(s)}
            )
        _broadcast_job(job, stages)
    return target


# --- metrics -----------------------------------------------------------------------


_MAX_STEP = 2**62
_MAX_TIMESTAMP = 32503680000.0


def _clean_point_fast(point, now):
    """The common, well-formed point (str key, int step, float value, optional numeric
    epoch and Unix time) cleaned in a few checks; None sends it through the full parse,
    which also names what is wrong. Same result as the full parse for what it accepts."""
    if type(point) is not dict:
        return None
    key, step, value = point.get("key"), point.get("step"), point.get("value")
    epoch, at = point.get("epoch"), point.get("time")
    if not (
        type(key) is str
        and 0 < len(key) <= MAX_KEY_LENGTH
        and type(step) is int
        and 0 <= step <= _MAX_STEP
        and type(value) in (float, int)
        and (epoch is None or (type(epoch) in (float, int) and 0 <= epoch < math.inf))
        and (at is None or (type(at) in (float, int) and 0 <= at < _MAX_TIMESTAMP))
        and "\x00" not in key
        and key.strip()
    ):
        return None
    wall_time = now if at is None else datetime.fromtimestamp(at, tz=UTC)
    return (key, step), (float(value), None if epoch is None else float(epoch), wall_time)


def _clean_points(points):
    if not isinstance(points, list):
        raise InvalidInput({"points": ["Expected a list of points."]})
    limit = settings.TUNEBOARD_MAX_POINTS_PER_BATCH
    if len(points) > limit:
        raise InvalidInput({"points": [f"At most {limit} points per batch, got {len(points)}."]})
    now = timezone.now()
    errors = {}
    cleaned = {}
    for index, point in enumerate(points):
        fast = _clean_point_fast(point, now)
        if fast is not None:
            cleaned[fast[0]] = fast[1]
            continue
        if not isinstance(point, dict):
            errors[str(index)] = {"non_field_errors": ["Expected an object."]}
            continue
        err = {}
        key = point.get("key")
        if not isinstance(key, str) or not key.strip():
            err["key"] = [
                "This field is required." if key is None else "A non-empty string is required."
            ]
        elif len(key) > MAX_KEY_LENGTH or "\x00" in key:
            err["key"] = [f"At most {MAX_KEY_LENGTH} characters, no NUL."]
        if "step" not in point:
            err["step"] = ["This field is required."]
            step = None
        else:
            step = _field(err, "step", parse_int, point["step"], minimum=0)
        if "value" not in point:
            err["value"] = ["This field is required."]
            value = None
        else:
            value = _field(err, "value", parse_value, point["value"])
        epoch = None
        if point.get("epoch") is not None:
            epoch = _field(err, "epoch", parse_number, point["epoch"], minimum=0)
        wall_time = _field(err, "time", parse_time, point.get("time"), default=now)
        if err:
            errors[str(index)] = err
            continue
        # A repeated (key, step) in one batch: the last one wins, as across batches.
        cleaned[(key, step)] = (value, epoch, wall_time)
    if errors:
        raise InvalidInput({"points": errors})
    return cleaned


def _sparkline_extend(sparkline, new_pairs):
    last_step = sparkline[-1][0] if sparkline else -1
    sparkline = sparkline + [p for p in new_pairs if p[0] > last_step]
    while len(sparkline) > SPARKLINE_POINTS:
        # Halve, always keeping the newest point.
        sparkline = sparkline[::-1][::2][::-1]
    return sparkline


def metrics_ingest(*, job, points):
    """Upsert a batch of metric points in one statement; returns how many were accepted.

    A point repeating a stored (key, step) replaces it, so a client's retries never
    duplicate. The whole batch is validated before anything is written.
    """
    cleaned = _clean_points(points)
    if not cleaned:
        return 0
    by_key = {}
    for (key, step), (value, epoch, wall_time) in cleaned.items():
        by_key.setdefault(key, []).append((step, value, epoch, wall_time))
    for series in by_key.values():
        series.sort(key=lambda item: item[0])

    with transaction.atomic():
        _points_upsert(job.pk, cleaned)
        rollups_update(job_id=job.pk, by_key=by_key)
        job = Job.objects.select_for_update().get(pk=job.pk)
        latest = dict(job.latest_metrics or {})
        for key, series in by_key.items():
            step, value, epoch, wall_time = series[-1]
            known = latest.get(key)
            if known is None or step >= known["step"]:
                latest[key] = {
                    "step": step,
                    "value": encode_float(value),
                    "epoch": epoch,
                    "time": isoformat(wall_time),
                }
        update = {"latest_metrics": latest, "last_heartbeat": timezone.now()}
        if LOSS_KEY in by_key:
            update["loss_sparkline"] = _sparkline_extend(
                job.loss_sparkline or [],
                [[s, encode_float(v)] for s, v, _, _ in by_key[LOSS_KEY]],
            )
        Job.objects.filter(pk=job.pk).update(**update)
        for field, value in update.items():
            setattr(job, field, value)

        payload = {
            "type": "metrics",
            "job": job.uid,
            "series": {
                key: [[s, encode_float(v), e] for s, v, e, _ in series]
                for key, series in by_key.items()
            },
        }
        broadcast_after_commit([job_group(job.uid)], payload)
        if LOSS_KEY in by_key:
            broadcast_after_commit(
                [DASHBOARD_GROUP],
                {
                    "type": "job_metrics",
                    "uid": job.uid,
                    "latest_loss": latest[LOSS_KEY]["value"],
                    "loss_sparkline": update["loss_sparkline"],
                },
            )
    return len(cleaned)


def _points_upsert(job_id, cleaned):
    """INSERT … ON CONFLICT DO UPDATE of every point, as one executemany.

    The ORM's bulk_create spends most of a 10 000-point batch compiling SQL for
    small chunks; one parameterised statement run over all rows does the same work in a
    fraction of the time (see bench/results). SQLite ≥ 3.24 and PostgreSQL share the syntax.
    """
    connection = transaction.get_connection()
    qn = connection.ops.quote_name
    adapt_time = connection.ops.adapt_datetimefield_value
    adapted = {}
    params = []
    for (key, step), (value, epoch, wall_time) in cleaned.items():
        time_param = adapted.get(wall_time)
        if time_param is None:
            time_param = adapted[wall_time] = adapt_time(wall_time)
        params.append((job_id, key, step, epoch, None if value != value else value, time_param))
    table = qn(MetricPoint._meta.db_table)
    columns = ", ".join(qn(c) for c in ("job_id", "key", "step", "epoch", "value", "wall_time"))
    unique = ", ".join(qn(c) for c in ("job_id", "key", "step"))
    updates = ", ".join(f"{qn(c)} = excluded.{qn(c)}" for c in ("value", "epoch", "wall_time"))
    # Only quoted identifiers from the model are interpolated; values are parameters.
    sql = f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s, %s) "  # noqa: S608
    sql += f"ON CONFLICT ({unique}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


# --- logs --------------------------------------------------------------------------

_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR", "TRACE": "DEBUG"}


def _clean_lines(lines):
    if not isinstance(lines, list):
        raise InvalidInput({"lines": ["Expected a list of log lines."]})
    limit = settings.TUNEBOARD_MAX_LOG_LINES_PER_BATCH
    if len(lines) > limit:
        raise InvalidInput({"lines": [f"At most {limit} lines per batch, got {len(lines)}."]})
    now = timezone.now()
    errors = {}
    cleaned = {}
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            errors[str(index)] = {"non_field_errors": ["Expected an object."]}
            continue
        err = {}
        if "seq" not in line:
            err["seq"] = ["This field is required."]
            seq = None
        else:
            seq = _field(err, "seq", parse_int, line["seq"], minimum=0)
        message = _field(
            err,
            "message",
            clean_text,
            line.get("message"),
            max_length=MAX_LOG_MESSAGE,
            required=False,
        )
        if line.get("message") is None:
            err["message"] = ["This field is required."]
        level = line.get("level") or "INFO"
        if not isinstance(level, str):
            err["level"] = ["A string is required."]
        else:
            level = _LEVEL_ALIASES.get(level.upper(), level.upper())
            if level not in LogLevel.values:
                err["level"] = [
                    f'"{line["level"]}" is not a valid level; one of {", ".join(LogLevel.values)}.'
                ]
        time = _field(err, "time", parse_time, line.get("time"), default=now)
        if err:
            errors[str(index)] = err
            continue
        cleaned.setdefault(seq, (time, level, message))
    if errors:
        raise InvalidInput({"lines": errors})
    return cleaned


def logs_ingest(*, job, lines):
    """Store log lines whose `seq` is new for the job; known seqs are ignored (retries).

    Returns the number of lines stored.
    """
    cleaned = _clean_lines(lines)
    if not cleaned:
        return 0
    with transaction.atomic():
        known = set(
            LogEntry.objects.filter(job_id=job.pk, seq__in=list(cleaned)).values_list(
                "seq", flat=True
            )
        )
        rows = [
            LogEntry(job_id=job.pk, seq=seq, time=time, level=level, message=message)
            for seq, (time, level, message) in sorted(cleaned.items())
            if seq not in known
        ]
        LogEntry.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        Job.objects.filter(pk=job.pk).update(last_heartbeat=timezone.now())
        if rows:
            broadcast_after_commit(
                [job_group(job.uid)],
                {"type": "logs", "job": job.uid, "lines": [log_payload(r) for r in rows]},
            )
    return len(rows)


# --- job metadata ------------------------------------------------------------------


def job_update_details(*, job, tags=None, notes=None):
    """Edit a job's tags and/or notes from the job page."""
    errors = {}
    if tags is not None:
        tags = _field(errors, "tags", _clean_tags, tags)
    if notes is not None:
        notes = _field(errors, "notes", clean_text, notes, max_length=20_000)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if tags is not None:
            job.tags = tags
        if notes is not None:
            job.notes = notes
        job.save()
        _broadcast_job(job, extra={"notes": job.notes})
    return job


# --- fixtures ----------------------------------------------------------------------

_RELATIVE_RE = re.compile(r"^now(?:-(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?)?$")


def parse_fixture_time(raw, now):
    """ISO 8601, or `now`, `now-2h15m`, `now-3d4h` relative to the load time."""
    if isinstance(raw, str):
        match = _RELATIVE_RE.match(raw.strip())
        if match:
            days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
            return now - timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    return parse_time(raw)


def _stage_plan(record_stages, status, current_stage, error_stage):
    """Statuses of the five stages implied by a fixture record."""
    if record_stages:
        return record_stages
    plan = {}
    marker = current_stage or error_stage
    for name in STAGE_ORDER:
        if status == JobStatus.COMPLETED:
            plan[name] = StageStatus.COMPLETED
        elif status == JobStatus.QUEUED or marker is None:
            plan[name] = StageStatus.PENDING
        elif STAGE_ORDER.index(name) < STAGE_ORDER.index(marker):
            plan[name] = StageStatus.COMPLETED
        elif name == marker:
            plan[name] = {
                JobStatus.RUNNING: StageStatus.ACTIVE,
                JobStatus.FAILED: StageStatus.FAILED,
                JobStatus.CANCELLED: StageStatus.SKIPPED,
            }[status]
        else:
            plan[name] = StageStatus.PENDING
    return plan


# Typical share of a fine-tuning job's time spent in each stage.
STAGE_WEIGHTS = {
    "dataset_loading": 0.03,
    "tokenization": 0.05,
    "training": 0.80,
    "validation": 0.08,
    "save_model": 0.04,
}


def validate_job_record(record, now):
    """Validate one fixture record; returns the cleaned dict or raises `InvalidInput`."""
    if not isinstance(record, dict):
        raise InvalidInput({"non_field_errors": ["Expected a JSON object."]})
    errors = {}
    for required in ("uid", "name", "model", "dataset", "status"):
        if record.get(required) in (None, ""):
            errors[required] = ["This field is required."]
    if errors:
        raise InvalidInput(errors)
    cleaned = _clean_job_fields(record, errors)
    status = record["status"]
    if status not in JobStatus.values:
        errors["status"] = [
            f'"{status}" is not a valid choice; one of {", ".join(JobStatus.values)}.'
        ]
    cleaned["status"] = status
    for field in ("created_at", "started_at", "finished_at"):
        if record.get(field) is not None:
            cleaned[field] = _field(errors, field, parse_fixture_time, record[field], now)
    for field in ("progress",):
        if record.get(field) is not None:
            cleaned[field] = _field(
                errors, field, parse_number, record[field], minimum=0, maximum=100
            )
    if record.get("current_step") is not None:
        cleaned["current_step"] = _field(
            errors, "current_step", parse_int, record["current_step"], minimum=0
        )
    if record.get("epoch") is not None:
        cleaned["epoch"] = _field(errors, "epoch", parse_number, record["epoch"], minimum=0)
    if record.get("queue_position") is not None:
        cleaned["queue_position"] = _field(
            errors, "queue_position", parse_int, record["queue_position"], minimum=1
        )
    if record.get("stage") is not None and record["stage"] not in STAGE_ORDER:
        errors["stage"] = [f'"{record["stage"]}" is not a valid stage.']
    cleaned["stage"] = record.get("stage")
    cleaned["error"] = _clean_error(record.get("error"), errors)
    deployment = record.get("deployment")
    if deployment is not None and not isinstance(deployment, dict):
        errors["deployment"] = ["Expected a JSON object."]
    cleaned["deployment"] = deployment or {}
    final = record.get("final_metrics") or {}
    if not isinstance(final, dict):
        errors["final_metrics"] = ["Expected an object of metric key to number."]
    else:
        bad = [k for k, v in final.items() if _field({}, k, parse_value, v) is None]
        if bad:
            errors["final_metrics"] = [f"Not a number: {', '.join(bad)}."]
    cleaned["final_metrics"] = final
    if not errors:
        if status != JobStatus.QUEUED and "started_at" not in cleaned:
            errors["started_at"] = [f"Required for a {status} job."]
        if status in FINISHED_STATUSES and "finished_at" not in cleaned:
            errors["finished_at"] = [f"Required for a {status} job."]
        if status == JobStatus.FAILED and not cleaned["error"]:
            errors["error"] = ["Required for a failed job."]
        if status == JobStatus.RUNNING and not cleaned["stage"]:
            errors["stage"] = ["Required for a running job: the active stage."]
        if (
            cleaned.get("started_at")
            and cleaned.get("finished_at")
            and cleaned["finished_at"] < cleaned["started_at"]
        ):
            errors["finished_at"] = ["Must not be before started_at."]
    if errors:
        raise InvalidInput(errors)
    return cleaned


def job_import(*, record):
    """Create or replace a job from a validated fixture record (see `validate_job_record`).

    Stage timings are laid out between the job's start and finish (or now) by typical
    stage shares, so the timeline agrees with the job's timestamps.
    """
    now = timezone.now()
    data = dict(record)
    stage_marker = data.pop("stage")
    error = data.pop("error")
    data.pop("final_metrics")
    data.setdefault("created_at", data.get("started_at") or now)
    if error:
        data.update(
            error_message=error["message"] or "",
            error_type=error["type"] or "",
            error_traceback=error["traceback"] or "",
            error_stage=error["stage"] or "",
            error_step=error["step"],
        )
    status = data["status"]
    if status == JobStatus.COMPLETED:
        data.setdefault("progress", 100.0)
        if data.get("total_steps"):
            data.setdefault("current_step", data["total_steps"])
    if status != JobStatus.QUEUED:
        data["queue_position"] = None
    if data.get("started_at"):
        data.setdefault("last_heartbeat", data.get("finished_at") or now)
    job = Job.objects.filter(uid=data["uid"]).first() or Job(uid=data["uid"])
    for field, value in data.items():
        setattr(job, field, value)
    job.save()
    if not job.stages.exists():
        _stages_create(job)

    plan = _stage_plan(None, status, stage_marker, error["stage"] if error else None)
    start = job.started_at
    end = job.finished_at or now
    stages = list(job.stages.all())
    cursor = start
    span = (end - start).total_seconds() if start else 0
    # Shares of the stages that have run so far, scaled to fill [start, end].
    ran = [s for s in stages if plan[s.name] != StageStatus.PENDING]
    total_weight = sum(STAGE_WEIGHTS[s.name] for s in ran) or 1.0
    for stage in stages:
        stage.status = plan[stage.name]
        stage.message = ""
        stage.progress = 0.0
        stage.started_at = stage.finished_at = None
        if stage in ran and start:
            length = timedelta(seconds=span * STAGE_WEIGHTS[stage.name] / total_weight)
            stage.started_at = cursor
            cursor = cursor + length
            if stage.status != StageStatus.ACTIVE:
                stage.finished_at = cursor
            if stage.status == StageStatus.COMPLETED:
                stage.progress = 100.0
            elif stage.status == StageStatus.ACTIVE:
                stage.progress = job.progress if stage.name == "training" else 50.0
            elif stage.status == StageStatus.FAILED:
                stage.message = (error or {}).get("message", "")[:500]
    Stage.objects.bulk_update(
        stages, ["status", "message", "progress", "started_at", "finished_at"]
    )
    return job


# --- tokens ------------------------------------------------------------------------


def token_create(*, user, name, job_scope=None, tag_prefixes=None, expires_at=None):
    """Create an API token; returns `(token, raw)`. The raw token is never stored."""
    errors = {}
    name = _field(errors, "name", clean_text, name, max_length=100, required=True)
    if job_scope is not None and not (
        isinstance(job_scope, list)
        and all(isinstance(u, str) and UID_RE.match(u) for u in job_scope)
    ):
        errors["job_scope"] = ["Expected a list of job uids."]
    if tag_prefixes is not None and not (
        isinstance(tag_prefixes, list) and all(isinstance(t, str) and t for t in tag_prefixes)
    ):
        errors["tag_prefixes"] = ["Expected a list of non-empty tag prefixes."]
    if errors:
        raise InvalidInput(errors)
    raw = "tb_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:10],
        key_hash=token_hash(raw),
        job_scope=job_scope or [],
        tag_prefixes=tag_prefixes or [],
        expires_at=expires_at,
    )
    return token, raw


def token_revoke(*, token):
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


# --- alerts ------------------------------------------------------------------------


def alerts_sync(*, job, findings, now=None):
    """Record `findings` as the job's open alerts; resolve the ones no longer raised.

    New findings become `Alert` rows (one per job and code, so the webhook hears of each
    once); the job's `active_alerts` summary is replaced and pushed to its page and the
    dashboard when it changed. Returns the alerts created.
    """
    from .models import Alert

    now = now or timezone.now()
    codes = {f.code for f in findings}
    created = []
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        existing = {a.code: a for a in Alert.objects.filter(job=job)}
        for finding in findings:
            alert = existing.get(finding.code)
            if alert is None:
                alert = Alert.objects.create(
                    job=job,
                    code=finding.code,
                    severity=finding.severity,
                    title=finding.title[:300],
                    finding=finding.as_dict(),
                    first_seen=now,
                    last_seen=now,
                    next_attempt_at=now,
                )
                created.append(alert)
            else:
                alert.finding, alert.title, alert.last_seen = (
                    finding.as_dict(),
                    finding.title[:300],
                    now,
                )
                alert.resolved_at = None
                alert.save(update_fields=["finding", "title", "last_seen", "resolved_at"])
        Alert.objects.filter(job=job, resolved_at=None).exclude(code__in=codes).update(
            resolved_at=now
        )
        summary = [{"code": f.code, "severity": f.severity, "title": f.title} for f in findings]
        if summary != job.active_alerts:
            job.active_alerts = summary
            job.save(update_fields=["active_alerts"])
            payload = {
                "type": "alerts",
                "job": job.uid,
                "alerts": summary,
                "findings": [f.as_dict() for f in findings],
            }
            broadcast_after_commit([job_group(job.uid)], payload)
            broadcast_after_commit(
                [DASHBOARD_GROUP], {"type": "job_alerts", "uid": job.uid, "alerts": summary}
            )
    return created


def alert_delivery_record(*, alert, ok, error="", now=None):
    """Record one webhook attempt; failures are retried with exponential backoff."""
    now = now or timezone.now()
    alert.delivery_attempts += 1
    if ok:
        alert.delivered_at = now
        alert.last_delivery_error = ""
    else:
        alert.last_delivery_error = error[:500]
        alert.next_attempt_at = now + timedelta(seconds=min(600, 5 * 2**alert.delivery_attempts))
    alert.save(
        update_fields=[
            "delivery_attempts",
            "delivered_at",
            "last_delivery_error",
            "next_attempt_at",
        ]
    )
    return alert


def job_delete(*, job):
    """Delete a job with everything it owns, and tell the dashboard."""
    uid = job.uid
    with transaction.atomic():
        was_queued = job.status == JobStatus.QUEUED
        job.delete()
        if was_queued:
            queue_renumber()
        broadcast_after_commit([DASHBOARD_GROUP], {"type": "job_deleted", "uid": uid})
