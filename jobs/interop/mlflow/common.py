"""What every MLflow operation shares: limits, status mapping, errors, the caller,
conversions between MLflow's fields and Tuneboard's, and lookups with permissions.
"""

import base64
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime

from jobs import selectors
from jobs.accounts.models import DEFAULT_PROJECT_SLUG
from jobs.accounts.permissions import (
    is_token,
    may,
    readable_project_ids,
    token_may_write,
    user_may_read,
)
from jobs.models import JobStatus, Project, Role

SOURCE = "mlflow"
DEFAULT_EXPERIMENT_ID = "0"
SYSTEM_TAG_PREFIX = "mlflow."
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"

# MLflow's own limits are 1,000 metrics, 100 params and 100 tags per batch; wider here.
MAX_BATCH_METRICS = 10_000
MAX_BATCH_PARAMS = 1_000
MAX_BATCH_TAGS = 1_000
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6_000
MAX_TAG_VALUE_LENGTH = 8_000
SEARCH_MAX_RESULTS = 50_000
SEARCH_DEFAULT_RESULTS = 1_000
HISTORY_DEFAULT_RESULTS = 25_000
BULK_INTERVAL_MAX_RUNS = 100
BULK_INTERVAL_DEFAULT_RESULTS = 320
BULK_INTERVAL_MAX_RESULTS = 1_000

STATUS_TO_JOB = {
    "RUNNING": JobStatus.RUNNING,
    "SCHEDULED": JobStatus.QUEUED,
    "FINISHED": JobStatus.COMPLETED,
    "FAILED": JobStatus.FAILED,
    "KILLED": JobStatus.CANCELLED,
}
JOB_TO_STATUS = {job_status: status for status, job_status in STATUS_TO_JOB.items()}

# Where a run's model and dataset come from when a script logs them as params, in order of
# preference (the Hugging Face Trainer logs its model config's `_name_or_path`).
MODEL_PARAMS = (
    "model_name_or_path",
    "_name_or_path",
    "base_model",
    "model_name",
    "model_id",
    "pretrained_model_name_or_path",
    "model",
)
DATASET_PARAMS = ("dataset_name", "dataset", "dataset_name_or_path", "data_path", "train_file")

# The HTTP status of each MLflow error code, as MLflow's server sends them; the client
# retries 429 and 5xx, so errors a retry cannot fix are 4xx (or 501).
ERROR_STATUS = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "INVALID_STATE": 400,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "NOT_IMPLEMENTED": 501,
}


class MlflowError(Exception):
    """An error the MLflow client understands: `{"error_code", "message"}` and a status."""

    def __init__(self, message, code="INVALID_PARAMETER_VALUE"):
        super().__init__(message)
        self.message = message
        self.code = code

    @property
    def status(self):
        return ERROR_STATUS.get(self.code, 400)

    def payload(self):
        return {"error_code": self.code, "message": self.message}


def invalid_input_message(detail, prefix=""):
    """`InvalidInput`'s `{"field": ["why"], "points": {"0": {...}}}` as one sentence."""
    if isinstance(detail, dict):
        parts = []
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            parts.append(invalid_input_message(value, name))
        return "; ".join(parts)
    if isinstance(detail, list):
        return (
            f"{prefix}: {' '.join(str(item) for item in detail)}"
            if prefix
            else " ".join(str(item) for item in detail)
        )
    return f"{prefix}: {detail}" if prefix else str(detail)


@dataclass
class Caller:
    """Who calls: a signed-in user (token None) or an API token and its user."""

    user: object
    token: object = None

    @property
    def projects(self):
        """Ids of the projects whose experiments and runs the caller may read (None: all)."""
        return readable_project_ids(self.user, self.token)

    def require_read(self):
        if not user_may_read(self.user) and self.token is None:
            raise MlflowError(
                "Send an API token: MLFLOW_TRACKING_TOKEN=tb_… (Authorization: Bearer).",
                "UNAUTHENTICATED",
            )

    def require_write(self):
        if not is_token(self.token):
            raise MlflowError(
                "Writes need an API token: set MLFLOW_TRACKING_TOKEN to a Tuneboard token.",
                "UNAUTHENTICATED",
            )


# --- conversions -------------------------------------------------------------------------


def millis(moment):
    return None if moment is None else round(moment.timestamp() * 1000)


def moment_of(ms, field):
    """An aware datetime from MLflow's milliseconds since the epoch (None stays None)."""
    if ms in (None, ""):
        return None
    try:
        value = int(ms)
    except (TypeError, ValueError):
        raise MlflowError(f"{field} must be milliseconds since the epoch, not {ms!r}.")
    if not 0 <= value < 32503680000000:
        raise MlflowError(f"{field} {value} is out of range (milliseconds since the epoch).")
    return datetime.fromtimestamp(value / 1000, tz=UTC)


def float_out(value):
    """A metric value for the client's JSON parser: NaN and ±inf as protobuf's strings."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    if isinstance(value, str):
        return value  # "NaN", "Infinity", "-Infinity" from `latest_metrics`
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def integer(raw, field, *, default=None, minimum=None, maximum=None):
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise MlflowError(f"{field} must be an integer, not {raw!r}.")
    if minimum is not None and value < minimum:
        raise MlflowError(f"{field} must be at least {minimum}, got {value}.")
    if maximum is not None and value > maximum:
        raise MlflowError(f"{field} must be at most {maximum}, got {value}.")
    return value


def required(data, field):
    value = data.get(field)
    if value in (None, ""):
        raise MlflowError(f"Missing value for required parameter '{field}'.")
    return value


def page_token_decode(token):
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(token.encode()))["offset"])
    except (ValueError, KeyError, TypeError):
        raise MlflowError(f"Invalid page token {token!r}.")


def page_token_encode(offset):
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def mlflow_state(job):
    """The MLflow-only part of a job: {"tags": {…}, "lifecycle": …, "inputs": [...]}."""
    return (job.external or {}).get(SOURCE) or {}


def tuneboard_tag(key, value):
    """The Tuneboard tag an MLflow tag shows as, or None (system tags, too long, commas)."""
    if key.startswith(SYSTEM_TAG_PREFIX):
        return None
    tag = key if value in ("", "true", "True") else f"{key}:{value}"
    tag = tag.strip()
    if not tag or len(tag) > 64 or "," in tag or "\x00" in tag:
        return None
    return tag


def tuneboard_tags(mlflow_tags, previous_mlflow_tags=None, current=()):
    """The job's Tuneboard tags after its MLflow tags changed: its other tags kept, those
    derived from the old MLflow tags replaced by those derived from the new ones."""
    old = {tuneboard_tag(k, v) for k, v in (previous_mlflow_tags or {}).items()} - {None}
    tags = [tag for tag in current if tag not in old]
    for key, value in mlflow_tags.items():
        tag = tuneboard_tag(key, value)
        if tag and tag not in tags:
            tags.append(tag)
    return tags[:32]


def run_tags(job):
    """A job's tags as MLflow shows them: its MLflow tags, else its Tuneboard tags."""
    state = mlflow_state(job)
    if "tags" in state:
        tags = dict(state["tags"])
    else:
        tags = {}
        for tag in job.tags or []:
            key, _, value = tag.partition(":")
            tags[key] = value or "true"
    tags[RUN_NAME_TAG] = job.name
    return tags


def param_text(value):
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def run_params(job):
    return {str(key): param_text(value) for key, value in (job.config or {}).items()}


def experiment_id_of(project_id, default_id):
    return DEFAULT_EXPERIMENT_ID if project_id == default_id else str(project_id)


def default_project_pk():
    return Project.objects.filter(slug=DEFAULT_PROJECT_SLUG).values_list("pk", flat=True).first()


def run_info(job, default_id):
    state = mlflow_state(job)
    experiment_id = experiment_id_of(job.project_id, default_id)
    info = {
        "run_id": job.uid,
        "run_uuid": job.uid,
        "run_name": job.name,
        "experiment_id": experiment_id,
        "user_id": state.get("user_id") or run_tags(job).get(USER_TAG, ""),
        "status": JOB_TO_STATUS[job.status],
        "start_time": millis(job.started_at or job.created_at),
        "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{job.uid}/artifacts",
        "lifecycle_stage": state.get("lifecycle", "active"),
    }
    if job.finished_at:
        info["end_time"] = millis(job.finished_at)
    return info


def latest_metric_list(job):
    metrics = []
    for key, point in (job.latest_metrics or {}).items():
        at = point.get("time")
        timestamp = millis(datetime.fromisoformat(at)) if at else 0
        metrics.append(
            {
                "key": key,
                "value": float_out(point.get("value")),
                "timestamp": timestamp,
                "step": point.get("step") or 0,
            }
        )
    return metrics


def run_payload(job, default_id):
    return {
        "info": run_info(job, default_id),
        "data": {
            "metrics": latest_metric_list(job),
            "params": [{"key": k, "value": v} for k, v in run_params(job).items()],
            "tags": [{"key": k, "value": v} for k, v in run_tags(job).items()],
        },
        "inputs": {"dataset_inputs": mlflow_state(job).get("inputs", [])},
    }


def experiment_payload(project, default_id):
    experiment_id = experiment_id_of(project.pk, default_id)
    created = millis(project.created_at)
    return {
        "experiment_id": experiment_id,
        "name": project.name,
        "artifact_location": f"mlflow-artifacts:/{experiment_id}",
        "lifecycle_stage": "active",
        "creation_time": created,
        "last_update_time": created,
        "tags": [],
    }


# --- lookups -----------------------------------------------------------------------------


def experiment_project(caller, experiment_id, *, minimum=Role.VIEWER):
    """The project of an experiment id the caller may act in with `minimum`; else the
    error MLflow gives for an unknown experiment (other projects do not leak)."""
    default_id = default_project_pk()
    text = str(experiment_id if experiment_id is not None else "").strip()
    if text == DEFAULT_EXPERIMENT_ID:
        project = Project.objects.filter(pk=default_id).first()
    elif text.isdigit():
        project = Project.objects.filter(pk=int(text)).first()
    else:
        project = None
    projects = caller.projects
    if project is None or (projects is not None and project.pk not in projects):
        raise MlflowError(
            f"Could not find experiment with ID {text or '(none)'}.", "RESOURCE_DOES_NOT_EXIST"
        )
    if minimum != Role.VIEWER and not may(caller.user, project.pk, minimum, caller.token):
        raise MlflowError(
            f"This token may not write to experiment {text} ({project.name}); it needs the "
            f"{minimum} role there.",
            "PERMISSION_DENIED",
        )
    return project


def run_job(caller, run_id, *, write=False):
    """The job of a run id the caller may read (and, with `write`, write)."""
    if not run_id:
        raise MlflowError("Missing value for required parameter 'run_id'.")
    job = selectors.jobs_in(caller.projects).filter(uid=str(run_id)).first()
    if job is None:
        raise MlflowError(f"Run with id={run_id} not found", "RESOURCE_DOES_NOT_EXIST")
    if write:
        caller.require_write()
        if not token_may_write(caller.token, job):
            raise MlflowError(f"This token may not write to run {run_id}.", "PERMISSION_DENIED")
    return job


def run_id_of(data):
    return data.get("run_id") or data.get("run_uuid")
