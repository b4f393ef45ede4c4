"""Reading MLflow runs: search, metric histories."""

import math

from django.conf import settings

from jobs import selectors
from jobs.interop.mlflow_search import SearchSyntaxError, parse_filter, parse_order
from jobs.models import Job

from .common import (
    BULK_INTERVAL_DEFAULT_RESULTS,
    BULK_INTERVAL_MAX_RESULTS,
    BULK_INTERVAL_MAX_RUNS,
    HISTORY_DEFAULT_RESULTS,
    SEARCH_DEFAULT_RESULTS,
    SEARCH_MAX_RESULTS,
    MlflowError,
    default_project_pk,
    experiment_project,
    float_out,
    integer,
    millis,
    mlflow_state,
    page_token_decode,
    page_token_encode,
    required,
    run_id_of,
    run_info,
    run_job,
    run_params,
    run_payload,
    run_tags,
)

# --- reading runs ------------------------------------------------------------------------

NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "created", "Created"})


def run_values(job, default_id):
    """Lookup of (entity, key) → value of a job, for filtering and ordering."""
    info = run_info(job, default_id)
    values = {("attributes", name): value for name, value in info.items()}
    values[("attributes", "created")] = info["start_time"]
    values[("attributes", "Created")] = info["start_time"]
    for key, point in (job.latest_metrics or {}).items():
        value = point.get("value")
        values[("metrics", key)] = float(value) if value is not None else math.nan
    for key, value in run_params(job).items():
        values[("params", key)] = value
    for key, value in run_tags(job).items():
        values[("tags", key)] = value
    return values


def runs_search(caller, data):
    experiment_ids = data.get("experiment_ids") or []
    if isinstance(experiment_ids, str):
        experiment_ids = [experiment_ids]
    projects = [experiment_project(caller, experiment_id) for experiment_id in experiment_ids]
    max_results = integer(
        data.get("max_results"),
        "max_results",
        default=SEARCH_DEFAULT_RESULTS,
        minimum=1,
        maximum=SEARCH_MAX_RESULTS,
    )
    offset = page_token_decode(data.get("page_token"))
    view = str(data.get("run_view_type") or "ACTIVE_ONLY")
    order_by = data.get("order_by") or []
    if isinstance(order_by, str):
        order_by = [order_by]
    try:
        comparisons = parse_filter(data.get("filter"), numeric_attributes=NUMERIC_ATTRIBUTES)
        orders = parse_order(order_by, numeric_attributes=NUMERIC_ATTRIBUTES)
    except SearchSyntaxError as exc:
        raise MlflowError(f"Invalid search: {exc}")
    default_id = default_project_pk()
    jobs = Job.objects.filter(
        project__in=[p.pk for p in projects], deleted_at__isnull=True
    ).order_by("-created_at", "-id")
    found = []
    for job in jobs.iterator(chunk_size=500):
        stage = mlflow_state(job).get("lifecycle", "active")
        if (view in ("ACTIVE_ONLY", "1") and stage != "active") or (
            view in ("DELETED_ONLY", "2") and stage != "deleted"
        ):
            continue
        values = run_values(job, default_id)
        if all(c.matches(values.get((c.entity, c.key))) for c in comparisons):
            found.append((job, values))
    for entity, key, descending in reversed(orders or [("attributes", "start_time", True)]):
        present = [item for item in found if item[1].get((entity, key)) is not None]
        missing = [item for item in found if item[1].get((entity, key)) is None]
        present.sort(key=lambda item: item[1][(entity, key)], reverse=descending)
        found = present + missing  # runs without the value come last, either way
    page = found[offset : offset + max_results]
    response = {"runs": [run_payload(job, default_id) for job, _ in page]}
    if offset + max_results < len(found):
        response["next_page_token"] = page_token_encode(offset + max_results)
    return response


def metric_json(key, step, value, wall_time, run_id=None):
    metric = {
        "key": key,
        "value": float_out(value),
        "timestamp": millis(wall_time),
        "step": step,
    }
    if run_id is not None:
        metric["run_id"] = run_id
    return metric


def metrics_get_history(caller, data):
    job = run_job(caller, run_id_of(data))
    key = required(data, "metric_key")
    limit = integer(
        data.get("max_results"), "max_results", default=HISTORY_DEFAULT_RESULTS, minimum=1
    )
    limit = min(limit, settings.TUNEBOARD_MAX_POINTS_PER_BATCH * 10)
    after = data.get("page_token")
    after_step = page_token_decode(after) if after else None
    rows = selectors.metric_points_page(job=job, key=key, after_step=after_step, limit=limit + 1)
    response = {"metrics": [metric_json(key, *row) for row in rows[:limit]]}
    if len(rows) > limit:
        response["next_page_token"] = page_token_encode(rows[limit - 1][0])
    return response


def metrics_get_history_bulk_interval(caller, data):
    run_ids = data.get("run_ids") or []
    if isinstance(run_ids, str):
        run_ids = [run_ids]
    if not run_ids:
        raise MlflowError("Missing value for required parameter 'run_ids'.")
    if len(run_ids) > BULK_INTERVAL_MAX_RUNS:
        raise MlflowError(f"At most {BULK_INTERVAL_MAX_RUNS} run ids, got {len(run_ids)}.")
    key = required(data, "metric_key")
    start = integer(data.get("start_step"), "start_step")
    end = integer(data.get("end_step"), "end_step")
    if (start is None) != (end is None):
        raise MlflowError("Give both start_step and end_step, or neither.")
    if start is not None and start > end:
        raise MlflowError(f"end_step ({end}) must be at least start_step ({start}).")
    max_results = integer(
        data.get("max_results"),
        "max_results",
        default=BULK_INTERVAL_DEFAULT_RESULTS,
        minimum=1,
        maximum=BULK_INTERVAL_MAX_RESULTS,
    )
    metrics = []
    for run_id in run_ids:
        job = run_job(caller, run_id)
        rows = selectors.metric_steps_sampled(
            job=job, key=key, start_step=start, end_step=end, max_points=max_results
        )
        metrics.extend(metric_json(key, *row, run_id=job.uid) for row in rows)
    return {"metrics": metrics}


def artifacts_not_stored(caller, data):
    raise MlflowError(
        "Tuneboard does not store MLflow artifacts (models, files): log metrics, params and "
        "tags to Tuneboard, and artifacts to your own store.",
        "NOT_IMPLEMENTED",
    )


# The operations by path under /api/2.0/mlflow/ and the HTTP method MLflow's client uses.
