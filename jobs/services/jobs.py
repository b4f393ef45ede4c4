"""Jobs: creation, the status state machine and heartbeats, details, deletion."""

import copy
import re
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from jobs import events
from jobs.core.push import broadcast_after_commit
from jobs.core.validation import (
    Conflict,
    InvalidInput,
    clean_text,
    parse_field,
    parse_int,
    parse_number,
    parse_time,
)
from jobs.models import FINISHED_STATUSES, STAGE_ORDER, Job, JobStatus, Stage, StageStatus

from .alert_firing import alert_rules_on_status
from .audit import (
    JOB_DESCRIPTION,
    JOB_NOTES,
    JOB_RENAME,
    JOB_STATUS,
    JOB_STOP,
    JOB_TAGS,
    audit_record,
)
from .broadcast import job_broadcast

UID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def uid_generate(name):
    base = slugify(name)[:48].strip("-") or "job"
    return f"{base}-{secrets.token_hex(3)}"


def tags_clean(raw):
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


def job_fields_clean(data, errors):
    """Validate the descriptive fields shared by job creation and fixture records."""
    cleaned = {}
    if data.get("uid") is not None:
        uid = data["uid"]
        if not isinstance(uid, str) or not UID_RE.match(uid):
            errors["uid"] = ["1–64 characters: letters, digits, '-' and '_'."]
        cleaned["uid"] = uid
    cleaned["name"] = parse_field(
        errors, "name", clean_text, data.get("name"), max_length=200, required=True
    )
    cleaned["base_model"] = parse_field(
        errors, "model", clean_text, data.get("model"), max_length=200
    )
    cleaned["dataset"] = parse_field(
        errors, "dataset", clean_text, data.get("dataset"), max_length=200
    )
    cleaned["tags"] = parse_field(errors, "tags", tags_clean, data.get("tags"))
    cleaned["config"] = parse_field(errors, "config", _clean_config, data.get("config"))
    if data.get("total_steps") is not None:
        cleaned["total_steps"] = parse_field(
            errors, "total_steps", parse_int, data["total_steps"], minimum=1
        )
    if data.get("total_epochs") is not None:
        cleaned["total_epochs"] = parse_field(
            errors, "total_epochs", parse_number, data["total_epochs"], minimum=0
        )
    if data.get("host") is not None:
        cleaned["host"] = parse_field(errors, "host", clean_text, data["host"], max_length=255)
    return cleaned


def job_stages_create(job):
    Stage.objects.bulk_create(
        [Stage(job=job, name=name, order=order) for order, name in enumerate(STAGE_ORDER)]
    )


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
    project=None,
    source="",
    external=None,
):
    """Create a queued job with its five pending stages; a known `uid` returns that job.
    `project` (a `Project`) defaults to the installation's default project; `source` and
    `external` say where a job reported through another tracker came from (jobs.interop).

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
    cleaned = job_fields_clean(data, errors)
    if errors:
        raise InvalidInput(errors)
    if cleaned.get("uid"):
        existing = Job.objects.filter(uid=cleaned["uid"]).first()
        if existing and existing.deleted_at is not None:
            raise Conflict(
                f"Job {existing.uid} is in the trash: restore it, or report under another uid."
            )
        if existing:
            return existing, False
    else:
        cleaned["uid"] = uid_generate(cleaned["name"])
    now = timezone.now()
    try:
        with transaction.atomic():
            # Joining the queue writes this job's row only: its position is derived from
            # `queued_at` when read, so the other queued jobs are never rewritten.
            job = Job(
                **cleaned,
                **({"project": project} if project is not None else {}),
                status=JobStatus.QUEUED,
                created_at=now,
                queued_at=now,
            )
            job.source = source
            job.external = external or {}
            job.save()
            job_stages_create(job)
            job_broadcast(job)
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
        job.metric_summaries.all().delete()
        job.log_entries.all().delete()
        job.resource_samples.all().delete()
        job.samples.all().delete()
        job.checkpoints.all().delete()
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


def job_error_clean(raw, errors):
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = {"message": raw}
    if not isinstance(raw, dict):
        errors["error"] = ["Expected an object with message, type, traceback, stage, step."]
        return None
    sub = {}
    cleaned = {
        "message": parse_field(sub, "message", clean_text, raw.get("message"), max_length=20_000),
        "type": parse_field(sub, "type", clean_text, raw.get("type"), max_length=200),
        "traceback": parse_field(
            sub, "traceback", clean_text, raw.get("traceback"), max_length=200_000
        ),
        "stage": None,
        "step": None,
    }
    if raw.get("stage") is not None:
        if raw["stage"] not in STAGE_ORDER:
            sub["stage"] = [f"Unknown stage {raw['stage']!r}; one of {', '.join(STAGE_ORDER)}."]
        cleaned["stage"] = raw["stage"]
    if raw.get("step") is not None:
        cleaned["step"] = parse_field(sub, "step", parse_int, raw["step"], minimum=0)
    if sub:
        errors["error"] = sub
    return cleaned


def job_status_apply(job, stages, status, *, at, error=None):
    """Move `job` (and its stages, in memory) to `status`; returns the stages changed."""
    changed = []
    if status == job.status:
        return changed
    if status not in _TERMINAL_MOVES[job.status]:
        raise Conflict(f"Job {job.uid} is {job.status} and cannot become {status}.")
    job.status = status
    if status == JobStatus.RUNNING:
        job.started_at = job.started_at or at
    if status in FINISHED_STATUSES:
        job.finished_at = at
        job.started_at = job.started_at or at
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


def _status_fields_clean(status, progress, step, epoch, total_steps, host, error, at):
    """The fields of a status report, parsed; raises `InvalidInput` naming each bad one."""
    errors = {}
    if status is not None and status not in JobStatus.values:
        errors["status"] = [
            f'"{status}" is not a valid choice; one of {", ".join(JobStatus.values)}.'
        ]
    if progress is not None:
        progress = parse_field(errors, "progress", parse_number, progress, minimum=0, maximum=100)
    if step is not None:
        step = parse_field(errors, "step", parse_int, step, minimum=0)
    if epoch is not None:
        epoch = parse_field(errors, "epoch", parse_number, epoch, minimum=0)
    if total_steps is not None:
        total_steps = parse_field(errors, "total_steps", parse_int, total_steps, minimum=1)
    if host is not None:
        host = parse_field(errors, "host", clean_text, host, max_length=255)
    cleaned_error = job_error_clean(error, errors)
    at = parse_field(errors, "time", parse_time, at)
    if errors:
        raise InvalidInput(errors)
    return progress, step, epoch, total_steps, host, cleaned_error, at


def _progress_apply(job, *, progress, step, epoch, total):
    """Where the job is: its step, epoch and total; its progress as reported, else derived
    from step and total (a completed job keeps its 100 %)."""
    if total is not None:
        job.total_steps = total
    if step is not None:
        job.current_step = step
    if epoch is not None:
        job.epoch = epoch
    if progress is not None:
        job.progress = progress
    elif step is not None and job.total_steps and job.status != JobStatus.COMPLETED:
        job.progress = min(100.0, 100.0 * step / job.total_steps)


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
    synced=False,
    actor=None,
    token=None,
):
    """A status change and/or heartbeat from the job's reporter (`actor`/`token`: who,
    for the audit trail; a change of status is recorded there). `synced`: the job's
    events were uploaded after the fact (`tuneboard sync`); the job is marked synced now.

    Terminal statuses are final: a repeated identical status is a no-op (safe retries),
    any other move away from them raises `Conflict`.
    """
    progress, step, epoch, total_steps, host, cleaned_error, at = _status_fields_clean(
        status, progress, step, epoch, total_steps, host, error, at
    )
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        old_status = job.status
        stages = list(job.stages.all())
        changed = []
        before = job.status
        if status is not None:
            changed = job_status_apply(job, stages, status, at=at, error=cleaned_error)
            if job.status != before:
                audit_record(
                    action=JOB_STATUS,
                    job=job,
                    actor=actor,
                    token=token,
                    detail={"from": before, "to": job.status},
                )
        elif cleaned_error and job.status == JobStatus.FAILED:
            pass  # a retried fail() after the job is already failed changes nothing
        if not job.is_finished or status is not None:
            _progress_apply(job, progress=progress, step=step, epoch=epoch, total=total_steps)
        if host:
            job.host = host
        now = timezone.now()
        if synced:
            job.synced_at = now
        else:
            job.last_heartbeat = now
        job.save()
        for stage in changed:
            stage.save()
        job_broadcast(job, stages)
        for stage in changed:
            broadcast_after_commit([events.job_group(job.uid)], events.stage_message(stage))
    if job.status != old_status:
        alert_rules_on_status(job=job, old_status=old_status)
    return job


def request_stop(*, job, actor=None, token=None):
    """Ask a running (or queued) job to stop: its reporter reads the request in the answer
    to its next heartbeat and ends the job as cancelled. Recorded in the audit trail and
    pushed to the job's viewers; a repeated request keeps the first one's time.

    Raises `Conflict` for a job that has already ended. Returns the job.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.is_finished:
            raise Conflict(f"Job {job.uid} is {job.status}: there is nothing to stop.")
        if job.stop_requested_at is None:
            job.stop_requested_at = timezone.now()
            job.save(update_fields=["stop_requested_at"])
            audit_record(
                action=JOB_STOP,
                job=job,
                actor=actor,
                token=token,
                detail={"status": job.status, "step": job.current_step},
            )
            job_broadcast(job)
    return job


def job_update_details(*, job, tags=None, notes=None, actor=None, token=None):
    """Edit a job's tags and/or notes from the job page (recorded in the audit trail)."""
    errors = {}
    if tags is not None:
        tags = parse_field(errors, "tags", tags_clean, tags)
    if notes is not None:
        notes = parse_field(errors, "notes", clean_text, notes, max_length=20_000)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if tags is not None and tags != job.tags:
            detail = {"from": job.tags, "to": tags}
            audit_record(action=JOB_TAGS, job=job, actor=actor, token=token, detail=detail)
        if notes is not None and notes != job.notes:
            detail = {"chars": len(notes)}
            audit_record(action=JOB_NOTES, job=job, actor=actor, token=token, detail=detail)
        if tags is not None:
            job.tags = tags
        if notes is not None:
            job.notes = notes
        job.save()
        job_broadcast(job, extra={"notes": job.notes})
    return job


DESCRIPTION_MAX = 2000


def job_edit(*, job, name=None, description=None, actor=None, token=None):
    """Rename a job and/or change its description (inline on the job page and the runs
    table). Each change is recorded in the audit trail and pushed to the job's viewers and
    its dashboard; a blank name or one over 200 characters is an `InvalidInput` naming
    `name`, and nothing is stored."""
    errors = {}
    if name is None and description is None:
        errors["name"] = ["Send a name and/or a description."]
    if name is not None:
        name = parse_field(errors, "name", clean_text, name, max_length=200, required=True)
        name = name.strip() if name is not None else None
    if description is not None:
        description = parse_field(
            errors, "description", clean_text, description, max_length=DESCRIPTION_MAX
        )
        description = description.strip() if description is not None else None
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        changed = []
        if name is not None and name != job.name:
            detail = {"from": job.name, "to": name}
            audit_record(action=JOB_RENAME, job=job, actor=actor, token=token, detail=detail)
            job.name = name
            changed.append("name")
        if description is not None and description != job.description:
            detail = {"chars": len(description)}
            audit_record(action=JOB_DESCRIPTION, job=job, actor=actor, token=token, detail=detail)
            job.description = description
            changed.append("description")
        if changed:
            job.save(update_fields=changed)
            job_broadcast(job, extra={"description": job.description})
    return job


_DESCRIBED_FIELDS = ("name", "base_model", "dataset", "tags", "config", "external")


def job_describe(*, job, edit):
    """Change a job's descriptive fields (name, base_model, dataset, tags, config,
    external) with `edit(job)`, called on the job's locked row, so edits that read and
    merge (another tracker's params and tags) never lose a concurrent one.

    The result is validated like a new job's fields and stored in one transaction, or
    nothing is: an exception from `edit` or a bad field (`InvalidInput`) leaves the job as
    it was. Returns the job.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        before = {field: copy.deepcopy(getattr(job, field)) for field in _DESCRIBED_FIELDS}
        edit(job)
        changed = [field for field in _DESCRIBED_FIELDS if getattr(job, field) != before[field]]
        if not changed:
            return job
        errors = {}
        cleaned = job_fields_clean(
            {
                "name": job.name,
                "model": job.base_model,
                "dataset": job.dataset,
                "tags": job.tags,
                "config": job.config,
            },
            errors,
        )
        if not isinstance(job.external, dict):
            errors["external"] = ["Expected a JSON object."]
        if errors:
            raise InvalidInput(errors)
        for field in ("name", "base_model", "dataset", "tags", "config"):
            setattr(job, field, cleaned[field])
        job.save()
        job_broadcast(job)
    return job


def job_delete(*, job):
    """Delete a job with everything it owns, and tell the dashboard."""
    uid, project_id = job.uid, job.project_id
    with transaction.atomic():
        job.delete()
        message = events.job_deleted_message(uid)
        broadcast_after_commit([events.dashboard_group(project_id)], message)
