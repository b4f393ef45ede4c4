"""The MLflow tracking API over HTTP: shapes, errors in MLflow's form, scopes, search.

The real `mlflow` client against a live server is tests/interop/test_mlflow_client.py;
these requests are the JSON the client sends (mlflow/store/tracking/rest_store.py).
"""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from jobs import services
from jobs.models import Job, MetricPoint, Project
from tests.factories import make_job, make_token, make_user

pytestmark = pytest.mark.django_db

API = "/api/2.0/mlflow"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def client_for(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def post(client, path, body):
    return client.post(f"{API}/{path}", body, format="json")


def create_run(client, experiment_id="0", **fields):
    response = post(
        client,
        "runs/create",
        {"experiment_id": experiment_id, "start_time": 1_700_000_000_000, **fields},
    )
    assert response.status_code == 200, response.json()
    return response.json()["run"]


def test_a_run_created_in_the_default_experiment_is_a_running_job(token_client):
    run = create_run(token_client, run_name="sweep-1", tags=[{"key": "team", "value": "nlp"}])
    info = run["info"]
    job = Job.objects.get(uid=info["run_id"])
    assert len(info["run_id"]) == 32 and info["run_uuid"] == info["run_id"]
    assert info["status"] == "RUNNING" and info["experiment_id"] == "0"
    assert info["start_time"] == 1_700_000_000_000
    assert job.name == "sweep-1" and job.status == "running" and job.source == "mlflow"
    assert job.tags == ["team:nlp"]
    assert {"key": "mlflow.runName", "value": "sweep-1"} in run["data"]["tags"]


def test_log_batch_stores_params_as_config_tags_and_metric_points(token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    response = post(
        token_client,
        "runs/log-batch",
        {
            "run_id": run_id,
            "params": [
                {"key": "learning_rate", "value": "5e-05"},
                {"key": "model_name_or_path", "value": "meta-llama/Llama-3.2-1B"},
            ],
            "tags": [{"key": "lora", "value": "true"}],
            "metrics": [
                {"key": "loss", "value": 2.5, "timestamp": 1_700_000_001_000, "step": 1},
                {"key": "loss", "value": "NaN", "timestamp": 1_700_000_002_000, "step": 2},
            ],
        },
    )
    assert response.status_code == 200 and response.json() == {}
    job = Job.objects.get(uid=run_id)
    assert job.config == {"learning_rate": "5e-05", "model_name_or_path": "meta-llama/Llama-3.2-1B"}
    assert job.base_model == "meta-llama/Llama-3.2-1B"
    assert job.tags == ["lora"] and job.current_step == 2
    rows = list(MetricPoint.objects.filter(job=job).order_by("step").values_list("step", "value"))
    assert rows == [(1, 2.5), (2, None)]
    history = token_client.get(
        f"{API}/metrics/get-history", {"run_id": run_id, "metric_key": "loss"}
    ).json()
    assert history["metrics"] == [
        {"key": "loss", "value": 2.5, "timestamp": 1_700_000_001_000, "step": 1},
        {"key": "loss", "value": "NaN", "timestamp": 1_700_000_002_000, "step": 2},
    ]


def test_a_param_cannot_change_its_value_and_nothing_of_the_batch_is_kept(token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    post(token_client, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    response = post(
        token_client,
        "runs/log-batch",
        {
            "run_id": run_id,
            "params": [{"key": "lr", "value": "0.2"}],
            "metrics": [{"key": "loss", "value": 1.0, "timestamp": 1, "step": 0}],
        },
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Changing param values is not allowed" in response.json()["message"]
    assert Job.objects.get(uid=run_id).config == {"lr": "0.1"}
    assert not MetricPoint.objects.filter(job__uid=run_id).exists()


def test_a_bad_metric_is_named_and_the_batch_is_refused(token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    response = post(
        token_client,
        "runs/log-batch",
        {
            "run_id": run_id,
            "metrics": [
                {"key": "loss", "value": 1.0, "timestamp": 1, "step": 0},
                {"key": "loss", "value": "high", "timestamp": 1, "step": 1},
            ],
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "metrics[1] ('loss')" in body["message"] and "value" in body["message"]
    assert not MetricPoint.objects.filter(job__uid=run_id).exists()


def test_batches_over_the_limits_are_refused_with_mlflows_message(token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    params = [{"key": f"p{i}", "value": "1"} for i in range(1001)]
    response = post(token_client, "runs/log-batch", {"run_id": run_id, "params": params})
    assert response.status_code == 400
    assert "at most 1000 params" in response.json()["message"]


def test_an_unknown_run_is_resource_does_not_exist(token_client):
    response = token_client.get(f"{API}/runs/get", {"run_id": "0" * 32})
    assert response.status_code == 404
    assert response.json() == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": f"Run with id={'0' * 32} not found",
    }


def test_an_invalid_token_is_unauthenticated_in_mlflows_shape(db):
    response = client_for("tb_not-a-token").get(f"{API}/experiments/get", {"experiment_id": "0"})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_writes_without_a_token_are_unauthenticated(session_client):
    response = post(session_client, "runs/create", {"experiment_id": "0"})
    assert response.status_code in (401, 403)
    assert response.json()["error_code"] in ("UNAUTHENTICATED", "PERMISSION_DENIED")


def test_runs_outside_the_tokens_projects_answer_as_unknown(token_client):
    other_owner = make_user("bob")
    project = services.project_create(name="Secret", creator=other_owner)
    job = make_job(uid="a" * 32, project=project)
    response = token_client.get(f"{API}/runs/get", {"run_id": job.uid})
    assert response.status_code == 404
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    experiment = token_client.get(f"{API}/experiments/get", {"experiment_id": str(project.pk)})
    assert experiment.status_code == 404


def test_a_viewer_token_may_read_runs_but_not_write_them(user, token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    _, raw = make_token(user, role="viewer")
    viewer = client_for(raw)
    assert viewer.get(f"{API}/runs/get", {"run_id": run_id}).status_code == 200
    response = post(viewer, "runs/log-metric", {"run_id": run_id, "key": "x", "value": 1})
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_an_experiment_is_a_project_found_by_name(token_client):
    created = post(token_client, "experiments/create", {"name": "llama-sft"})
    experiment_id = created.json()["experiment_id"]
    project = Project.objects.get(name="llama-sft")
    assert experiment_id == str(project.pk)
    found = token_client.get(f"{API}/experiments/get-by-name", {"experiment_name": "llama-sft"})
    assert found.json()["experiment"]["experiment_id"] == experiment_id
    again = post(token_client, "experiments/create", {"name": "llama-sft"})
    assert again.status_code == 400 and again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    missing = token_client.get(f"{API}/experiments/get-by-name", {"experiment_name": "nope"})
    assert missing.status_code == 404
    run = create_run(token_client, experiment_id=experiment_id)
    assert Job.objects.get(uid=run["info"]["run_id"]).project == project


def test_a_token_limited_to_projects_cannot_create_experiments(user):
    services.project_create(name="Team", creator=user)
    _, raw = make_token(user, projects=["team"])
    response = post(client_for(raw), "experiments/create", {"name": "elsewhere"})
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert not Project.objects.filter(name="elsewhere").exists()


def test_ending_a_run_maps_mlflow_statuses_and_end_times(token_client):
    finished = create_run(token_client)["info"]["run_id"]
    failed = create_run(token_client)["info"]["run_id"]
    killed = create_run(token_client)["info"]["run_id"]
    for run_id, status in ((finished, "FINISHED"), (failed, "FAILED"), (killed, "KILLED")):
        response = post(
            token_client,
            "runs/update",
            {"run_id": run_id, "status": status, "end_time": 1_700_000_100_000},
        )
        assert response.json()["run_info"]["status"] == status
        assert response.json()["run_info"]["end_time"] == 1_700_000_100_000
    assert Job.objects.get(uid=finished).status == "completed"
    assert Job.objects.get(uid=failed).status == "failed"
    assert Job.objects.get(uid=killed).status == "cancelled"
    reopen = post(token_client, "runs/update", {"run_id": finished, "status": "RUNNING"})
    assert reopen.status_code == 400 and reopen.json()["error_code"] == "INVALID_STATE"


def test_search_runs_reads_the_common_filters(token_client):
    runs = {}
    for name, lr, loss, team in (("a", "0.1", 0.9, "nlp"), ("b", "0.01", 0.3, "cv")):
        run_id = create_run(token_client, run_name=name)["info"]["run_id"]
        post(
            token_client,
            "runs/log-batch",
            {
                "run_id": run_id,
                "params": [{"key": "lr", "value": lr}],
                "tags": [{"key": "team", "value": team}],
                "metrics": [{"key": "train/loss", "value": loss, "timestamp": 1, "step": 1}],
            },
        )
        runs[name] = run_id
    post(token_client, "runs/update", {"run_id": runs["b"], "status": "FAILED"})

    def names(filter_string, **extra):
        body = {"experiment_ids": ["0"], "filter": filter_string, **extra}
        response = post(token_client, "runs/search", body)
        assert response.status_code == 200, response.json()
        return [run["info"]["run_name"] for run in response.json().get("runs", [])]

    assert names("params.lr = '0.1'") == ["a"]
    assert names("metrics.`train/loss` < 0.5") == ["b"]
    assert names("tags.team = 'cv' AND attributes.status = 'FAILED'") == ["b"]
    assert names("attributes.status IN ('FINISHED', 'RUNNING')") == ["a"]
    assert names("attributes.run_name LIKE 'a%'") == ["a"]
    assert names("", order_by=["metrics.`train/loss` ASC"]) == ["b", "a"]
    assert names("", order_by=["metrics.`train/loss` DESC"]) == ["a", "b"]
    bad = post(token_client, "runs/search", {"experiment_ids": ["0"], "filter": "params.lr ~ 1"})
    assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "operator" in bad.json()["message"]


def test_search_runs_pages_with_a_token(token_client):
    for index in range(5):
        create_run(token_client, run_name=f"r{index}")
    seen, token = [], None
    while True:
        body = {"experiment_ids": ["0"], "max_results": 2}
        if token:
            body["page_token"] = token
        page = post(token_client, "runs/search", body).json()
        seen += [run["info"]["run_name"] for run in page["runs"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert sorted(seen) == ["r0", "r1", "r2", "r3", "r4"]


def test_deleted_runs_leave_active_searches_and_come_back_restored(token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    post(token_client, "runs/delete", {"run_id": run_id})
    active = post(token_client, "runs/search", {"experiment_ids": ["0"]}).json()
    assert active.get("runs", []) == []
    deleted = post(
        token_client, "runs/search", {"experiment_ids": ["0"], "run_view_type": "DELETED_ONLY"}
    ).json()
    assert [r["info"]["lifecycle_stage"] for r in deleted["runs"]] == ["deleted"]
    post(token_client, "runs/restore", {"run_id": run_id})
    assert len(post(token_client, "runs/search", {"experiment_ids": ["0"]}).json()["runs"]) == 1


def test_metric_history_pages_through_every_point(token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    metrics = [
        {"key": "loss", "value": i / 10, "timestamp": 1000 + i, "step": i} for i in range(25)
    ]
    post(token_client, "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    steps, token = [], None
    while True:
        query = {"run_id": run_id, "metric_key": "loss", "max_results": 10}
        if token:
            query["page_token"] = token
        page = token_client.get(f"{API}/metrics/get-history", query).json()
        steps += [m["step"] for m in page["metrics"]]
        token = page.get("next_page_token")
        if not token:
            break
    assert steps == list(range(25))


def test_bulk_interval_samples_each_run_within_the_steps(token_client):
    first = create_run(token_client)["info"]["run_id"]
    second = create_run(token_client)["info"]["run_id"]
    for run_id in (first, second):
        metrics = [{"key": "loss", "value": 1.0, "timestamp": 5, "step": i} for i in range(100)]
        post(token_client, "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    response = token_client.get(
        f"{API}/metrics/get-history-bulk-interval",
        {
            "run_ids": [first, second],
            "metric_key": "loss",
            "start_step": 10,
            "end_step": 50,
            "max_results": 5,
        },
    )
    metrics = response.json()["metrics"]
    for run_id in (first, second):
        steps = [m["step"] for m in metrics if m["run_id"] == run_id]
        assert steps == [10, 20, 30, 40, 50]


def test_tags_can_be_set_and_deleted(token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    post(token_client, "runs/set-tag", {"run_id": run_id, "key": "stage", "value": "sft"})
    assert Job.objects.get(uid=run_id).tags == ["stage:sft"]
    post(token_client, "runs/delete-tag", {"run_id": run_id, "key": "stage"})
    job = Job.objects.get(uid=run_id)
    assert job.tags == [] and "stage" not in job.external["mlflow"]["tags"]
    missing = post(token_client, "runs/delete-tag", {"run_id": run_id, "key": "stage"})
    assert missing.status_code == 404


def test_logged_datasets_name_the_jobs_dataset(token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    dataset = {
        "name": "tatsu-lab/alpaca",
        "digest": "abc123",
        "source_type": "hugging_face",
        "source": '{"path": "tatsu-lab/alpaca"}',
    }
    context = [{"key": "mlflow.data.context", "value": "train"}]
    body = {"run_id": run_id, "datasets": [{"tags": context, "dataset": dataset}]}
    assert post(token_client, "runs/log-inputs", body).status_code == 200
    post(token_client, "runs/log-inputs", body)  # the same dataset again: kept once
    job = Job.objects.get(uid=run_id)
    assert job.dataset == "tatsu-lab/alpaca"
    run = token_client.get(f"{API}/runs/get", {"run_id": run_id}).json()["run"]
    assert [i["dataset"]["name"] for i in run["inputs"]["dataset_inputs"]] == ["tatsu-lab/alpaca"]


def test_artifact_endpoints_say_artifacts_are_not_stored(token_client):
    for path in ("/api/2.0/mlflow-artifacts/artifacts/x/model.pkl", f"{API}/artifacts/list"):
        response = token_client.get(path)
        assert response.status_code == 501
        assert response.json()["error_code"] == "NOT_IMPLEMENTED"
        assert "does not store MLflow artifacts" in response.json()["message"]


def test_unknown_endpoints_answer_endpoint_not_found(token_client):
    response = token_client.get(f"{API}/registered-models/search")
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_the_ajax_prefix_serves_the_same_api(token_client):
    run_id = create_run(token_client)["info"]["run_id"]
    response = token_client.get("/ajax-api/2.0/mlflow/runs/get", {"run_id": run_id})
    assert response.json()["run"]["info"]["run_id"] == run_id


def test_native_jobs_read_as_runs(token_client):
    job = make_job(uid="native-1", config={"lr": 0.001, "lora": {"r": 8}}, tags=["sft"])
    run = token_client.get(f"{API}/runs/get", {"run_id": job.uid}).json()["run"]
    params = {p["key"]: p["value"] for p in run["data"]["params"]}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert params == {"lr": "0.001", "lora": '{"r": 8}'}
    assert tags["sft"] == "true" and run["info"]["status"] == "SCHEDULED"
