"""Display filters for the pages: the same formats as `static/js/format.js`.

Durations as `1h 23m`, counts as `12.3k`, metric values to four significant digits,
times relative ("2h ago"). Keep the two in step, so a value rendered by the server and
the same value updated live by the page never look different.
"""

import math
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs.core.markdown import render_markdown

register = template.Library()


@register.filter
def duration(seconds):
    """`45s`, `12m 05s`, `1h 23m`, `2d 4h`; an em dash for nothing."""
    if seconds is None or seconds == "":
        return "—"
    seconds = max(0, int(float(seconds)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


@register.filter
def metric(value):
    """A metric value: NaN/inf as written, else four significant digits."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value
    value = float(value)
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1e5 or magnitude < 1e-3:
        return f"{value:.2e}"
    return f"{value:.4g}" if magnitude >= 1 else f"{value:.4f}".rstrip("0").rstrip(".")


@register.filter
def compact(value):
    """`950`, `12.3k`, `4.1M`."""
    if value is None:
        return "—"
    value = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{value:,.0f}" if value == int(value) else f"{value:.1f}"


@register.filter
def steps(value):
    """A step count with thin-space thousands: `6 240`."""
    if value is None:
        return "—"
    return f"{int(value):,}".replace(",", "\u2009")


@register.filter
def bytes_size(value):
    if value in (None, ""):
        return "—"
    value = float(value)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


def _as_datetime(value):
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return parse_datetime(value)
    return None


@register.filter
def ago(value):
    """`just now`, `5m ago`, `2h ago`, `3d ago`."""
    dt = _as_datetime(value)
    if dt is None:
        return "—"
    seconds = (timezone.now() - dt).total_seconds()
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{round(seconds / 60)}m ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)}h ago"
    return f"{int(seconds // 86400)}d ago"


@register.filter
def absolute(value):
    """The full UTC time for a `title` attribute."""
    dt = _as_datetime(value)
    return dt.strftime("%Y-%m-%d %H:%M:%S UTC") if dt else ""


@register.filter
def percent(value):
    return "—" if value is None else f"{float(value):.0f}%"


@register.filter
def clock(value):
    """`12:03:41` for log lines."""
    dt = _as_datetime(value)
    return dt.strftime("%H:%M:%S") if dt else ""


@register.filter
def markdown(text):
    """Notes as safe HTML, rendered as the job page renders them (`jobs/core/markdown.py`)."""
    return render_markdown(text)


SOURCE_NAMES = {
    "tensorboard": "TensorBoard",
    "mlflow": "MLflow",
    "csv": "CSV",
    "jsonl": "JSON Lines",
}


@register.filter
def source_label(job):
    """Where a job came from, as its header says it: the Tuneboard client, the MLflow API,
    or an import (`Job.source`)."""
    source = getattr(job, "source", "") or ""
    if not source:
        return "via the Tuneboard API"
    if source == "mlflow":
        return "via the MLflow API"
    if source.startswith("import:"):
        kind = source.split(":", 1)[1]
        return f"imported from {SOURCE_NAMES.get(kind, kind)}"
    return f"via {source}"


@register.filter
def source_detail(job):
    """The hover text of the source: what an import read, else how the job reported."""
    external = getattr(job, "external", None) or {}
    origin = (external.get("import") or {}).get("origin")
    if origin:
        return f"Imported with manage.py import_runs from {origin}"
    if getattr(job, "source", "") == "mlflow":
        return "Reported by an MLflow client (MLFLOW_TRACKING_URI pointed at Tuneboard)"
    return "Reported through Tuneboard's API (the tuneboard client or HTTP)"
