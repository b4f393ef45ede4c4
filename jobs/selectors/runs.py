"""Reads of the runs table: one page of jobs for a query and a sort, the metric summaries
its columns show, the column keys its menu offers, and per-group statistics.

A page costs a fixed number of queries whatever the number of jobs: count, page, one
read of the page's summaries; the column menu reads a bounded sample of jobs.
"""

import math

from jobs.models import MetricSummary
from jobs.query import column_resolve, query_apply, sort_apply, summary_column

from .jobs import jobs_in

RUNS_PAGE_SIZE = 50
# Jobs (newest of the query) whose configs and summaries list the column menu's keys.
COLUMN_SAMPLE = 200
COLUMN_KEYS_MAX = 300
# Rows a "Group by" reads to group: the query's first ones in the chosen sort.
GROUP_ROWS_MAX = 2000

JOB_COLUMNS = (
    "status",
    "model",
    "dataset",
    "tags",
    "duration",
    "step",
    "progress",
    "created",
    "started",
    "finished",
    "host",
    "uid",
)
DEFAULT_COLUMNS = ("status", "model", "dataset", "tags", "step", "duration", "created")
METRIC_SUMMARIES = ("last", "min", "max")
# The fields a runs row shows; config is read for config columns only.
_ROW_FIELDS = (
    "id",
    "uid",
    "name",
    "project_id",
    "status",
    "base_model",
    "dataset",
    "tags",
    "progress",
    "current_step",
    "total_steps",
    "host",
    "created_at",
    "started_at",
    "finished_at",
)


def runs_columns_clean(names):
    """The valid, distinct column names of `names` in order (unknown ones dropped: a
    shared URL with a typo still opens); `name` is always shown first, so not listed."""
    out = []
    for name in names:
        name = name.strip()
        if not name or name == "name" or name in out:
            continue
        if name in JOB_COLUMNS or name.startswith("config.") or is_metric_column(name):
            out.append(name)
    return out


def is_metric_column(name):
    """Whether a column name is a metric summary (`val/loss.min`)."""
    try:
        return column_resolve(name).kind == "metric"
    except ValueError:
        return False


def runs_queryset(*, projects, query, sort):
    """The jobs of `projects` matching `query` in `sort` order (newest first by default);
    raises `QuerySyntaxError` (`InvalidInput`) for a bad query or sort."""
    jobs = query_apply(jobs_in(projects), query)
    return sort_apply(jobs, sort) if sort else jobs.order_by("-created_at", "-id")


def runs_page(*, projects, query, sort, columns, page=1, page_size=RUNS_PAGE_SIZE):
    """(total, jobs, summaries) of one page: `summaries` is {(job_id, key): MetricSummary}
    for the metric keys of `columns`."""
    jobs = runs_queryset(projects=projects, query=query, sort=sort)
    wants_config = any(c.startswith("config.") for c in columns)
    fields = (*_ROW_FIELDS, "config") if wants_config else _ROW_FIELDS
    total = jobs.count()
    start = (max(1, page) - 1) * page_size
    rows = list(jobs.only(*fields)[start : start + page_size])
    return total, rows, runs_summaries(rows, columns)


def runs_summaries(rows, columns):
    keys = {column_resolve(c).target for c in columns if is_metric_column(c)}
    if not keys or not rows:
        return {}
    found = MetricSummary.objects.filter(job_id__in=[j.pk for j in rows], key__in=keys)
    return {(s.job_id, s.key): s for s in found}


def runs_column_keys(*, projects, query):
    """(config keys, metric keys) the Columns menu offers: those of the newest
    `COLUMN_SAMPLE` jobs the query matches (a bad query: of the newest jobs), sorted and
    at most `COLUMN_KEYS_MAX` each."""
    try:
        jobs = query_apply(jobs_in(projects), query)
        sample = list(
            jobs.order_by("-created_at", "-id").values_list("id", "config")[:COLUMN_SAMPLE]
        )
    except ValueError:
        sample = list(
            jobs_in(projects)
            .order_by("-created_at", "-id")
            .values_list("id", "config")[:COLUMN_SAMPLE]
        )
    config_keys = set()
    for _, config in sample:
        if isinstance(config, dict):
            config_keys.update(config)
    metric_keys = (
        MetricSummary.objects.filter(job_id__in=[pk for pk, _ in sample])
        .order_by("key")
        .values_list("key", flat=True)
        .distinct()[:COLUMN_KEYS_MAX]
    )
    return sorted(config_keys)[:COLUMN_KEYS_MAX], list(metric_keys)


def runs_groups(*, projects, query, sort, group_by, metrics):
    """Groups of the query's jobs by the value of `group_by` (a config key, model,
    dataset, status or tag), each with its count and, per metric column of `metrics`,
    the mean, standard deviation, min and max over the group's jobs that have it.

    Computed in Python over at most `GROUP_ROWS_MAX` of the query's jobs (their ids,
    configs and the summaries of the chosen keys: three bounded reads), so a tag — a job
    in several groups — and mixed config types group as a reader expects. Returns
    (groups, truncated) with groups largest first.
    """
    jobs = runs_queryset(projects=projects, query=query, sort=sort)
    total = jobs.count()
    rows = list(
        jobs.values_list("id", "uid", "config", "base_model", "dataset", "status", "tags")[
            :GROUP_ROWS_MAX
        ]
    )
    summaries = {}
    metric_columns = [m for m in metrics if is_metric_column(m)]
    if metric_columns and rows:
        keys = {column_resolve(m).target for m in metric_columns}
        for s in MetricSummary.objects.filter(job_id__in=[r[0] for r in rows], key__in=keys):
            summaries[s.job_id, s.key] = s
    groups = {}
    for pk, uid, config, model, dataset, status, tags in rows:
        if group_by.startswith("config."):
            value = (config or {}).get(group_by[len("config.") :])
            labels = [_group_label(value)]
        elif group_by in ("tag", "tags"):
            labels = list(tags) or ["(no tag)"]
        else:
            value = {"model": model, "dataset": dataset, "status": status}.get(group_by)
            labels = [value or "(none)"]
        for label in labels:
            group = groups.setdefault(label, {"value": label, "count": 0, "uids": [], "ids": []})
            group["count"] += 1
            group["uids"].append(uid)
            group["ids"].append(pk)
    out = []
    for group in groups.values():
        stats = {}
        for column in metric_columns:
            parsed = column_resolve(column)
            attr = summary_column(parsed.target, parsed.summary)
            values = []
            for pk in group["ids"]:
                s = summaries.get((pk, parsed.target))
                v = getattr(s, attr) if s is not None else None
                if v is not None and math.isfinite(v):
                    values.append(float(v))
            stats[column] = _stats(values)
        out.append({**group, "stats": stats})
    out.sort(key=lambda g: (-g["count"], str(g["value"])))
    return out, total > len(rows)


def _group_label(value):
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(value)
    return str(value) if not isinstance(value, (dict, list)) else repr(value)


def _stats(values):
    if not values:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    n = len(values)
    mean = sum(values) / n
    # The sample standard deviation (n - 1), as across seeds; 0 for a single job.
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return {"n": n, "mean": mean, "std": std, "min": min(values), "max": max(values)}
