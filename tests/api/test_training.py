"""/api/training/status/{uid} and /api/training/summary."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from tests.factories import add_samples, make_job, sample

pytestmark = pytest.mark.django_db


def report_loss(job, steps, *, seconds_apart=1.0, value=0.5, key="train/loss"):
    start = timezone.now() - timedelta(seconds=seconds_apart * len(steps))
    services.metrics_ingest(
        job=job,
        points=[
            {
                "key": key,
                "step": step,
                "value": value,
                "time": start + timedelta(seconds=i * seconds_apart),
            }
            for i, step in enumerate(steps)
        ],
    )


def test_training_status_reports_progress_rate_and_eta(token_client):
    job = make_job(uid="live", status="running", total_steps=2000)
    services.stage_move(job=job, stage="training", status="active")
    report_loss(job, range(0, 500, 50))  # 50 steps per second
    services.job_status_update(job=job, step=450)
    response = token_client.get("/api/training/status/live")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "running" and body["stage"] == "training"
    assert body["current_step"] == 450 and body["progress"] == 22.5
    assert body["step_rate"] == pytest.approx(50.0)
    assert body["eta_seconds"] == pytest.approx(1550 / 50)
    assert body["last_heartbeat"] is not None


def test_training_status_of_a_queued_job_has_no_rate(token_client):
    make_job(uid="waiting")
    body = token_client.get("/api/training/status/waiting").json()
    assert body["status"] == "queued" and body["queue_position"] == 1
    assert body["step_rate"] is None and body["eta_seconds"] is None


def test_training_status_of_an_unknown_job_is_a_404(token_client, api_client):
    assert token_client.get("/api/training/status/ghost").status_code == 404
    make_job(uid="known")
    assert api_client.get("/api/training/status/known").status_code == 401


def test_summary_covers_running_jobs_only(token_client):
    fast = make_job(uid="fast", status="running", total_steps=1000, host="box-a")
    slow = make_job(uid="slow", status="running", total_steps=1000)
    make_job(uid="waiting")
    make_job(uid="done", status="completed")
    report_loss(fast, range(0, 100, 10), value=0.25)
    report_loss(fast, [50], key="val/loss", value=0.3)
    report_loss(slow, range(0, 10, 1), value=1.5)
    add_samples("box-a", [sample(gpus=[{"util": 80.0}, {"util": 100.0}])], job=fast)
    add_samples("box-b", [sample(gpus=[{"util": 30.0}])], job=slow)
    response = token_client.get("/api/training/summary")
    assert response.status_code == 200
    body = response.json()
    assert body["running"] == 2 and body["queued"] == 1
    assert body["mean_gpu_util"] == pytest.approx((90.0 + 30.0) / 2)
    assert body["throughput_steps_per_second"] == pytest.approx(11.0)
    jobs = {job["uid"]: job for job in body["jobs"]}
    assert set(jobs) == {"fast", "slow"}
    assert jobs["fast"]["latest_loss"] == 0.25 and jobs["fast"]["latest_val_loss"] == 0.3
    assert jobs["fast"]["gpu_util"] == 90.0 and jobs["slow"]["latest_val_loss"] is None


def test_summary_with_nothing_running_is_empty(token_client):
    body = token_client.get("/api/training/summary").json()
    assert body == {
        "running": 0,
        "queued": 0,
        "mean_gpu_util": None,
        "throughput_steps_per_second": 0.0,
        "jobs": [],
    }
