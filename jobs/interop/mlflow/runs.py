"""Writing MLflow runs: create, update, delete, and logging metrics, params and tags."""

import uuid

from django.db import transaction
from django.utils import timezone

from jobs import services
from jobs.accounts.permissions import (
    token_may_write,
)
from jobs.core.validation import Conflict, InvalidInput
from jobs.models import Job, JobStatus, Role

from .common import (
    DATASET_PARAMS,
    DEFAULT_EXPERIMENT_ID,
    MAX_BATCH_METRICS,
    MAX_BATCH_PARAMS,
    MAX_BATCH_TAGS,
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    MODEL_PARAMS,
    RUN_NAME_TAG,
    SOURCE,
    STATUS_TO_JOB,
    USER_TAG,
    MlflowError,
    default_project_pk,
    experiment_project,
    integer,
    invalid_input_message,
    mlflow_state,
    moment_of,
    param_text,
    required,
    run_id_of,
    run_info,
    run_job,
    run_payload,
    run_tags,
    tuneboard_tags,
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
