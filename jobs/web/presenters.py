"""View models for the pages: the dicts templates and boot JSON read, and their formatting.

Presenters shape what the views read through `jobs.selectors`; they never query the
database themselves (a job's stages come prefetched by the selector that loaded it).
"""

import json
import math
from urllib.parse import quote

from jobs.core.values import isoformat
from jobs.events import eta_seconds, job_card, stage_payload
from jobs.models import CURRENT_STATUSES, JobStatus, StageName
from jobs.selectors import job_mean_step_rate

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
# Latest values in the compare page's final-metrics table, when a compared job logged them.
COMPARE_KEYS = (
    (LOSS_KEY, "Train loss"),
    (VAL_LOSS_KEY, "Val loss"),
    ("val/accuracy", "Accuracy"),
    ("val/f1", "F1"),
)


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


def completed_summary(job, best):
    """Duration, final loss, best val loss (`best`: `{value, step}` or None), throughput."""
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


def other_metric_keys(job):
    """Keys without a fixed widget, by name: each gets a small chart of its own."""
    return sorted(k for k in (job.latest_metrics or {}) if k not in FIXED_CHART_KEYS)


# --- metric sections and the summary card ---------------------------------------------

# Key prefixes (before the first slash) that share a section; any other prefix gets a
# section of its own, and keys without one go to "other".
SECTION_OF_PREFIX = {"train": "train", "val": "val", "eval": "val", "system": "system"}
SECTION_LABELS = {"train": "Train", "val": "Validation", "system": "System", "other": "Other"}
# Charts whose series the page's first request reads, with the loss keys: the first
# charts of the first sections, which are the ones in view when the page opens.
PREFETCH_CHART_KEYS = 12
FIRST_READ_POINTS = 1000


def metric_section(key):
    """The section of a key's chart: `train`, `val` (val/ and eval/), `system`, the key's
    own prefix, or `other` for keys without one. static/js/job/sections.js mirrors it."""
    prefix, slash, _ = key.partition("/")
    if not slash or not prefix:
        return "other"
    return SECTION_OF_PREFIX.get(prefix, prefix)


def section_rank(section):
    """Sections in page order: train, validation, other prefixes by name, system, other."""
    fixed = {"train": 0, "val": 1, "system": 3, "other": 4}
    return (fixed.get(section, 2), section)


def summary_marked(config):
    """Keys the job marks as summaries: `config["summary"]`, a dict (keys, with their
    values) or a list of keys. Returns {key: value or None}."""
    marked = (config or {}).get("summary")
    if isinstance(marked, dict):
        return {str(key): value for key, value in marked.items()}
    if isinstance(marked, list | tuple):
        return {key: None for key in marked if isinstance(key, str)}
    return {}


def is_summary(key, count, marked):
    """The summary rule, in one place: a key shows as a Summary row, not as a chart, when
    the job marks it as a summary or its series holds exactly one point. The loss keys
    always draw on the loss chart. `isSummary` in static/js/job/sections.js mirrors it."""
    if key in FIXED_CHART_KEYS:
        return False
    return key in marked or count == 1


def metric_layout(job, counts):
    """The job page's metric area: `summary` rows `{key, value, step}` and `sections`
    `{id, label, charts: [{key, value}]}` in page order. `counts`: points per key."""
    latest = job.latest_metrics or {}
    marked = summary_marked(job.config)
    summary = []
    by_section = {}
    for key in other_metric_keys(job):
        point = latest.get(key) or {}
        value = number_or_none(point.get("value"))
        if is_summary(key, counts.get(key), marked):
            summary.append({"key": key, "value": value, "step": point.get("step")})
        else:
            by_section.setdefault(metric_section(key), []).append({"key": key, "value": value})
    for key, value in marked.items():
        # A summary the job's config carries but never reported as a metric.
        reported = key in latest or key in FIXED_CHART_KEYS
        if not reported and isinstance(value, int | float | str) and not isinstance(value, bool):
            summary.append({"key": key, "value": number_or_none(value), "step": None})
    summary.sort(key=lambda row: row["key"])
    sections = [
        {
            "id": section,
            "label": SECTION_LABELS.get(section, section),
            "charts": by_section[section],
        }
        for section in sorted(by_section, key=section_rank)
    ]
    return {"summary": summary, "sections": sections, "marked": sorted(marked)}


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


def job_error(job):
    """The job's error with the label of the stage it failed in (set on `job.error`)."""
    error = job.error
    if error and error.get("stage"):
        error["stage_label"] = StageName(error["stage"]).label
    return error


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


def shared_metric_keys(jobs):
    """Keys every job logged: the loss keys first, then the rest by name."""
    shared = set(jobs[0].latest_metrics or {})
    for job in jobs[1:]:
        shared &= set(job.latest_metrics or {})
    fixed = [key for key in FIXED_CHART_KEYS if key in shared]
    return fixed + sorted(shared - set(fixed))


def compare_final_rows(jobs, best):
    """Per job: duration, steps, the latest value of each standard key, best val loss.

    `best` maps a job's pk to its best val loss point `{value, step}` (or None).
    """
    rows = []
    for job in jobs:
        latest = job.latest_metrics or {}
        point = best.get(job.pk) or {}
        rows.append(
            {
                "job": job,
                "duration": job.duration,
                "steps": job.current_step,
                "values": [
                    number_or_none((latest.get(key) or {}).get("value")) for key, _ in COMPARE_KEYS
                ],
                "best_val_loss": point.get("value"),
                "best_val_step": point.get("step"),
            }
        )
    return rows


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
