"""Plain-dict shapes of jobs, stages and log lines, shared by the API and live pushes.

One shape per thing, so a card pushed over the WebSocket and the same card read from
`/api/jobs` never disagree.
"""

from django.utils import timezone

from .live import encode_float, isoformat


def eta_seconds(job, step_rate):
    """Seconds left at `step_rate` steps/s, or None when it cannot be told."""
    if not step_rate or not job.total_steps or job.status != "running":
        return None
    remaining = max(0, job.total_steps - job.current_step)
    return remaining / step_rate


def latest_value(job, key):
    point = (job.latest_metrics or {}).get(key)
    return point["value"] if point else None


def stage_payload(stage):
    return {
        "name": stage.name,
        "label": stage.get_name_display(),
        "order": stage.order,
        "status": stage.status,
        "progress": stage.progress,
        "message": stage.message,
        "started_at": isoformat(stage.started_at),
        "finished_at": isoformat(stage.finished_at),
        "duration": stage.duration,
    }


def active_stage_name(stages):
    for stage in stages:
        if stage.status in ("active", "failed"):
            return stage.name
    return None


def job_card(job, stages=None):
    """The summary of a job that lists, cards and status pushes carry."""
    if stages is None:
        stages = list(job.stages.all())
    return {
        "uid": job.uid,
        "name": job.name,
        "model": job.base_model,
        "dataset": job.dataset,
        "tags": job.tags,
        "status": job.status,
        "progress": round(job.progress, 2),
        "current_step": job.current_step,
        "total_steps": job.total_steps,
        "epoch": job.epoch,
        "total_epochs": job.total_epochs,
        "queue_position": job.queue_position,
        "host": job.host,
        "stage": active_stage_name(stages),
        "created_at": isoformat(job.created_at),
        "started_at": isoformat(job.started_at),
        "finished_at": isoformat(job.finished_at),
        "last_heartbeat": isoformat(job.last_heartbeat),
        "duration": job.duration,
        "latest_loss": latest_value(job, "train/loss"),
        "loss_sparkline": job.loss_sparkline,
        "error": job.error,
        "alerts": job.active_alerts,
        "url": f"/job/{job.uid}",
    }


def log_payload(entry):
    return {
        "seq": entry.seq,
        "time": isoformat(entry.time),
        "level": entry.level,
        "message": entry.message,
    }


def point_pair(step, value):
    return [step, encode_float(value)]


def now_iso():
    return isoformat(timezone.now())
