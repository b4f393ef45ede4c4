"""The demo's fixture jobs: JSON files validated whole, then imported in one transaction.

Format: `fixtures/README.md`. `fixtures_load` is what `manage.py load_jobs` and the
simulator call; a bad file raises `FixtureError` naming file, record and field, and
nothing is loaded.
"""

import json
import re
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs.core.validation import (
    InvalidInput,
    parse_field,
    parse_int,
    parse_number,
    parse_time,
    parse_value,
)
from jobs.models import FINISHED_STATUSES, STAGE_ORDER, Job, JobStatus, Stage, StageStatus
from jobs.services.jobs import job_error_clean, job_fields_clean, job_stages_create

DEFAULT_FIXTURES = ["fixtures/current-jobs.json", "fixtures/past-jobs.json"]


class FixtureError(Exception):
    """A fixture file that cannot be loaded; the message names file, record and field."""


def _flatten(detail, prefix=""):
    """`{"error": {"stage": ["bad"]}}` -> ["error.stage: bad"]."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            out += _flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    return [f"{prefix}: {message}" for message in detail]


def fixture_records(path):
    """The job records of one fixture file; raises FixtureError naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FixtureError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise FixtureError(f"{path}: not UTF-8 text ({exc})") from None
    except json.JSONDecodeError as exc:
        raise FixtureError(
            f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    records = data.get("jobs") if isinstance(data, dict) else None
    if not isinstance(records, list):
        raise FixtureError(f'{path}: expected an object with a "jobs" list')
    return records


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
    cleaned = job_fields_clean(record, errors)
    status = record["status"]
    if status not in JobStatus.values:
        errors["status"] = [
            f'"{status}" is not a valid choice; one of {", ".join(JobStatus.values)}.'
        ]
    cleaned["status"] = status
    for field in ("created_at", "started_at", "finished_at"):
        if record.get(field) is not None:
            cleaned[field] = parse_field(errors, field, parse_fixture_time, record[field], now)
    for field in ("progress",):
        if record.get(field) is not None:
            cleaned[field] = parse_field(
                errors, field, parse_number, record[field], minimum=0, maximum=100
            )
    if record.get("current_step") is not None:
        cleaned["current_step"] = parse_field(
            errors, "current_step", parse_int, record["current_step"], minimum=0
        )
    if record.get("epoch") is not None:
        cleaned["epoch"] = parse_field(errors, "epoch", parse_number, record["epoch"], minimum=0)
    if record.get("queue_position") is not None:
        cleaned["queue_position"] = parse_field(
            errors, "queue_position", parse_int, record["queue_position"], minimum=1
        )
    if record.get("stage") is not None and record["stage"] not in STAGE_ORDER:
        errors["stage"] = [f'"{record["stage"]}" is not a valid stage.']
    cleaned["stage"] = record.get("stage")
    cleaned["error"] = job_error_clean(record.get("error"), errors)
    deployment = record.get("deployment")
    if deployment is not None and not isinstance(deployment, dict):
        errors["deployment"] = ["Expected a JSON object."]
    cleaned["deployment"] = deployment or {}
    final = record.get("final_metrics") or {}
    if not isinstance(final, dict):
        errors["final_metrics"] = ["Expected an object of metric key to number."]
    else:
        bad = [k for k, v in final.items() if parse_field({}, k, parse_value, v) is None]
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
    data.pop("queue_position", None)
    data.setdefault("queued_at", data["created_at"])
    if data.get("started_at"):
        data.setdefault("last_heartbeat", data.get("finished_at") or now)
    job = Job.objects.filter(uid=data["uid"]).first() or Job(uid=data["uid"])
    for field, value in data.items():
        setattr(job, field, value)
    job.save()
    if not job.stages.exists():
        job_stages_create(job)

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


def fixtures_load(files=None):
    """Validate every record of every file, then upsert them all by uid in one
    transaction. Returns `(jobs, files)` counts; raises `FixtureError` with every problem."""
    files = files or [str(Path(settings.BASE_DIR) / f) for f in DEFAULT_FIXTURES]
    now = timezone.now()
    problems, cleaned, seen = [], [], {}
    for path in files:
        for index, record in enumerate(fixture_records(path)):
            label = f"{path}: record {index}"
            if isinstance(record, dict) and isinstance(record.get("uid"), str):
                label += f" (uid {record['uid']!r})"
                if record["uid"] in seen:
                    problems.append(f"{label}: uid: duplicated, first in {seen[record['uid']]}")
                    continue
                seen[record["uid"]] = label
            try:
                cleaned.append(validate_job_record(record, now))
            except InvalidInput as exc:
                problems += [f"{label}: {line}" for line in _flatten(exc.detail)]
    if problems:
        raise FixtureError("nothing was loaded:\n  " + "\n  ".join(problems))
    queue_order(cleaned, now)
    with transaction.atomic():
        for record in cleaned:
            job_import(record=record)
    return len(cleaned), len(files)


def queue_order(records, now):
    """Give each queued record the `queued_at` that keeps the fixtures' queue order.

    Queued records are taken in their declared `queue_position` order (then creation
    time, then file order) and queued at their creation time, moved just after the one
    before when that would break the order: the fixtures' jobs keep their order among
    themselves and take their place among other queued jobs by when they were created.
    """
    queued = [
        (record.get("queue_position") or float("inf"), record.get("created_at") or now, n, record)
        for n, record in enumerate(records)
        if record["status"] == JobStatus.QUEUED
    ]
    previous = None
    for _, created_at, _, record in sorted(queued, key=lambda item: item[:3]):
        if previous is not None and created_at <= previous:
            created_at = previous + timedelta(microseconds=1)
        record["queued_at"] = previous = created_at
