"""What a job shows where, as pure functions over jobs already read: the metric sections
and the summary rule, the config rows and the config diff, the completed summary, the
compare page's final-metric rows, the compared uids.

Shared by the pages (`jobs.web.presenters` re-exports these) and the reports
(`jobs.reports`), which must lay a job out exactly as its page does. No queries here:
callers pass what they read through the selectors.
"""

import json

from jobs.models import StageName

COMPARE_MIN_JOBS = 2
COMPARE_MAX_JOBS = 8

LOSS_KEY = "train/loss"

VAL_LOSS_KEY = "val/loss"

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


# Key prefixes (before the first slash) that share a section; any other prefix gets a
# section of its own, and keys without one go to "other".
SECTION_OF_PREFIX = {"train": "train", "val": "val", "eval": "val", "system": "system"}
SECTION_LABELS = {"train": "Train", "val": "Validation", "system": "System", "other": "Other"}


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


def job_error(job):
    """The job's error with the label of the stage it failed in (set on `job.error`)."""
    error = job.error
    if error and error.get("stage"):
        error["stage_label"] = StageName(error["stage"]).label
    return error


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


NO_VALUE = "(none)"


def compare_groupings(jobs, diff_rows):
    """What the compare page can group its jobs by: `{name: {uid: [group label, ...]}}`
    for `model`, `tag` and each config key whose value differs between the jobs
    (`config.<key>`, by key name: PostgreSQL's jsonb keeps no insertion order), in that
    order. As in the runs table's grouping, a job with several tags is in each tag's
    group; a job without the value is in the "(none)" group."""
    groupings = {
        "model": {job.uid: [job.base_model or NO_VALUE] for job in jobs},
        "tag": {job.uid: sorted(set(job.tags or [])) or [NO_VALUE] for job in jobs},
    }
    for row in sorted(diff_rows, key=lambda row: row["key"]):
        if row["differs"]:
            groupings[f"config.{row['key']}"] = {
                job.uid: [NO_VALUE if cell is None else str(cell)]
                for job, cell in zip(jobs, row["cells"], strict=True)
            }
    return groupings


def shared_metric_keys(jobs):
    """Keys at least two of the jobs logged (so a queued job in the selection, with no
    metrics yet, does not empty the charts): the loss keys first, then the rest by name."""
    seen = {}
    for job in jobs:
        for key in job.latest_metrics or {}:
            seen[key] = seen.get(key, 0) + 1
    shared = {key for key, count in seen.items() if count >= min(2, len(jobs))}
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


def compare_uids(raw):
    """The uids of `?jobs=a,b,c`: stripped, blanks dropped, duplicates dropped in order."""
    uids = []
    for part in (raw or "").split(","):
        uid = part.strip()
        if uid and uid not in uids:
            uids.append(uid)
    return uids
