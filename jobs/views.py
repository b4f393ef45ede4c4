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
from django.db.models import Min
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from . import selectors
from .api import JobFilter
from .live import isoformat
from .models import CURRENT_STATUSES, Job, JobStatus, LogEntry, MetricPoint, StageName
from .payloads import eta_seconds, job_card, log_payload, stage_payload

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
        from . import diagnostics
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
            "stats": selectors.job_statistics(),
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
        },
    )


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
