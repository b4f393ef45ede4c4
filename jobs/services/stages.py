"""Pipeline stages: legal moves, and the job status that follows from them."""

from django.db import transaction
from django.utils import timezone

from jobs import events
from jobs.core.push import broadcast_after_commit
from jobs.core.validation import (
    Conflict,
    InvalidInput,
    clean_text,
    parse_field,
    parse_number,
    parse_time,
)
from jobs.models import STAGE_ORDER, Job, JobStatus, StageStatus

from .alert_firing import alert_rules_on_status
from .jobs import job_broadcast, job_status_apply

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
        progress = parse_field(errors, "progress", parse_number, progress, minimum=0, maximum=100)
    if message is not None:
        message = parse_field(errors, "message", clean_text, message, max_length=500)
    at = parse_field(errors, "time", parse_time, at)
    if errors:
        raise InvalidInput(errors)

    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        old_status = job.status
        stages = list(job.stages.all())
        target = next(s for s in stages if s.name == stage)
        if job.is_finished and not (status == target.status and progress is None):
            raise Conflict(f"Job {job.uid} is {job.status}; its stages can no longer move.")
        if status not in _STAGE_MOVES[target.status]:
            raise Conflict(f"Stage {stage} is {target.status} and cannot move to {status}.")
        if status == StageStatus.ACTIVE:
            if target.status != StageStatus.ACTIVE:
                target.started_at = (
                    at if target.status == StageStatus.PENDING else (target.started_at or at)
                )
                target.finished_at = None
            if job.status == JobStatus.QUEUED:
                job_status_apply(job, stages, JobStatus.RUNNING, at=at)
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
            changed += job_status_apply(
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
            changed += job_status_apply(job, stages, JobStatus.COMPLETED, at=at)
        job.last_heartbeat = timezone.now()
        job.save()
        for s in {s.pk: s for s in changed}.values():
            s.save()
        for s in {s.pk: s for s in changed}.values():
            broadcast_after_commit([events.job_group(job.uid)], events.stage_message(s))
        job_broadcast(job, stages)
    if job.status != old_status:
        alert_rules_on_status(job=job, old_status=old_status)
    return target


# --- metrics -----------------------------------------------------------------------
