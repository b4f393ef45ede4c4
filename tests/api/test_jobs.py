"""Job lists, detail, statistics and creation: /api/jobs, /current, /past, /statistics, /{uid}."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import services
from jobs.models import Job, MetricPoint, Stage
from tests.factories import add_samples, ingest_points, jobs_bulk, make_job, make_token, sample

pytestmark = pytest.mark.django_db


def uids(response):
    return [card["uid"] for card in response.json()["results"]]


# --- lists -------------------------------------------------------------------------------


def test_job_list_returns_cards_newest_first_with_a_page_count(token_client):
    make_job(uid="older")
    make_job(uid="newer", status="running")
    response = token_client.get("/api/jobs")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and uids(response) == ["newer", "older"]
    card = body["results"][0]
    assert card["status"] == "running" and card["stage"] is None
    assert card["url"] == "/job/newer"


@pytest.mark.parametrize("count", [10, 200])
def test_job_list_costs_the_same_queries_for_10_and_200_jobs(session_client, count):
    jobs_bulk(count)
    with CaptureQueriesContext(connection) as queries:
        response = session_client.get("/api/jobs?page_size=200")
    assert len(response.json()["results"]) == count
    # session + user, the user's project roles, count, page, stages: the same whatever
    # the number of jobs.
    assert len(queries.captured_queries) == 6


def test_job_list_pages_are_bounded(token_client):
    jobs_bulk(260)
    first = token_client.get("/api/jobs").json()
    assert len(first["results"]) == 50 and first["count"] == 260
    big = token_client.get("/api/jobs?page_size=1000").json()
    assert len(big["results"]) == 200
    last = token_client.get("/api/jobs?page_size=200&page=2").json()
    assert len(last["results"]) == 60 and last["next"] is None


def test_job_list_filters_by_status_model_dataset_tag_and_search(token_client):
    make_job(uid="a", model="llama-3-8b", dataset="alpaca", tags=["lora", "8bit"])
    make_job(uid="b", model="gemma-2b", dataset="samsum", tags=["lora-xl"], status="running")
    make_job(uid="c", model="llama-3-8b", dataset="oasst", status="failed")
    assert uids(token_client.get("/api/jobs?status=running")) == ["b"]
    assert set(uids(token_client.get("/api/jobs?status=running&status=failed"))) == {"b", "c"}
    assert set(uids(token_client.get("/api/jobs?model=llama-3-8b"))) == {"a", "c"}
    assert uids(token_client.get("/api/jobs?dataset=samsum")) == ["b"]
    assert uids(token_client.get("/api/jobs?tag=lora")) == ["a"]
    assert uids(token_client.get("/api/jobs?q=OASST")) == ["c"]
    assert set(uids(token_client.get("/api/jobs?q=llama"))) == {"a", "c"}


def test_job_list_orders_by_a_chosen_field(token_client):
    make_job(uid="zeta", name="Zeta")
    make_job(uid="alpha", name="Alpha")
    make_job(uid="mid", name="Mid")
    assert uids(token_client.get("/api/jobs?ordering=name")) == ["alpha", "mid", "zeta"]
    assert uids(token_client.get("/api/jobs?ordering=-name")) == ["zeta", "mid", "alpha"]


def test_job_list_rejects_unknown_filter_values(token_client):
    bad_status = token_client.get("/api/jobs?status=exploded")
    assert bad_status.status_code == 400 and "status" in bad_status.json()
    bad_order = token_client.get("/api/jobs?ordering=secret")
    assert bad_order.status_code == 400 and "ordering" in bad_order.json()


def test_current_lists_running_then_queued_in_queue_order(token_client):
    make_job(uid="q1")
    make_job(uid="r1", status="running")
    make_job(uid="q2")
    make_job(uid="done", status="completed")
    assert uids(token_client.get("/api/jobs/current")) == ["r1", "q1", "q2"]
    assert token_client.get("/api/jobs/current").json()["results"][1]["queue_position"] == 1


def test_past_lists_finished_jobs_latest_first(token_client):
    make_job(uid="ok", status="completed")
    make_job(uid="oom", status="failed")
    make_job(uid="stop", status="cancelled")
    make_job(uid="live", status="running")
    assert uids(token_client.get("/api/jobs/past")) == ["stop", "oom", "ok"]
    assert uids(token_client.get("/api/jobs/past?status=failed")) == ["oom"]


def test_lists_need_a_session_or_a_token(api_client):
    for url in ("/api/jobs", "/api/jobs/current", "/api/jobs/past", "/api/jobs/statistics"):
        assert api_client.get(url).status_code == 401


# --- detail ------------------------------------------------------------------------------


def test_job_detail_has_stages_metrics_config_and_deployment(token_client):
    job = make_job(uid="done", status="running", config={"lr": 2e-4, "num_gpus": 2})
    ingest_points(job, 3)
    services.job_status_update(job=job, status="completed")
    Job.objects.filter(pk=job.pk).update(deployment={"artifact_path": "/models/done"})
    body = token_client.get("/api/jobs/done").json()
    assert [s["name"] for s in body["stages"]] == [
        "dataset_loading",
        "tokenization",
        "training",
        "validation",
        "save_model",
    ]
    assert body["config"] == {"lr": 2e-4, "num_gpus": 2}
    assert body["latest_metrics"]["train/loss"]["step"] == 2
    assert body["metric_keys"] == ["train/loss"]
    assert body["deployment"] == {"artifact_path": "/models/done"}
    assert body["resources"] is None and body["step_rate"] is None


def test_running_job_detail_has_resources_step_rate_and_eta(token_client):
    job = make_job(uid="live", status="running", total_steps=1000, step=100)
    start = timezone.now() - timedelta(seconds=30)
    services.metrics_ingest(
        job=job,
        points=[
            {
                "key": "train/loss",
                "step": 100 + 10 * i,
                "value": 1.0,
                "time": start + timedelta(seconds=i),
            }
            for i in range(21)
        ],
    )
    services.job_status_update(job=job, step=300)
    add_samples("gpu-box-1", [sample(cpu_percent=55.0)], job=job)
    body = token_client.get("/api/jobs/live").json()
    assert body["step_rate"] == pytest.approx(10.0)
    assert body["eta_seconds"] == pytest.approx(70.0)
    assert body["resources"]["cpu_percent"] == 55.0
    assert body["resources"]["gpus"][0]["util"] == 90.0


def test_running_job_detail_falls_back_to_its_host_samples(token_client):
    make_job(uid="live", status="running", host="gpu-box-2")
    add_samples("gpu-box-2", [sample(cpu_percent=12.0)])
    assert token_client.get("/api/jobs/live").json()["resources"]["cpu_percent"] == 12.0


def test_failed_job_detail_names_the_error(token_client):
    make_job(uid="oom", status="failed", error={"message": "CUDA out of memory", "step": 7})
    error = token_client.get("/api/jobs/oom").json()["error"]
    assert error["message"] == "CUDA out of memory" and error["step"] == 7


def test_unknown_job_is_a_404_json(token_client):
    response = token_client.get("/api/jobs/no-such-job")
    assert response.status_code == 404
    assert response.json() == {"detail": "No job with uid 'no-such-job'."}


# --- statistics --------------------------------------------------------------------------


def test_statistics_count_rate_duration_gpu_hours_and_days(token_client):
    now = timezone.now()
    make_job(uid="q")
    make_job(uid="r", status="running")
    for uid, status, gpus in (
        ("c1", "completed", 2),
        ("c2", "completed", None),
        ("f", "failed", 1),
    ):
        config = {"num_gpus": gpus} if gpus else {}
        make_job(uid=uid, status=status, config=config)
    # Two hours each: GPU-hours = 2*2 + 2*1 + 2*1 (+ the running job's few seconds).
    Job.objects.filter(uid__in=["c1", "c2", "f"]).update(
        started_at=now - timedelta(hours=3), finished_at=now - timedelta(hours=1)
    )
    Job.objects.filter(uid="r").update(started_at=now)
    Job.objects.filter(uid="q").update(created_at=now - timedelta(days=3))
    body = token_client.get("/api/jobs/statistics").json()
    assert body["counts"] == {
        "queued": 1,
        "running": 1,
        "completed": 2,
        "failed": 1,
        "cancelled": 0,
    }
    assert body["total"] == 5
    assert body["success_rate"] == pytest.approx(2 / 3)
    assert body["mean_duration_seconds"] == pytest.approx(7200, abs=1)
    assert body["gpu_hours"] == pytest.approx(8.0, abs=0.01)
    days = body["jobs_per_day"]
    assert len(days) == 30 and days[-1]["date"] == now.date().isoformat()
    assert days[-1]["count"] == 4 and days[-4]["count"] == 1


def test_statistics_of_no_jobs_has_no_rates(token_client):
    body = token_client.get("/api/jobs/statistics").json()
    assert body["total"] == 0 and body["success_rate"] is None
    assert body["mean_duration_seconds"] is None and body["gpu_hours"] == 0


# --- create ------------------------------------------------------------------------------


def test_post_jobs_creates_a_queued_job_then_returns_it_again(token_client):
    payload = {
        "uid": "my-run",
        "name": "My run",
        "model": "llama-3-8b",
        "dataset": "alpaca",
        "tags": ["lora"],
        "config": {"lr": 1e-4},
        "total_steps": 500,
    }
    created = token_client.post("/api/jobs", payload, format="json")
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "queued" and body["model"] == "llama-3-8b"
    assert len(body["stages"]) == 5 and body["queue_position"] == 1
    again = token_client.post("/api/jobs", {**payload, "name": "Renamed"}, format="json")
    assert again.status_code == 200 and again.json()["name"] == "My run"
    assert Job.objects.count() == 1 and Stage.objects.count() == 5


def test_post_jobs_without_uid_generates_one(token_client):
    response = token_client.post("/api/jobs", {"name": "Fresh Run"}, format="json")
    assert response.status_code == 201
    assert response.json()["uid"].startswith("fresh-run-")


def test_post_jobs_names_every_bad_field(token_client):
    response = token_client.post(
        "/api/jobs", {"uid": "bad uid!", "tags": "lora", "total_steps": 0}, format="json"
    )
    assert response.status_code == 400
    assert {"name", "tags", "total_steps"} <= set(response.json())
    bad_uid = token_client.post("/api/jobs", {"uid": "bad uid!", "name": "x"}, format="json")
    assert bad_uid.status_code == 400 and "uid" in bad_uid.json()
    assert Job.objects.count() == 0


def test_post_jobs_rejects_nan_in_config(token_client):
    response = token_client.post(
        "/api/jobs", data='{"name": "x", "config": {"lr": NaN}}', content_type="application/json"
    )
    assert response.status_code == 400 and "config" in response.json()


def test_post_jobs_needs_a_token_and_a_scope_that_covers_the_job(api_client, session_client):
    assert api_client.post("/api/jobs", {"name": "x"}, format="json").status_code == 401
    assert session_client.post("/api/jobs", {"name": "x"}, format="json").status_code == 403
    _, raw = make_token(job_scope=["allowed"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    denied = api_client.post("/api/jobs", {"uid": "other", "name": "x"}, format="json")
    assert denied.status_code == 403
    allowed = api_client.post("/api/jobs", {"uid": "allowed", "name": "x"}, format="json")
    assert allowed.status_code == 201
    assert list(Job.objects.values_list("uid", flat=True)) == ["allowed"]


def test_a_revoked_or_unknown_token_is_a_401(api_client):
    token, raw = make_token()
    services.token_revoke(token=token)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.get("/api/jobs").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION="Bearer tb_not-a-token")
    response = api_client.get("/api/jobs")
    assert response.status_code == 401 and response.json()["detail"] == "Invalid token."
    assert MetricPoint.objects.count() == 0
