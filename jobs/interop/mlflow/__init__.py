"""The MLflow tracking API answered from Tuneboard's jobs (docs/mlflow.md).

Each operation takes the caller (user and token) and the request's fields as MLflow's
client sends them (the JSON form of its protobuf messages), and returns the response's
fields; an error is an `MlflowError` carrying MLflow's error code, so the client raises
its usual exceptions. The HTTP side is `jobs/api/views/mlflow.py`.

The mapping: an experiment is a project (the default project is experiment "0"); a run
is a job whose uid is the run id; params are the job's config (strings, as MLflow keeps
them); metrics are metric points (MLflow's millisecond timestamp becomes the wall time);
tags are kept with their values in `job.external["mlflow"]["tags"]`, the user's tags
(not `mlflow.*`) also as Tuneboard tags (`key`, or `key:value`). Every write goes through
the services, as the native API's do.
"""

from .common import (
    RUN_NAME_TAG,
    STATUS_TO_JOB,
    Caller,
    MlflowError,
    tuneboard_tags,
)
from .experiments import (
    experiments_create,
    experiments_get,
    experiments_get_by_name,
    experiments_not_supported,
    experiments_search,
    experiments_set_tag,
    experiments_update,
)
from .reading import (
    artifacts_not_stored,
    metrics_get_history,
    metrics_get_history_bulk_interval,
    runs_search,
)
from .runs import (
    run_create,
    run_delete,
    run_delete_tag,
    run_get,
    run_log_batch,
    run_log_inputs,
    run_log_metric,
    run_log_param,
    run_restore,
    run_set_tag,
    run_update,
)

OPERATIONS = {
    ("experiments/create", "POST"): experiments_create,
    ("experiments/get", "GET"): experiments_get,
    ("experiments/get-by-name", "GET"): experiments_get_by_name,
    ("experiments/search", "POST"): experiments_search,
    ("experiments/search", "GET"): experiments_search,
    ("experiments/update", "POST"): experiments_update,
    ("experiments/set-experiment-tag", "POST"): experiments_set_tag,
    ("experiments/delete", "POST"): experiments_not_supported,
    ("experiments/restore", "POST"): experiments_not_supported,
    ("runs/create", "POST"): run_create,
    ("runs/get", "GET"): run_get,
    ("runs/update", "POST"): run_update,
    ("runs/search", "POST"): runs_search,
    ("runs/delete", "POST"): run_delete,
    ("runs/restore", "POST"): run_restore,
    ("runs/log-batch", "POST"): run_log_batch,
    ("runs/log-metric", "POST"): run_log_metric,
    ("runs/log-parameter", "POST"): run_log_param,
    ("runs/set-tag", "POST"): run_set_tag,
    ("runs/delete-tag", "POST"): run_delete_tag,
    ("runs/log-inputs", "POST"): run_log_inputs,
    ("runs/log-model", "POST"): artifacts_not_stored,
    ("metrics/get-history", "GET"): metrics_get_history,
    ("metrics/get-history-bulk-interval", "GET"): metrics_get_history_bulk_interval,
    ("artifacts/list", "GET"): artifacts_not_stored,
}
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def operation_call(caller, path, method, data):
    """Answer one MLflow API call: the response's fields, or raise `MlflowError`."""
    operation = OPERATIONS.get((path.strip("/"), method))
    if operation is None:
        if path.startswith(("artifacts", "logged-models")):
            operation = artifacts_not_stored
        else:
            known = any(name == path.strip("/") for name, _ in OPERATIONS)
            raise MlflowError(
                f"{method} is not allowed for /api/2.0/mlflow/{path}."
                if known
                else f"Tuneboard serves MLflow's tracking API (experiments, runs, metrics, "
                f"params, tags); /api/2.0/mlflow/{path} is not part of it.",
                "ENDPOINT_NOT_FOUND",
            )
    caller.require_read()
    return operation(caller, data)


__all__ = [
    "OPERATIONS",
    "RUN_NAME_TAG",
    "STATUS_TO_JOB",
    "WRITE_METHODS",
    "Caller",
    "MlflowError",
    "artifacts_not_stored",
    "operation_call",
    "tuneboard_tags",
]
