"""The real `mlflow` client (mlflow-skinny) reporting to a live Tuneboard, no mocks.

MLflow's client talks to the server over HTTP exactly as it talks to its own tracking
server; these tests read back through the same client and compare with what was written.
"""

import math
import os
import subprocess
import sys

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException, RestException
from requests.exceptions import HTTPError

from tests.support.server import ROOT

POINTS = 5_000


@pytest.fixture
def client(mlflow_env):
    mlflow.set_tracking_uri(mlflow_env["MLFLOW_TRACKING_URI"])
    yield MlflowClient(tracking_uri=mlflow_env["MLFLOW_TRACKING_URI"])
    if mlflow.active_run():
        mlflow.end_run()


def test_mlflow_reads_back_exactly_what_it_wrote(client, tuneboard):
    experiment_id = client.create_experiment("compat-roundtrip")
    mlflow.set_experiment(experiment_id=experiment_id)
    params = {"learning_rate": "5e-05", "model_name_or_path": "gpt2", "lora_r": "16"}
    tags = {"team": "nlp", "method": "lora"}
    base = 1_700_000_000_000
    values = [1.0 / (step + 1) for step in range(POINTS)]
    values[100], values[200] = math.nan, math.inf  # real training events, kept as they are
    with mlflow.start_run(run_name="roundtrip") as run:
        run_id = run.info.run_id
        metrics = [Metric("train/loss", v, base + s * 7, s) for s, v in enumerate(values)]
        for start in range(0, POINTS, 1000):  # MLflow's own batch limit
            client.log_batch(
                run_id,
                metrics=metrics[start : start + 1000],
                params=[Param(k, v) for k, v in params.items()] if start == 0 else [],
                tags=[RunTag(k, v) for k, v in tags.items()] if start == 0 else [],
            )
        mlflow.end_run("FAILED")

    history = client.get_metric_history(run_id, "train/loss")
    assert len(history) == POINTS
    for metric, (step, value) in zip(history, enumerate(values), strict=True):
        assert metric.step == step and metric.timestamp == base + step * 7
        assert metric.value == value or (math.isnan(value) and math.isnan(metric.value))

    found = client.search_runs(
        [experiment_id],
        "params.model_name_or_path = 'gpt2' AND tags.team = 'nlp' AND attributes.status = 'FAILED'",
    )
    assert [r.info.run_id for r in found] == [run_id]
    stored = client.get_run(run_id)
    assert stored.info.status == "FAILED" and stored.info.run_name == "roundtrip"
    assert stored.data.params == params
    assert {k: stored.data.tags[k] for k in tags} == tags
    assert stored.data.metrics == {"train/loss": values[-1]}

    row = tuneboard.job_row(run_id)
    assert row["status"] == "failed"
    assert tuneboard.query("SELECT count(*) FROM jobs_metricpoint WHERE job_id = ?", row["id"]) == [
        (POINTS,)
    ]
    detail = tuneboard.get(f"/api/jobs/{run_id}")
    assert detail["model"] == "gpt2" and detail["status"] == "failed"


def test_the_clients_usual_exceptions_come_back(client):
    with pytest.raises(RestException) as unknown:
        client.get_run("f" * 32)
    assert unknown.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert client.get_experiment_by_name("no such experiment") is None

    run = client.create_run("0", run_name="strict")
    client.log_param(run.info.run_id, "lr", "0.1")
    with pytest.raises(MlflowException) as changed:
        client.log_param(run.info.run_id, "lr", "0.2")
    assert changed.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in changed.value.message
    # MLflow's artifact repository raises requests' HTTPError with the server's answer.
    with pytest.raises(HTTPError) as artifacts:
        client.log_text(run.info.run_id, "hello", "notes.txt")
    assert "does not store MLflow artifacts" in str(artifacts.value)


def test_a_wrong_token_is_refused(client, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tb_wrong")
    with pytest.raises(RestException) as refused:
        client.get_experiment("0")
    assert refused.value.error_code == "UNAUTHENTICATED"


def test_an_unmodified_mlflow_script_reports_to_tuneboard(mlflow_env, tuneboard):
    env = {**os.environ, **mlflow_env, "QUICKSTART_STEPS": "20", "QUICKSTART_DELAY": "0"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "mlflow" / "quickstart.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    run_id = result.stdout.split("run_id=")[1].split()[0]
    job = tuneboard.get(f"/api/jobs/{run_id}")
    assert job["status"] == "completed" and job["source"] == "mlflow"
    assert job["model"] == "Qwen/Qwen2.5-0.5B" and job["dataset"] == "tatsu-lab/alpaca"
    assert set(job["tags"]) == {"method:lora", "team:nlp"}
    assert job["latest_metrics"]["train/loss"]["step"] == 20
    assert job["config"]["lora_r"] == "16"
