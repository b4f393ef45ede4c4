"""View models for the pages: the dicts templates and boot JSON read, and their formatting.

Presenters shape what the views read through `jobs.selectors`; they never query the
database themselves (a job's stages come prefetched by the selector that loaded it).
"""

import json
import math
from urllib.parse import quote

from jobs.core.markdown import render_markdown
from jobs.core.values import isoformat
from jobs.events import eta_seconds, job_card, stage_payload
from jobs.layout import FIXED_CHART_KEYS, LOSS_KEY, number_or_none, other_metric_keys
from jobs.models import CURRENT_STATUSES, JobStatus
from jobs.query import summary_column
from jobs.selectors import job_mean_step_rate

CARD_KEYS = (
    (LOSS_KEY, "Train loss", "down"),
    ("val/accuracy", "Accuracy", "up"),
    ("val/f1", "F1", "up"),
)


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


# --- job cards and the job page ------------------------------------------------------


def card_context(job, rate=None):
    """A job card (the API's shape) plus what the template shows: rate, ETA, sparkline."""
    card = job_card(job, list(job.stages.all()))
    if rate is None and job.status == JobStatus.RUNNING:
        rate = job_mean_step_rate(job)
    card["rate"] = rate
    card["eta"] = eta_seconds(job, rate)
    card["sparkline_points"] = sparkline_path(job.loss_sparkline)
    card["latest_loss"] = number_or_none(card["latest_loss"])
    return card


def metric_cards(job, previous):
    """Latest value of loss, accuracy and F1 with the change against the previous point.

    `previous` maps each card key to the value of the point before its latest one.
    """
    latest = job.latest_metrics or {}
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


# --- metric sections and the summary card ---------------------------------------------

# Charts whose series the page's first request reads, with the loss keys: the first
# charts of the first sections, which are the ones in view when the page opens.
PREFETCH_CHART_KEYS = 12
FIRST_READ_POINTS = 1000


def nameable_key(key):
    """Whether the series API can name `key` in `keys=` (it splits on commas and trims)."""
    return key != "" and "," not in key and key.strip() == key


def first_read_keys(job, layout):
    """The keys of the page's first series request: the loss keys and the first charts."""
    latest = job.latest_metrics or {}
    keys = [key for key in FIXED_CHART_KEYS if key in latest]
    charts = [chart["key"] for section in layout["sections"] for chart in section["charts"]]
    keys += [key for key in charts if nameable_key(key)][:PREFETCH_CHART_KEYS]
    return keys


def first_read_url(job, keys):
    """The URL of the page's first series request (its inline script starts it early), or
    None when there is no key to read."""
    if not keys:
        return None
    names = ",".join(quote(key, safe="") for key in keys)
    uid = quote(job.uid, safe="")
    return f"/api/jobs/{uid}/metrics?max_points={FIRST_READ_POINTS}&keys={names}"


def job_boot(job, *, card, stages, last_seq, has_metrics, layout=None):
    """The job page's boot JSON: what its scripts start from before the first fetch.

    With the metric `layout`: the keys shown as summaries, the keys the job marks as
    summaries, and the URL and keys of the first series request."""
    layout = layout or {"summary": [], "sections": [], "marked": []}
    first_keys = first_read_keys(job, layout)
    return {
        "uid": job.uid,
        "status": job.status,
        "card": card,
        "stages": [stage_payload(s) for s in stages],
        "latest": {key: point.get("value") for key, point in (job.latest_metrics or {}).items()},
        "startedAt": isoformat(job.started_at),
        "finishedAt": isoformat(job.finished_at),
        "otherKeys": other_metric_keys(job),
        "lastSeq": last_seq,
        "errorStep": job.error_step if job.status == JobStatus.FAILED else None,
        "live": job.status in CURRENT_STATUSES,
        "hasMetrics": has_metrics,
        "summaryKeys": [row["key"] for row in layout["summary"]],
        "summaryMarked": layout["marked"],
        "firstKeys": first_keys,
        "firstUrl": first_read_url(job, first_keys),
    }


def details_payload(job):
    """What the details endpoint answers: notes (stored, and as safe HTML) and tags."""
    return {
        "uid": job.uid,
        "notes": job.notes,
        "notes_html": str(render_markdown(job.notes)),
        "tags": job.tags,
    }


# --- compare -------------------------------------------------------------------------


def failure_history(job, *, earlier_count, earlier, next_success, changes, description):
    """The failed job page's "failed here before": the earlier jobs with the same failure
    signature and, when a later run of the same model and dataset succeeded, what its
    config changed. None when there is neither."""
    if not earlier and next_success is None:
        return None
    return {
        "signature": job.failure_signature,
        "earlier_count": earlier_count,
        "earlier": [
            {
                "uid": other.uid,
                "name": other.name,
                "finished_at": other.finished_at,
                "error_step": other.error_step,
            }
            for other in earlier
        ],
        "next_success": (
            {"uid": next_success.uid, "name": next_success.name}
            if next_success is not None
            else None
        ),
        "changes": changes,
        "description": description,
    }


# --- runs table ----------------------------------------------------------------------

JOB_COLUMN_LABELS = {
    "status": "Status",
    "model": "Model",
    "dataset": "Dataset",
    "tags": "Tags",
    "duration": "Duration",
    "step": "Step",
    "progress": "Progress",
    "created": "Created",
    "started": "Started",
    "finished": "Finished",
    "host": "Host",
    "uid": "UID",
}
_NUMERIC_JOB_COLUMNS = ("duration", "step", "progress")


def runs_column_label(column):
    return JOB_COLUMN_LABELS.get(column, column)


def runs_header(columns, sort):
    """Header cells: each column's label, whether it is numeric, its `aria-sort` and the
    sort the next click asks for (ascending first; a second click descends)."""
    cells = []
    for column in ("name", *columns):
        if sort == column:
            state, following = "ascending", f"-{column}"
        elif sort == f"-{column}":
            state, following = "descending", column
        else:
            state, following = "none", column
        numeric = column in _NUMERIC_JOB_COLUMNS or column.rsplit(".", 1)[-1] in (
            "last",
            "min",
            "max",
            "best",
            "best_step",
            "last_step",
            "min_step",
            "max_step",
            "count",
        )
        cells.append(
            {
                "column": column,
                "label": "Name" if column == "name" else runs_column_label(column),
                "numeric": numeric,
                "sort": state,
                "next_sort": following,
            }
        )
    return cells


def _config_cell(value):
    if value is None:
        return {"kind": "text", "value": None}
    if isinstance(value, bool):
        return {"kind": "text", "value": "true" if value else "false"}
    if isinstance(value, int | float):
        # As written in the config (2e-05, not 2.00e-05): it is a setting, not a reading.
        return {"kind": "text", "value": str(value), "numeric": True}
    if isinstance(value, dict | list):
        return {"kind": "text", "value": json.dumps(value, sort_keys=True)}
    return {"kind": "text", "value": str(value)}


def runs_cell(job, column, summaries):
    """One cell of a runs row: {"column", "kind", "value", "numeric"}; the template
    formats by kind (status, text, tags, duration, steps, percent, time, number)."""
    cell = {"column": column, "numeric": False}
    if column == "status":
        return cell | {"kind": "status", "value": job.status, "label": job.get_status_display()}
    if column in ("model", "dataset", "host", "uid"):
        attr = {"model": "base_model"}.get(column, column)
        return cell | {"kind": "text", "value": getattr(job, attr) or None}
    if column == "tags":
        return cell | {"kind": "tags", "value": job.tags or []}
    if column == "duration":
        return cell | {"kind": "duration", "value": job.duration, "numeric": True}
    if column == "step":
        return cell | {
            "kind": "steps",
            "value": job.current_step,
            "total": job.total_steps,
            "numeric": True,
        }
    if column == "progress":
        return cell | {"kind": "percent", "value": job.progress, "numeric": True}
    if column in ("created", "started", "finished"):
        return cell | {"kind": "time", "value": getattr(job, f"{column}_at")}
    if column.startswith("config."):
        return cell | _config_cell((job.config or {}).get(column[len("config.") :]))
    key, summary = column.rsplit(".", 1)
    found = summaries.get((job.pk, key))
    value = None
    if found is not None:
        attr = summary_column(key, summary)
        value = getattr(found, attr)
    kind = "steps" if summary.endswith("step") or summary == "count" else "number"
    return cell | {"kind": kind, "value": value, "numeric": True}


def runs_row(job, columns, summaries):
    return {
        "uid": job.uid,
        "name": job.name,
        "status": job.status,
        "progress": job.progress,
        "cells": [runs_cell(job, column, summaries) for column in columns],
    }


def query_error_parts(query, position):
    """(before, at, after) of a query around the error `position`: the template underlines
    `at` (the rest of the word there, or a space past the end)."""
    if position is None:
        return None
    position = max(0, min(position, len(query)))
    end = position
    while end < len(query) and not query[end].isspace():
        end += 1
    if end == position:
        return query[:position], "\u00a0", ""
    return query[:position], query[position:end], query[end:]


# --- checkpoints ---------------------------------------------------------------------


def deployed_checkpoint(deployment, checkpoints):
    """The checkpoint a completed job's deployment names, or None: by its
    `checkpoint_step`, else by a path (`checkpoint`, `checkpoint_path`, `artifact_path`,
    `path`) equal to a checkpoint's path or ending in its folder name."""
    deployment = deployment or {}
    if not checkpoints:
        return None
    step = deployment.get("checkpoint_step")
    if step is not None:
        for checkpoint in checkpoints:
            if str(checkpoint["step"]) == str(step):
                return checkpoint
    for field in ("checkpoint", "checkpoint_path", "artifact_path", "path"):
        path = str(deployment.get(field) or "").rstrip("/")
        if not path:
            continue
        for checkpoint in checkpoints:
            stored = checkpoint["path"].rstrip("/")
            if path == stored or path.endswith("/" + stored.rsplit("/", 1)[-1]):
                return checkpoint
    return None
