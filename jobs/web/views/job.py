"""The live job page, and the JSON endpoint its notes and tags panel reads and edits."""

import json

from django.conf import settings
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from jobs import selectors
from jobs.accounts.permissions import may
from jobs.core.markdown import render_markdown
from jobs.core.validation import InvalidInput
from jobs.diagnostics import history, rules
from jobs.layout import VAL_LOSS_KEY, completed_summary, config_rows, job_error, metric_layout
from jobs.models import JobStatus, Role
from jobs.services import job_update_details

from ..access import page_access, page_projects
from ..presenters import (
    CARD_KEYS,
    card_context,
    deployed_checkpoint,
    details_payload,
    failure_history,
    job_boot,
    metric_cards,
)
from .collab import collaboration_context

INITIAL_LOG_LINES = 300
RESOURCE_CHARTS = [
    {"id": "gpu_util", "label": "GPU utilisation %"},
    {"id": "gpu_temp", "label": "GPU temperature °C"},
    {"id": "vram", "label": "VRAM GiB"},
    {"id": "cpu", "label": "CPU %"},
    {"id": "cpu_temp", "label": "CPU temperature °C"},
    {"id": "ram", "label": "RAM GiB"},
    {"id": "disk", "label": "Disk I/O MB/s"},
    {"id": "net", "label": "Network MB/s"},
]
DETAIL_FIELDS = ("notes", "tags")


@page_access
def job_detail(request, uid):
    job = selectors.job_by_uid(uid, with_stages=True, projects=page_projects(request))
    if job is None:
        raise Http404
    context = job_page_context(request, job, projects=page_projects(request))
    context.update(collaboration_context(request, job))
    return render(request, "jobs/job_detail.html", context)


def job_page_context(request, job, *, projects, shared=False):
    """The job page's context; `shared` (a share link's view) leaves out what reaches
    beyond the job: other jobs' failure history."""
    stages = list(job.stages.all())
    running = job.status == JobStatus.RUNNING
    card = card_context(job, selectors.job_step_rate(job) if running else None)
    logs = selectors.log_page(job=job, tail=True, limit=INITIAL_LOG_LINES)
    has_metrics = job.status != JobStatus.QUEUED and selectors.metric_first_step(job) is not None
    previous = selectors.metric_previous_values(job, [key for key, _, _ in CARD_KEYS])
    rows = config_rows(job.config)
    layout = metric_layout(job, selectors.metric_key_counts(job) if has_metrics else {})
    boot = job_boot(
        job,
        card=card,
        stages=stages,
        last_seq=logs["last_seq"],
        has_metrics=has_metrics,
        layout=layout,
    )
    findings = rules.job_findings_shown(job)
    checkpoints = selectors.checkpoint_list(job=job) if job.status != JobStatus.QUEUED else []
    failed = job.status == JobStatus.FAILED
    return {
        "page": "job",
        "job": job,
        "card": card,
        "stages": stages,
        "metric_cards": metric_cards(job, previous),
        "other_keys": boot["otherKeys"],
        "metric_layout": layout,
        "logs": logs["lines"],
        "error": job_error(job),
        # The same findings `GET /api/jobs/{uid}` carries: a failed job's diagnosis,
        # another job's open alerts.
        "findings": findings if failed else [],
        "alerts": [] if failed else findings,
        "failure_history": (
            failure_history_context(job, projects) if failed and not shared else None
        ),
        "summary": (
            completed_summary(job, selectors.metric_best_point(job=job, key=VAL_LOSS_KEY))
            if job.status == JobStatus.COMPLETED
            else None
        ),
        "config_rows": rows,
        "config_columns": [rows[: (len(rows) + 1) // 2], rows[(len(rows) + 1) // 2 :]],
        "resource_charts": RESOURCE_CHARTS,
        "boot": boot,
        "now": timezone.now(),
        "notes_html": render_markdown(job.notes),
        "checkpoints": checkpoints,
        "deployed_checkpoint": deployed_checkpoint(job.deployment, checkpoints),
        # The reader's own alert rules that fired on this job (the alert_fired panel).
        "fired_alerts": (
            selectors.fired_alerts_page(request.user, projects, job=job, limit=10)["results"]
            if request.user.is_authenticated and not shared
            else []
        ),
        # The header's badge: the rules the reader sees firing on this job now.
        "firing": (
            selectors.firing_by_job(request.user, projects, [job.uid]).get(job.uid)
            if request.user.is_authenticated and not shared
            else None
        ),
    }


def failure_history_context(job, projects):
    """ "Failed here before": earlier failures with this signature, and what the next
    successful run of the same model and dataset changed in its config."""
    visible = selectors.jobs_in(projects)
    earlier_count, earlier = selectors.failure_earlier(job, jobs=visible)
    next_success = selectors.failure_next_success(job, jobs=visible)
    changes = history.config_changes(job.config, next_success.config) if next_success else []
    return failure_history(
        job,
        earlier_count=earlier_count,
        earlier=earlier,
        next_success=next_success,
        changes=changes,
        description=history.describe_changes(changes),
    )


@require_http_methods(["GET", "POST"])
def job_details(request, uid):
    """Read (GET) or edit (POST, JSON `{notes?, tags?}`) a job's notes and tags.

    Editing needs a signed-in session and the CSRF token (`X-CSRFToken`); reading is open
    to whoever may see the pages. Answers the stored notes, their rendered safe HTML and
    the tags, or 400 with the DRF error shape naming each bad field.
    """
    signed_in = request.user.is_authenticated
    if request.method == "POST" and not signed_in:
        return JsonResponse({"detail": "Sign in to edit notes and tags."}, status=403)
    if not (signed_in or settings.TUNEBOARD_PUBLIC_READ):
        return JsonResponse({"detail": "Sign in to read this job."}, status=403)
    job = selectors.job_by_uid(uid, projects=page_projects(request))
    if job is None:
        raise Http404
    if request.method == "GET":
        return JsonResponse(details_payload(job))
    if not may(request.user, job.project_id, Role.EDITOR):
        detail = {"detail": "Editing needs the editor role in this project."}
        return JsonResponse(detail, status=403)
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"detail": "The body is not valid JSON."}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"detail": "Expected a JSON object: notes, tags."}, status=400)
    unknown = sorted(set(body) - set(DETAIL_FIELDS))
    if unknown:
        return JsonResponse({key: ["Unknown field."] for key in unknown}, status=400)
    if not any(field in body for field in DETAIL_FIELDS):
        return JsonResponse({"detail": "Send notes and/or tags."}, status=400)
    try:
        job = job_update_details(
            job=job, tags=body.get("tags"), notes=body.get("notes"), actor=request.user
        )
    except InvalidInput as error:
        return JsonResponse(error.detail, status=400)
    return JsonResponse(details_payload(job))
