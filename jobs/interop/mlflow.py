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

import base64
import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs import selectors, services
from jobs.accounts.models import DEFAULT_PROJECT_SLUG
from jobs.accounts.permissions import (
    is_token,
    may,
    readable_project_ids,
    token_may_write,
    user_may_read,
)
from jobs.core.validation import Conflict, InvalidInput
from jobs.interop.mlflow_search import SearchSyntaxError, parse_filter, parse_order
from jobs.models import Job, JobStatus, Project, Role

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


# --- experiments -------------------------------------------------------------------------


def experiments_create(caller, data):
    caller.require_write()
    name = required(data, "name")
    if Project.objects.filter(name=name).exists():
        raise MlflowError(f"Experiment '{name}' already exists.", "RESOURCE_ALREADY_EXISTS")
    if caller.token.projects.exists():
        raise MlflowError(
            "This token is limited to its projects and cannot create an experiment; create "
            f"the project '{name}' in Tuneboard and add it to the token, or use a token "
            "that names no project.",
            "PERMISSION_DENIED",
        )
    try:
        project = services.project_create(name=name, creator=caller.user)
    except InvalidInput as exc:
        raise MlflowError(invalid_input_message(exc.detail))
    return {"experiment_id": experiment_id_of(project.pk, default_project_pk())}


def experiments_get(caller, data):
    project = experiment_project(caller, required(data, "experiment_id"))
    return {"experiment": experiment_payload(project, default_project_pk())}


def experiment_by_name(caller, name):
    projects = caller.projects
    candidates = Project.objects.filter(name=name)
    if projects is not None:
        candidates = candidates.filter(pk__in=projects)
    return candidates.order_by("pk").first()


def experiments_get_by_name(caller, data):
    name = required(data, "experiment_name")
    project = experiment_by_name(caller, name)
    if project is None:
        raise MlflowError(
            f"Could not find experiment with name '{name}'", "RESOURCE_DOES_NOT_EXIST"
        )
    return {"experiment": experiment_payload(project, default_project_pk())}


def experiments_search(caller, data):
    view_type = str(data.get("view_type") or "ACTIVE_ONLY")
    max_results = integer(data.get("max_results"), "max_results", default=1000, minimum=1)
    offset = page_token_decode(data.get("page_token"))
    try:
        comparisons = parse_filter(data.get("filter"))
    except SearchSyntaxError as exc:
        raise MlflowError(f"Invalid filter: {exc}")
    projects = caller.projects
    candidates = Project.objects.all()
    if projects is not None:
        candidates = candidates.filter(pk__in=projects)
    default_id = default_project_pk()
    found = []
    if view_type in ("ACTIVE_ONLY", "ALL", "1", "3"):
        for project in candidates.order_by("pk"):
            values = {("attributes", "name"): project.name}
            if all(c.matches(values.get((c.entity, c.key))) for c in comparisons):
                found.append(experiment_payload(project, default_id))
    page = found[offset : offset + max_results]
    response = {"experiments": page}
    if offset + max_results < len(found):
        response["next_page_token"] = page_token_encode(offset + max_results)
    return response


def experiments_update(caller, data):
    project = experiment_project(caller, required(data, "experiment_id"), minimum=Role.ADMIN)
    caller.require_write()
    new_name = data.get("new_name")
    if new_name:
        if Project.objects.filter(name=new_name).exclude(pk=project.pk).exists():
            raise MlflowError(f"Experiment '{new_name}' already exists.", "RESOURCE_ALREADY_EXISTS")
        try:
            services.project_rename(project=project, name=new_name)
        except InvalidInput as exc:
            raise MlflowError(invalid_input_message(exc.detail))
    return {}


def experiments_set_tag(caller, data):
    """Accepted and not kept: Tuneboard's projects have no tags (docs/mlflow.md)."""
    experiment_project(caller, required(data, "experiment_id"), minimum=Role.EDITOR)
    caller.require_write()
    return {}


def experiments_not_supported(caller, data):
    raise MlflowError(
        "Tuneboard does not delete or restore projects through the MLflow API; manage "
        "projects in Tuneboard.",
        "NOT_IMPLEMENTED",
    )


# --- runs --------------------------------------------------------------------------------


def tag_pairs(raw, field):
    """[(key, value)] of MLflow `[{"key", "value"}]`, validated."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise MlflowError(f"{field} must be a list of {{key, value}} objects.")
    pairs = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise MlflowError(f"{field}[{index}] must be an object with key and value.")
        key, value = item.get("key"), item.get("value", "")
        if not isinstance(key, str) or not key.strip():
            raise MlflowError(f"{field}[{index}].key must be a non-empty string.")
        if len(key) > MAX_KEY_LENGTH:
            raise MlflowError(
                f"{field}[{index}].key '{key[:40]}…' is longer than {MAX_KEY_LENGTH} characters."
            )
        if value is None:
            value = ""
        if not isinstance(value, str):
            value = str(value)
        pairs.append((key, value))
    return pairs


def run_create(caller, data):
    caller.require_write()
    project = experiment_project(
        caller, data.get("experiment_id") or DEFAULT_EXPERIMENT_ID, minimum=Role.EDITOR
    )
    tags = dict(tag_pairs(data.get("tags"), "tags"))
    for key, value in tags.items():
        if len(value) > MAX_TAG_VALUE_LENGTH:
            raise MlflowError(f"Tag '{key}' is longer than {MAX_TAG_VALUE_LENGTH} characters.")
    run_id = uuid.uuid4().hex
    name = data.get("run_name") or tags.get(RUN_NAME_TAG) or f"run-{run_id[:8]}"
    tags[RUN_NAME_TAG] = name
    user_id = data.get("user_id") or tags.get(USER_TAG) or caller.user.get_username()
    start = moment_of(data.get("start_time"), "start_time") or timezone.now()
    tuneboard = tuneboard_tags(tags)
    if not token_may_write(caller.token, Job(uid=run_id, tags=tuneboard, project=project)):
        raise MlflowError("This token may not create runs with these tags.", "PERMISSION_DENIED")
    external = {SOURCE: {"tags": tags, "user_id": user_id, "lifecycle": "active", "inputs": []}}
    try:
        with transaction.atomic():
            job, _ = services.job_create(
                name=name,
                uid=run_id,
                tags=tuneboard,
                project=project,
                source=SOURCE,
                external=external,
            )
            job = services.job_status_update(job=job, status=JobStatus.RUNNING, at=start)
    except InvalidInput as exc:
        raise MlflowError(invalid_input_message(exc.detail))
    return {"run": run_payload(job, default_project_pk())}


def run_get(caller, data):
    job = run_job(caller, run_id_of(data))
    return {"run": run_payload(job, default_project_pk())}


def run_update(caller, data):
    job = run_job(caller, run_id_of(data), write=True)
    run_name = data.get("run_name")
    if run_name and run_name != job.name:

        def rename(job):
            job.name = run_name
            state = job.external.setdefault(SOURCE, {})
            state.setdefault("tags", {})[RUN_NAME_TAG] = run_name

        job = describe(job, rename)
    status = data.get("status")
    if status not in (None, ""):
        if status not in STATUS_TO_JOB:
            raise MlflowError(f"Invalid status {status!r}; one of {', '.join(STATUS_TO_JOB)}.")
        end = moment_of(data.get("end_time"), "end_time")
        target = STATUS_TO_JOB[status]
        error = None
        if target == JobStatus.FAILED:
            error = {"message": "The MLflow run ended with status FAILED.", "type": "MlflowRun"}
        if target != job.status:
            try:
                job = services.job_status_update(
                    job=job, status=target, at=end or timezone.now(), error=error
                )
            except Conflict as exc:
                raise MlflowError(exc.message, "INVALID_STATE")
            except InvalidInput as exc:
                raise MlflowError(invalid_input_message(exc.detail))
    return {"run_info": run_info(job, default_project_pk())}


def lifecycle_set(caller, data, stage):
    job = run_job(caller, run_id_of(data), write=True)

    def edit(job):
        job.external.setdefault(SOURCE, {})["lifecycle"] = stage

    describe(job, edit)
    return {}


def run_delete(caller, data):
    return lifecycle_set(caller, data, "deleted")


def run_restore(caller, data):
    return lifecycle_set(caller, data, "active")


def describe(job, edit):
    """`services.job_describe` with service errors in MLflow's shape."""

    def edit_external(job):
        job.external = dict(job.external or {})
        edit(job)

    try:
        return services.job_describe(job=job, edit=edit_external)
    except InvalidInput as exc:
        raise MlflowError(invalid_input_message(exc.detail))


def inferred_model_and_dataset(job):
    """Fill a blank model or dataset from well-known params, then logged datasets."""
    params = job.config or {}
    if not job.base_model:
        for key in MODEL_PARAMS:
            if isinstance(params.get(key), str) and params[key].strip():
                job.base_model = params[key].strip()[:200]
                break
    if not job.dataset:
        for key in DATASET_PARAMS:
            if isinstance(params.get(key), str) and params[key].strip():
                job.dataset = params[key].strip()[:200]
                break
    if not job.dataset:
        inputs = mlflow_state(job).get("inputs") or []
        names = [i.get("dataset", {}).get("name") for i in inputs if i.get("dataset")]
        training = [
            i.get("dataset", {}).get("name")
            for i in inputs
            if any(
                t.get("key") == "mlflow.data.context" and t.get("value") in ("train", "training")
                for t in i.get("tags") or []
            )
        ]
        for name in training + names:
            if name:
                job.dataset = str(name)[:200]
                break


def params_apply(job, params):
    """Add params to the job's config; MLflow refuses to change a logged value."""
    config = dict(job.config or {})
    for key, value in params:
        if len(value) > MAX_PARAM_VALUE_LENGTH:
            raise MlflowError(
                f"Param '{key}' has a value longer than {MAX_PARAM_VALUE_LENGTH} characters."
            )
        if key in config and param_text(config[key]) != value:
            raise MlflowError(
                "Changing param values is not allowed. Param with key="
                f"'{key}' was already logged with value='{param_text(config[key])}' for run "
                f"ID='{job.uid}'. Attempted logging new value '{value}'."
            )
        config[key] = value
    job.config = config


def tags_apply(job, tags, *, delete=()):
    state = job.external.setdefault(SOURCE, {})
    if "tags" in state:
        previous = dict(state["tags"])
    else:  # a job reported natively, tagged through the MLflow API
        previous = run_tags(job)
        previous.pop(RUN_NAME_TAG, None)
    current = dict(previous)
    for key, value in tags:
        if len(value) > MAX_TAG_VALUE_LENGTH:
            raise MlflowError(f"Tag '{key}' is longer than {MAX_TAG_VALUE_LENGTH} characters.")
        current[key] = value
        if key == RUN_NAME_TAG and value:
            job.name = value
    for key in delete:
        if key not in current:
            raise MlflowError(
                f"No tag with name: {key} in run with id {job.uid}", "RESOURCE_DOES_NOT_EXIST"
            )
        del current[key]
    state["tags"] = current
    job.tags = tuneboard_tags(current, previous, job.tags or [])


def metric_points(metrics):
    """MLflow metrics ({key, value, timestamp, step}) as Tuneboard points."""
    points = []
    for index, metric in enumerate(metrics):
        if not isinstance(metric, dict):
            raise MlflowError(f"metrics[{index}] must be an object.")
        key = metric.get("key")
        if not isinstance(key, str) or not key:
            raise MlflowError(f"metrics[{index}].key must be a non-empty string.")
        step = integer(metric.get("step"), f"metrics[{index}] ('{key}') step", default=0)
        timestamp = metric.get("timestamp")
        point = {"key": key, "step": step, "value": metric.get("value")}
        if timestamp not in (None, ""):
            point["time"] = integer(timestamp, f"metrics[{index}] ('{key}') timestamp") / 1000
        points.append(point)
    return points


def metrics_write(job, metrics):
    if not metrics:
        return
    points = metric_points(metrics)
    try:
        services.metrics_ingest(job=job, points=points)
    except InvalidInput as exc:
        detail = exc.detail
        if isinstance(detail, dict):
            detail = detail.get("points", detail)
        if isinstance(detail, dict) and all(str(k).isdigit() for k in detail):
            detail = {
                f"metrics[{index}] ('{points[int(index)]['key']}')": errors
                for index, errors in detail.items()
            }
        raise MlflowError(f"Invalid metrics: {invalid_input_message(detail)}")
    # The run's progress as the job page shows it: its newest step (and epoch, which the
    # Hugging Face Trainer and Lightning log as a metric). Read again here: ingest locked
    # the job row in this transaction, so batches logged at once (MLflow's async logging)
    # cannot move the step backwards.
    status, current = Job.objects.values_list("status", "current_step").get(pk=job.pk)
    if status != JobStatus.RUNNING:
        return
    newest = max(point["step"] for point in points)
    epochs = [p["value"] for p in points if p["key"] == "epoch"]
    epoch = epochs[-1] if epochs and isinstance(epochs[-1], (int, float)) else None
    if newest > current or (epoch is not None and epoch >= 0):
        services.job_status_update(
            job=job,
            step=max(newest, current),
            epoch=epoch if epoch is not None and epoch >= 0 else None,
        )


def batch_write(caller, run_id, *, metrics=(), params=(), tags=(), delete_tags=()):
    """Params, tags and metrics of one run stored together or not at all."""
    job = run_job(caller, run_id, write=True)
    if mlflow_state(job).get("lifecycle") == "deleted":
        raise MlflowError(
            f"The run {run_id} must be in the 'active' state. Current state is deleted.",
            "INVALID_PARAMETER_VALUE",
        )
    with transaction.atomic():
        if params or tags or delete_tags:

            def edit(job):
                if params:
                    params_apply(job, params)
                if tags or delete_tags:
                    tags_apply(job, tags, delete=delete_tags)
                inferred_model_and_dataset(job)

            job = describe(job, edit)
        metrics_write(job, list(metrics))
    return {}


def run_log_batch(caller, data):
    metrics = data.get("metrics") or []
    if not isinstance(metrics, list):
        raise MlflowError("metrics must be a list.")
    params = tag_pairs(data.get("params"), "params")
    tags = tag_pairs(data.get("tags"), "tags")
    for name, items, limit in (
        ("metrics", metrics, MAX_BATCH_METRICS),
        ("params", params, MAX_BATCH_PARAMS),
        ("tags", tags, MAX_BATCH_TAGS),
    ):
        if len(items) > limit:
            raise MlflowError(
                f"A batch logging request can contain at most {limit} {name}. Got {len(items)} "
                f"{name}. Please split up {name} across multiple requests and try again."
            )
    return batch_write(caller, run_id_of(data), metrics=metrics, params=params, tags=tags)


def run_log_metric(caller, data):
    metric = {k: data.get(k) for k in ("key", "value", "timestamp", "step")}
    required(data, "key")
    if data.get("value") in (None, ""):
        raise MlflowError("Missing value for required parameter 'value'.")
    return batch_write(caller, run_id_of(data), metrics=[metric])


def run_log_param(caller, data):
    key = required(data, "key")
    value = data.get("value")
    params = tag_pairs([{"key": key, "value": "" if value is None else value}], "param")
    return batch_write(caller, run_id_of(data), params=params)


def run_set_tag(caller, data):
    key = required(data, "key")
    tags = tag_pairs([{"key": key, "value": data.get("value")}], "tag")
    return batch_write(caller, run_id_of(data), tags=tags)


def run_delete_tag(caller, data):
    return batch_write(caller, run_id_of(data), delete_tags=[required(data, "key")])


def run_log_inputs(caller, data):
    """Datasets a run read (`mlflow.log_input`); the first one names the job's dataset
    unless a param already did. Logged models as inputs are accepted and not kept."""
    job = run_job(caller, run_id_of(data), write=True)
    datasets = data.get("datasets") or []
    if not isinstance(datasets, list):
        raise MlflowError("datasets must be a list.")
    for index, item in enumerate(datasets):
        dataset = item.get("dataset") if isinstance(item, dict) else None
        if not isinstance(dataset, dict) or not dataset.get("name"):
            raise MlflowError(f"datasets[{index}].dataset must be an object with a name.")

    def edit(job):
        state = job.external.setdefault(SOURCE, {})
        inputs = list(state.get("inputs") or [])
        known = {(i["dataset"].get("name"), i["dataset"].get("digest")) for i in inputs}
        for item in datasets:
            dataset = item["dataset"]
            if (dataset.get("name"), dataset.get("digest")) not in known:
                inputs.append({"tags": item.get("tags") or [], "dataset": dataset})
                known.add((dataset.get("name"), dataset.get("digest")))
        state["inputs"] = inputs
        inferred_model_and_dataset(job)

    if datasets:
        describe(job, edit)
    return {}


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
