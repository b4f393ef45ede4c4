"""Runs of an MLflow tracking store (a `mlruns/` directory or an MLflow server), read with
the `mlflow` client (the optional `mlflow-skinny` extra).

A run becomes a job as through the MLflow API (jobs/interop/mlflow/): its run id is
the uid, params the config, every point of every metric's history a metric point,
tags kept with their values (user tags also as Tuneboard tags), status and times.
"""

import os
from pathlib import Path

from jobs.interop.mlflow import (
    RUN_NAME_TAG,
    STATUS_TO_JOB,
    tuneboard_tags,
)

from .base import AlreadyImported, BadSource, ImportedRun, MissingExtra, imported_before

KIND = "mlflow"


def client_for(tracking_uri):
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise MissingExtra(
            "Importing MLflow runs needs the mlflow client: pip install mlflow-skinny."
        ) from None
    uri = str(tracking_uri)
    if "://" not in uri and Path(uri).exists():
        uri = Path(uri).resolve().as_uri()
    if uri.startswith("file:"):
        # Reading an existing file store is what the importer is for; MLflow 3 asks
        # for this opt-in before it opens one.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return MlflowClient(tracking_uri=uri)


def read_runs(tracking_uri, *, experiments=(), model="", dataset="", tags=()):
    """`ImportedRun`s of every active run of the named experiments (all when none are
    named); a run or experiment that cannot be read is yielded as `BadSource`."""
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    client = client_for(tracking_uri)
    try:
        if experiments:
            found = []
            for name in experiments:
                experiment = client.get_experiment_by_name(name)
                if experiment is None:
                    yield BadSource(f"{tracking_uri}: no experiment named {name!r}")
                else:
                    found.append(experiment)
        else:
            found = client.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    except MlflowException as exc:
        raise BadSource(f"{tracking_uri}: {exc.message}")
    for experiment in found:
        page_token = None
        while True:
            page = client.search_runs(
                [experiment.experiment_id],
                run_view_type=ViewType.ACTIVE_ONLY,
                max_results=1000,
                page_token=page_token,
            )
            for run in page:
                if imported_before(run.info.run_id, KIND):
                    yield AlreadyImported(run.info.run_id, run.info.run_name or run.info.run_id)
                    continue
                try:
                    yield run_read(client, run, experiment, model=model, dataset=dataset, tags=tags)
                except (MlflowException, OSError, ValueError) as exc:
                    yield BadSource(f"MLflow run {run.info.run_id}: cannot be read ({exc})")
            page_token = page.token
            if not page_token:
                break


def run_read(client, run, experiment, *, model="", dataset="", tags=()):
    info, data = run.info, run.data
    points = []
    for key in sorted(data.metrics):
        for metric in client.get_metric_history(info.run_id, key):
            points.append(
                {
                    "key": key,
                    "step": metric.step,
                    "value": metric.value,
                    "time": metric.timestamp / 1000,
                }
            )
    mlflow_tags = dict(data.tags)
    name = info.run_name or mlflow_tags.get(RUN_NAME_TAG) or info.run_id
    mlflow_tags[RUN_NAME_TAG] = name
    inputs = []
    for item in getattr(run.inputs, "dataset_inputs", None) or []:
        inputs.append(
            {
                "tags": [{"key": t.key, "value": t.value} for t in item.tags],
                "dataset": {"name": item.dataset.name, "digest": item.dataset.digest},
            }
        )
    imported = ImportedRun(
        kind=KIND,
        origin=f"{experiment.name}/{info.run_id}",
        uid=info.run_id,
        name=name,
        model=model,
        dataset=dataset or (inputs[0]["dataset"]["name"] if inputs else ""),
        tags=list(tags) + tuneboard_tags(mlflow_tags),
        config=dict(data.params),
        points=points,
        status=STATUS_TO_JOB.get(info.status, "completed"),
        started_at=info.start_time / 1000 if info.start_time else None,
        finished_at=info.end_time / 1000 if info.end_time else None,
        error="The MLflow run ended with status FAILED." if info.status == "FAILED" else "",
        external={
            "mlflow": {
                "tags": mlflow_tags,
                "user_id": info.user_id or "",
                "lifecycle": "active",
                "inputs": inputs,
                "experiment": experiment.name,
            }
        },
    )
    imported.fill_model_and_dataset()
    return imported
