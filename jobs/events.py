"""Every message pushed to browsers, and the plain-dict shapes they carry.

One shape per thing, so a card pushed over the WebSocket and the same card read from
`/api/jobs` never disagree, and one builder per message type, so what a socket can
receive is listed here and in `docs/api.md` ("Live messages"). The browser names the
same types in `static/js/lib/events.js`. Only service modules send these messages
(through `jobs.core.push`).
"""

from jobs.core.markdown import render_markdown
from jobs.core.values import encode_float, isoformat


def dashboard_group(project_id):
    """The Channels group of dashboards that show one project's jobs."""
    return f"dashboard.{project_id}"


def job_group(uid):
    """The Channels group of one job's viewers."""
    return f"job.{uid}"


def job_comments_group(uid):
    """The Channels group of one job's members watching its comments (not share links)."""
    return f"job-comments.{uid}"


def user_group(user_id):
    """The Channels group of one signed-in user's job and dashboard pages (their bell)."""
    return f"user.{user_id}"


def share_link_group(link_id):
    """The Channels group of the sockets opened through one share link (closed on revoke)."""
    return f"share.{link_id}"


# Message types. Job group (`/ws/jobs/{uid}/`):
METRICS = "metrics"
LOGS = "logs"
STAGE = "stage"
STATUS = "status"
RESOURCES = "resources"
ALERTS = "alerts"
SAMPLES = "samples"
CHECKPOINT = "checkpoint"
# Dashboard groups (`/ws/dashboard/`, one per project):
JOB = "job"
JOB_METRICS = "job_metrics"
JOB_ALERTS = "job_alerts"
JOB_DELETED = "job_deleted"
# Job comments group (`/ws/jobs/{uid}/`, members only):
COMMENT = "comment"
COMMENT_DELETED = "comment_deleted"
# User group (`/ws/jobs/{uid}/` and `/ws/dashboard/` of a signed-in user):
NOTIFICATION = "notification"
# Share link group (`/ws/s/{secret}/`): the link was revoked, the socket closes.
SHARE_REVOKED = "share_revoked"


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
        "stop_requested": job.stop_requested_at is not None and not job.is_finished,
        "synced_at": isoformat(job.synced_at),
        "url": f"/job/{job.uid}",
    }


def log_payload(entry):
    return {
        "seq": entry.seq,
        "time": isoformat(entry.time),
        "level": entry.level,
        "message": entry.message,
    }


# --- messages -------------------------------------------------------------------------


def job_message(card):
    """Dashboard: a job's card changed (created, status, progress, details)."""
    return {"type": JOB, "job": card}


def status_message(card, extra=None):
    """Job page: the job's status, progress, step or details changed."""
    message = {"type": STATUS, "job": card}
    if extra:
        message.update(extra)
    return message


def stage_message(stage):
    """Job page: one pipeline stage moved."""
    return {"type": STAGE, "stage": stage_payload(stage)}


def metrics_message(uid, by_key):
    """Job page: new points, `{key: [[step, value, epoch], ...]}` from `{key: [(step,
    value, epoch, wall_time), ...]}`."""
    return {
        "type": METRICS,
        "job": uid,
        "series": {
            key: [[s, encode_float(v), e] for s, v, e, _ in series]
            for key, series in by_key.items()
        },
    }


def job_metrics_message(uid, *, latest_loss, loss_sparkline):
    """Dashboard: a card's latest loss and sparkline."""
    return {
        "type": JOB_METRICS,
        "uid": uid,
        "latest_loss": latest_loss,
        "loss_sparkline": loss_sparkline,
    }


def logs_message(uid, entries):
    """Job page: new log lines, in sequence order."""
    return {"type": LOGS, "job": uid, "lines": [log_payload(e) for e in entries]}


def alerts_message(uid, *, summary, findings):
    """Job page: the job's open alerts (summary) with their full findings."""
    return {"type": ALERTS, "job": uid, "alerts": summary, "findings": findings}


def job_alerts_message(uid, summary):
    """Dashboard: a card's alert badge."""
    return {"type": JOB_ALERTS, "uid": uid, "alerts": summary}


def job_deleted_message(uid):
    """Dashboard: a job was deleted."""
    return {"type": JOB_DELETED, "uid": uid}


def resources_message(sample):
    """Job page and dashboard: the newest resource sample of a host (and its job)."""
    return {"type": RESOURCES, "sample": sample}


# --- alert rules (jobs/services/alert_rules.py, alert_firing.py) ---------------------------
# Job group and dashboard groups: a user's alert rule fired on the job, or resolved.
ALERT_FIRED = "alert_fired"


def fired_alert_payload(fired):
    """A fired alert as the API, the bell and the job page show it."""
    rule = fired.rule
    return {
        "id": fired.id,
        "rule": {
            "id": rule.id,
            "name": rule.name,
            "condition": rule.describe(),
            "severity": rule.severity,
            "project": rule.project.slug if rule.project_id else None,
        },
        "job": {"uid": fired.job.uid, "name": fired.job.name, "url": f"/job/{fired.job.uid}"},
        "state": "resolved" if fired.resolved_at else "firing",
        "value": encode_float(fired.value),
        "message": fired.message,
        "fired_at": isoformat(fired.fired_at),
        "resolved_at": isoformat(fired.resolved_at),
    }


def alert_fired_message(fired):
    """Job page, dashboard and the bell: an alert rule fired (or resolved) on a job.

    Every viewer of the job hears it, so it names no rule and says nothing of what fired:
    each page reads the reader's own alerts from `/api/alerts` when it hears it."""
    return {
        "type": ALERT_FIRED,
        "job": fired.job.uid,
        "alert": fired.id,
        "state": "resolved" if fired.resolved_at else "firing",
    }


def notification_message(notification):
    """The bell: the user has a new notification (a mention). Only that user hears it;
    the page reads the bell's list again from the API."""
    return {"type": NOTIFICATION, "id": notification.pk, "kind": notification.kind}


def comment_payload(comment):
    """A comment as the API lists it and the job page draws it (`html` is safe markdown)."""
    author = comment.author
    return {
        "id": comment.pk,
        "job": comment.job.uid,
        "author": author.get_username() if author else None,
        "body": comment.body,
        "html": str(render_markdown(comment.body)),
        "step": comment.step,
        "created_at": isoformat(comment.created_at),
        "edited_at": isoformat(comment.edited_at),
    }


def comment_message(payload):
    """Job page: a comment was written or edited."""
    return {"type": COMMENT, "comment": payload}


def comment_deleted_message(uid, comment_id):
    """Job page: a comment was deleted."""
    return {"type": COMMENT_DELETED, "job": uid, "id": comment_id}


def share_revoked_message(link_id):
    """Share link sockets: the link was revoked; the consumer closes the socket."""
    return {"type": SHARE_REVOKED, "id": link_id}


# --- samples and checkpoints ------------------------------------------------------------

SAMPLE_PREVIEW_CHARS = 200


def sample_payload(sample):
    """One generation as the samples API returns it."""
    return {
        "id": sample.pk,
        "prompt": sample.prompt,
        "prompt_hash": sample.prompt_hash,
        "step": sample.step,
        "output": sample.output,
        "reference": sample.reference or None,
        "score": encode_float(sample.score),
        "meta": sample.meta or {},
        "time": isoformat(sample.time),
    }


def sample_brief(sample):
    """A generation as pushes carry it: which prompt and step, not the texts (a batch of
    long outputs would not fit a push; the panel reads the prompt it shows)."""
    return {
        "prompt_hash": sample.prompt_hash,
        "prompt": sample.prompt[:SAMPLE_PREVIEW_CHARS],
        "step": sample.step,
        "score": encode_float(sample.score),
        "has_reference": bool(sample.reference),
    }


def checkpoint_payload(checkpoint):
    return {
        "step": checkpoint.step,
        "path": checkpoint.path,
        "size": checkpoint.size,
        "metrics": checkpoint.metrics or {},
        "time": isoformat(checkpoint.time),
    }


def samples_message(uid, samples):
    """Job page: new generations (which prompts at which steps)."""
    return {"type": SAMPLES, "job": uid, "samples": [sample_brief(s) for s in samples]}


def checkpoint_message(uid, checkpoint):
    """Job page: a checkpoint was recorded (or gained a size or metrics)."""
    return {"type": CHECKPOINT, "job": uid, "checkpoint": checkpoint_payload(checkpoint)}
