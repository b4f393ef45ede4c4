"""Stage moves, status and heartbeats, token scopes and live pushes of the write API."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from jobs.events import job_group
from jobs.models import Job, MetricPoint, Stage
from tests.factories import make_job, make_token, points

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    return make_job(uid="run-1", tags=["team-a/lora"], total_steps=100)


def move(client, stage, status, **extra):
    return client.post(
        "/api/jobs/run-1/stages", {"stage": stage, "status": status, **extra}, format="json"
    )


def test_activating_the_first_stage_starts_the_job(token_client, job):
    response = move(token_client, "dataset_loading", "active", message="reading shards")
    assert response.status_code == 200
    body = response.json()
    assert body["stage"]["status"] == "active" and body["stage"]["message"] == "reading shards"
    assert body["job"]["status"] == "running" and body["job"]["stage"] == "dataset_loading"


def test_a_completed_stage_cannot_go_back_to_pending(token_client, job):
    move(token_client, "dataset_loading", "active")
    move(token_client, "dataset_loading", "completed")
    response = move(token_client, "dataset_loading", "pending")
    assert response.status_code == 409
    assert "cannot move to pending" in response.json()["detail"]
    assert Stage.objects.get(job=job, name="dataset_loading").status == "completed"


def test_a_failed_stage_fails_the_job(token_client, job):
    move(token_client, "tokenization", "active")
    response = move(token_client, "tokenization", "failed", message="KeyError: 'text'")
    assert response.json()["job"]["status"] == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and job.error_stage == "tokenization"


def test_completing_every_stage_completes_the_job(token_client, job):
    for stage in ("dataset_loading", "tokenization", "training", "validation", "save_model"):
        move(token_client, stage, "active")
        last = move(token_client, stage, "completed")
    assert last.json()["job"]["status"] == "completed"
    assert last.json()["job"]["progress"] == 100


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"stage": "warmup", "status": "active"}, "stage"),
        ({"stage": "training", "status": "running"}, "status"),
        ({"status": "active"}, "stage"),
        ({"stage": "training", "status": "active", "progress": 140}, "progress"),
    ],
)
def test_a_bad_stage_move_names_the_field(token_client, job, payload, field):
    response = token_client.post("/api/jobs/run-1/stages", payload, format="json")
    assert response.status_code == 400 and field in response.json()


def test_status_posts_move_the_job_and_beat_its_heart(token_client, job):
    running = token_client.post(
        "/api/jobs/run-1/status", {"status": "running", "step": 40, "epoch": 0.4}, format="json"
    )
    assert running.status_code == 200
    card = running.json()["job"]
    assert card["status"] == "running" and card["current_step"] == 40 and card["progress"] == 40
    before = Job.objects.get(pk=job.pk).last_heartbeat
    beat = token_client.post("/api/jobs/run-1/status", {}, format="json")
    assert beat.status_code == 200
    assert Job.objects.get(pk=job.pk).last_heartbeat > before


def test_a_failure_status_records_the_error(token_client, job):
    token_client.post("/api/jobs/run-1/status", {"status": "running"}, format="json")
    response = token_client.post(
        "/api/jobs/run-1/status",
        {"status": "failed", "error": {"message": "CUDA out of memory", "type": "OOM", "step": 12}},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["job"]["error"]["message"] == "CUDA out of memory"


def test_a_finished_job_cannot_change_status(token_client, job):
    token_client.post("/api/jobs/run-1/status", {"status": "cancelled"}, format="json")
    response = token_client.post("/api/jobs/run-1/status", {"status": "running"}, format="json")
    assert response.status_code == 409
    assert "cannot become running" in response.json()["detail"]


def test_bad_status_fields_are_named(token_client, job):
    response = token_client.post(
        "/api/jobs/run-1/status",
        {"status": "exploded", "progress": "lots", "step": -2},
        format="json",
    )
    assert response.status_code == 400
    assert {"status", "progress", "step"} <= set(response.json())


def test_stage_and_status_of_an_unknown_job_are_404(token_client):
    stage = {"stage": "training", "status": "active"}
    assert token_client.post("/api/jobs/ghost/stages", stage, format="json").status_code == 404
    assert token_client.post("/api/jobs/ghost/status", {}, format="json").status_code == 404


def test_a_token_scoped_to_another_job_gets_403_and_writes_nothing(api_client, job):
    _, raw = make_token(job_scope=["other-job"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    batch = {"points": points(3)}
    assert api_client.post("/api/jobs/run-1/metrics", batch, format="json").status_code == 403
    assert api_client.post("/api/jobs/run-1/status", {"status": "running"}).status_code == 403
    assert MetricPoint.objects.count() == 0
    assert Job.objects.get(pk=job.pk).status == "queued"


def test_a_token_scoped_by_tag_prefix_may_write_to_matching_jobs(api_client, job):
    _, raw = make_token(tag_prefixes=["team-a/"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = api_client.post("/api/jobs/run-1/metrics", {"points": points(3)}, format="json")
    assert response.status_code == 200


def test_writes_are_pushed_to_the_jobs_group_after_commit(
    token_client, job, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(job_group("run-1"), channel)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        token_client.post("/api/jobs/run-1/metrics", {"points": points(2)}, format="json")
    assert callbacks  # nothing is sent before the commit

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    message = async_to_sync(receive)()
    assert message["payload"]["type"] == "metrics"
    assert [step for step, _, _ in message["payload"]["series"]["train/loss"]] == [0, 1]


def test_a_write_succeeds_when_the_channel_layer_is_down(
    token_client, job, settings, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("jobs.core.push._layer_failing", False)
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1"]},
        }
    }
    for start in (0, 10):
        with django_capture_on_commit_callbacks(execute=True):
            response = token_client.post(
                "/api/jobs/run-1/metrics", {"points": points(3, start=start)}, format="json"
            )
        assert response.status_code == 200
    assert MetricPoint.objects.filter(job=job).count() == 6
    failures = [r for r in caplog.records if "Live update" in r.getMessage()]
    assert len(failures) == 1
