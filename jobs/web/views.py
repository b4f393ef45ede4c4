"""The pages: dashboard, live job screen, sign-in.

Views paint the first screen from the database (cards, header, stages, latest metric
values, error, config) and leave full metric series to the page's scripts, which read
them from the JSON API with `max_points` and then follow the job over its WebSocket.
"""

import json
import math
from functools import wraps

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.db import connection
from django.db.models import BigIntegerField, ExpressionWrapper, F, Max, Min
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from jobs import selectors
from jobs.core.validation import InvalidInput
from jobs.core.values import isoformat
from jobs.events import eta_seconds, job_card, log_payload, stage_payload
from jobs.filters import JobFilter
from jobs.models import CURRENT_STATUSES, Job, JobStatus, LogEntry, MetricPoint, StageName
from jobs.services import job_update_details

from .markdown import render_markdown

LOSS_KEY = "train/loss"
VAL_LOSS_KEY = "val/loss"
CARD_KEYS = (
    (LOSS_KEY, "Train loss", "down"),
    ("val/accuracy", "Accuracy", "up"),
    ("val/f1", "F1", "up"),
)
# Keys that have fixed widgets; every other key gets a small chart of its own.
FIXED_CHART_KEYS = (LOSS_KEY, VAL_LOSS_KEY)
INITIAL_LOG_LINES = 300
# Cards the dashboard paints; more come from /api/jobs pages of this size on demand.
DASHBOARD_PAGE_SIZE = 48
# Dashboard sort choices: the `ordering` values of /api/jobs, so a URL means the same
# list whether the server or the page's script renders it.
ORDERINGS = [
    ("-created_at", "Newest"),
    ("created_at", "Oldest"),
    ("-started_at", "Recently started"),
    ("-progress", "Progress"),
    ("name", "Name"),
]
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
STATUS_FILTERS = [
    ("", "All"),
    (JobStatus.RUNNING, "Running"),
    (JobStatus.QUEUED, "Queued"),
    (JobStatus.COMPLETED, "Completed"),
    (JobStatus.FAILED, "Failed"),
]


def page_access(view):
    """Pages need a signed-in user unless TUNEBOARD_PUBLIC_READ opens them to anyone."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if settings.TUNEBOARD_PUBLIC_READ or request.user.is_authenticated:
            return view(request, *args, **kwargs)
        return redirect_to_login(request.get_full_path())

    return wrapper


# --- small read helpers --------------------------------------------------------------


def number_or_none(value):
    """A finite float from a stored metric value; NaN/inf strings stay as they are."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def sparkline_path(pairs, *, width=120, height=28):
    """An SVG polyline `points` string for [[step, value], ...]; non-finite values skipped."""
    finite = [(s, v) for s, v in pairs or [] if isinstance(v, int | float) and math.isfinite(v)]
    if len(finite) < 2:
        return ""
    steps = [s for s, _ in finite]
    values = [v for _, v in finite]
    x0, x1 = min(steps), max(steps)
    y0, y1 = min(values), max(values)
    xs = (x1 - x0) or 1
    ys = (y1 - y0) or 1
    return " ".join(
        f"{(s - x0) / xs * width:.1f},{height - 2 - (v - y0) / ys * (height - 4):.1f}"
        for s, v in finite
    )


def card_context(job, rate=None):
    """A job card (the API's shape) plus what the template shows: rate, ETA, sparkline."""
    card = job_card(job, list(job.stages.all()))
    if rate is None and job.status == JobStatus.RUNNING:
        rate = selectors.job_mean_step_rate(job)
    card["rate"] = rate
    card["eta"] = eta_seconds(job, rate)
    card["sparkline_points"] = sparkline_path(job.loss_sparkline)
    card["latest_loss"] = number_or_none(card["latest_loss"])
    return card


def metric_cards(job):
    """Latest value of loss, accuracy and F1 with the change against the previous point."""
    latest = job.latest_metrics or {}
    previous = {}
    keys = [key for key, _, _ in CARD_KEYS if key in latest]
    for key in keys:
        point = (
            MetricPoint.objects.filter(job=job, key=key, step__lt=latest[key]["step"])
            .order_by("-step")
            .values_list("value", flat=True)
            .first()
        )
        previous[key] = point
    cards = []
    for key, label, better in CARD_KEYS:
        point = latest.get(key) or {}
        value = number_or_none(point.get("value"))
        prev = previous.get(key)
        delta = None
        if isinstance(value, float) and isinstance(prev, float) and math.isfinite(prev):
            delta = value - prev
        cards.append(
            {
                "key": key,
                "label": label,
                "better": better,
                "value": value,
                "step": point.get("step"),
                "delta": delta,
                "delta_abs": abs(delta) if delta is not None else None,
            }
        )
    return cards


def completed_summary(job):
    best = (
        MetricPoint.objects.filter(job=job, key=VAL_LOSS_KEY, value__isnull=False)
        .order_by("value", "step")
        .values("value", "step")
        .first()
    )
    duration = job.duration
    return {
        "duration": duration,
        "final_loss": number_or_none(((job.latest_metrics or {}).get(LOSS_KEY) or {}).get("value")),
        "best_val_loss": best["value"] if best else None,
        "best_val_step": best["step"] if best else None,
        "throughput": (job.current_step / duration) if duration and job.current_step else None,
    }


def config_rows(config):
    """Hyper-parameters as (key, display value) pairs for the two-column preview."""
    rows = []
    for key, value in (config or {}).items():
        if isinstance(value, list | dict):
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = "true" if value else "false"
        rows.append((key, value))
    return rows


def job_findings(job):
    """Diagnostics findings for the error panel; empty until `jobs.diagnostics` exists."""
    try:
        from jobs.diagnostics import rules as diagnostics
    except ImportError:
        return []
    return list(diagnostics.job_findings(job))


def open_alerts(job):
    """Findings of the job's unresolved alerts, most severe first (kept by the watcher)."""
    alerts = job.alerts.filter(resolved_at=None).order_by("first_seen")
    findings = [alert.finding for alert in alerts if alert.finding]
    return sorted(findings, key=lambda f: 0 if f.get("severity") == "critical" else 1)


def other_metric_keys(job):
    return sorted(k for k in (job.latest_metrics or {}) if k not in FIXED_CHART_KEYS)


def filter_options():
    """(models, tags) for the dashboard's filter lists, each sorted.

    Two DISTINCT queries: tags come from the distinct `tags_text` strings (",a,b,"), so
    the rows read grow with the number of different tag sets, not with the number of jobs,
    and no job's JSON is decoded.
    """
    models = list(
        Job.objects.exclude(base_model="")
        .order_by("base_model")
        .values_list("base_model", flat=True)
        .distinct()
    )
    tag_sets = (
        Job.objects.exclude(tags_text="").order_by().values_list("tags_text", flat=True).distinct()
    )
    tags = sorted({tag for text in tag_sets for tag in text.split(",") if tag})
    return models, tags


# --- pages ---------------------------------------------------------------------------


@page_access
def dashboard(request):
    params = request.GET.copy()
    ordering = params.get("ordering") or ORDERINGS[0][0]
    if ordering not in dict(ORDERINGS):
        ordering = ORDERINGS[0][0]
    params["ordering"] = ordering
    filterset = JobFilter(params, queryset=selectors.job_list_queryset())
    # The first page only: the script loads the rest from /api/jobs on demand.
    total = filterset.qs.count()
    jobs = list(filterset.qs[:DASHBOARD_PAGE_SIZE])
    filters = {
        "status": params.get("status", ""),
        "model": params.get("model", ""),
        "tag": params.get("tag", ""),
        "q": params.get("q", "").strip(),
        "ordering": ordering,
    }
    models, all_tags = filter_options()
    return render(
        request,
        "jobs/dashboard.html",
        {
            "page": "dashboard",
            "cards": [card_context(job) for job in jobs],
            "total": total,
            "page_size": DASHBOARD_PAGE_SIZE,
            "stats": selectors.job_statistics(per_day=False),
            "filters": filters,
            "status_filters": STATUS_FILTERS,
            "models": models,
            "tags": all_tags,
            "orderings": ORDERINGS,
            "filtered": any(filters[k] for k in ("status", "model", "tag", "q")),
        },
    )


@page_access
def job_detail(request, uid):
    job = get_object_or_404(Job, uid=uid)
    stages = list(job.stages.all())
    card = card_context(
        job, selectors.job_step_rate(job) if job.status == JobStatus.RUNNING else None
    )
    logs = list(LogEntry.objects.filter(job=job).order_by("-seq")[:INITIAL_LOG_LINES])[::-1]
    error = job.error
    if error and error.get("stage"):
        error["stage_label"] = StageName(error["stage"]).label
    first_step = None
    if job.status != JobStatus.QUEUED:
        first_step = MetricPoint.objects.filter(job=job).aggregate(first=Min("step"))["first"]
    rows = config_rows(job.config)
    boot = {
        "uid": job.uid,
        "status": job.status,
        "card": card,
        "stages": [stage_payload(s) for s in stages],
        "latest": {key: point.get("value") for key, point in (job.latest_metrics or {}).items()},
        "startedAt": isoformat(job.started_at),
        "finishedAt": isoformat(job.finished_at),
        "otherKeys": other_metric_keys(job),
        "lastSeq": logs[-1].seq if logs else None,
        "errorStep": job.error_step if job.status == JobStatus.FAILED else None,
        "live": job.status in CURRENT_STATUSES,
        "hasMetrics": first_step is not None,
    }
    return render(
        request,
        "jobs/job_detail.html",
        {
            "page": "job",
            "job": job,
            "card": card,
            "stages": stages,
            "metric_cards": metric_cards(job),
            "other_keys": boot["otherKeys"],
            "logs": [log_payload(entry) for entry in logs],
            "error": error,
            "findings": job_findings(job) if job.status == JobStatus.FAILED else [],
            "alerts": open_alerts(job) if job.status != JobStatus.FAILED else [],
            "summary": completed_summary(job) if job.status == JobStatus.COMPLETED else None,
            "config_rows": rows,
            "config_columns": [rows[: (len(rows) + 1) // 2], rows[(len(rows) + 1) // 2 :]],
            "resource_charts": RESOURCE_CHARTS,
            "boot": boot,
            "now": timezone.now(),
            "notes_html": render_markdown(job.notes),
        },
    )


# --- compare -------------------------------------------------------------------------

COMPARE_MIN_JOBS = 2
COMPARE_MAX_JOBS = 8
# Latest values in the final-metrics table, when at least one compared job logged them.
COMPARE_KEYS = (
    (LOSS_KEY, "Train loss"),
    (VAL_LOSS_KEY, "Val loss"),
    ("val/accuracy", "Accuracy"),
    ("val/f1", "F1"),
)
# Step→time anchors per job for the relative-time x-axis (the series API has no times).
CLOCK_BUCKETS = 200


def compare_uids(raw):
    """The uids of `?jobs=a,b,c`: stripped, blanks dropped, duplicates dropped in order."""
    uids = []
    for part in (raw or "").split(","):
        uid = part.strip()
        if uid and uid not in uids:
            uids.append(uid)
    return uids


def config_value(value):
    """One config value as the diff shows it (JSON for lists, objects, booleans, null)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def config_diff(configs):
    """Rows `{key, cells, differs}` over the union of keys of `configs` (one per job).

    Keys keep the order they first appear in; a cell is None where a job lacks the key,
    and a row differs when any two jobs disagree (a missing key counts as a value).
    """
    keys = list(dict.fromkeys(key for config in configs for key in config))
    missing = object()
    rows = []
    for key in keys:
        raw = [config.get(key, missing) for config in configs]
        cells = [None if value is missing else config_value(value) for value in raw]
        rows.append({"key": key, "cells": cells, "differs": len(set(cells)) > 1})
    return rows


def step_clock(job, *, buckets=CLOCK_BUCKETS):
    """[[step, seconds since the job started], ...] anchors, steps and seconds rising.

    One grouped query: the job's step range is cut into `buckets` equal parts and each
    keeps its first and last step with the earliest and latest wall time, so the page can
    interpolate the time of any step (pauses and restarts included).
    """
    points = MetricPoint.objects.filter(job=job)
    span = points.aggregate(lo=Min("step"), hi=Max("step"), t0=Min("wall_time"))
    if span["lo"] is None:
        return []
    width = (span["hi"] - span["lo"]) // buckets + 1
    bucket = ExpressionWrapper((F("step") - span["lo"]) / width, output_field=BigIntegerField())
    rows = (
        points.annotate(bucket=bucket)
        .values("bucket")
        .annotate(s0=Min("step"), t0=Min("wall_time"), s1=Max("step"), t1=Max("wall_time"))
        .order_by("bucket")
    )
    origin = job.started_at or span["t0"]
    anchors = []
    for row in rows:
        for step, time in ((row["s0"], row["t0"]), (row["s1"], row["t1"])):
            seconds = max(0.0, (time - origin).total_seconds())
            if anchors and step <= anchors[-1][0]:
                continue
            if anchors:
                seconds = max(seconds, anchors[-1][1])
            anchors.append([step, round(seconds, 3)])
    return anchors


def compare_final_rows(jobs):
    """Per job: duration, steps, the latest value of each standard key, best val loss."""
    best = {}
    for job_id, value, step in (
        MetricPoint.objects.filter(job__in=jobs, key=VAL_LOSS_KEY, value__isnull=False)
        .order_by("job_id", "value", "step")
        .values_list("job_id", "value", "step")
    ):
        best.setdefault(job_id, (value, step))
    rows = []
    for job in jobs:
        latest = job.latest_metrics or {}
        best_value, best_step = best.get(job.pk, (None, None))
        rows.append(
            {
                "job": job,
                "duration": job.duration,
                "steps": job.current_step,
                "values": [
                    number_or_none((latest.get(key) or {}).get("value")) for key, _ in COMPARE_KEYS
                ],
                "best_val_loss": best_value,
                "best_val_step": best_step,
            }
        )
    return rows


def shared_metric_keys(jobs):
    """Keys every job logged: the loss keys first, then the rest by name."""
    shared = set(jobs[0].latest_metrics or {})
    for job in jobs[1:]:
        shared &= set(job.latest_metrics or {})
    fixed = [key for key in FIXED_CHART_KEYS if key in shared]
    return fixed + sorted(shared - set(fixed))


@page_access
def compare(request):
    """`/compare?jobs=a,b,c`: 2–8 jobs' shared metrics, config diff and final metrics.

    Fewer than two or more than eight uids answer 400, unknown uids 404, each with the
    page explaining what to do; the charts read their series from the JSON API.
    """
    uids = compare_uids(request.GET.get("jobs"))
    context = {"page": "compare", "uids": uids, "min_jobs": COMPARE_MIN_JOBS}
    if not COMPARE_MIN_JOBS <= len(uids) <= COMPARE_MAX_JOBS:
        context["problem"] = (
            f"Pick {COMPARE_MIN_JOBS} to {COMPARE_MAX_JOBS} jobs to compare "
            f"({len(uids)} given). Select them with the checkboxes on the dashboard."
        )
        return render(request, "jobs/compare.html", context, status=400)
    found = {job.uid: job for job in Job.objects.filter(uid__in=uids)}
    unknown = [uid for uid in uids if uid not in found]
    if unknown:
        context["unknown"] = unknown
        return render(request, "jobs/compare.html", context, status=404)
    jobs = [found[uid] for uid in uids]
    keys = shared_metric_keys(jobs)
    final_rows = compare_final_rows(jobs)
    key_columns = [
        (index, label)
        for index, (_, label) in enumerate(COMPARE_KEYS)
        if any(row["values"][index] is not None for row in final_rows)
    ]
    for row in final_rows:
        row["shown_values"] = [row["values"][index] for index, _ in key_columns]
    diff = config_diff([job.config or {} for job in jobs])
    boot = {
        "jobs": [
            {"uid": job.uid, "name": job.name, "status": job.status, "url": f"/job/{job.uid}"}
            for job in jobs
        ],
        "keys": keys,
        "clocks": {job.uid: step_clock(job) for job in jobs},
    }
    context.update(
        {
            "jobs": jobs,
            "keys": keys,
            "diff_rows": diff,
            "diff_count": sum(row["differs"] for row in diff),
            "final_rows": final_rows,
            "key_columns": [label for _, label in key_columns],
            "boot": boot,
        }
    )
    return render(request, "jobs/compare.html", context)


# --- notes and tags ------------------------------------------------------------------

DETAIL_FIELDS = ("notes", "tags")


def details_payload(job):
    return {
        "uid": job.uid,
        "notes": job.notes,
        "notes_html": str(render_markdown(job.notes)),
        "tags": job.tags,
    }


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
    job = get_object_or_404(Job, uid=uid)
    if request.method == "GET":
        return JsonResponse(details_payload(job))
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
        job = job_update_details(job=job, tags=body.get("tags"), notes=body.get("notes"))
    except InvalidInput as error:
        return JsonResponse(error.detail, status=400)
    return JsonResponse(details_payload(job))


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


def healthz(request):
    """Liveness for load balancers and `scripts/run`: 200 when the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
