"""Stopping a job from the browser and marking a job synced after the fact: the stop
route, the heartbeat answer that carries the request, the audit trail and the push."""

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from jobs.events import job_group
from jobs.models import AuditEvent, Job, JobStatus
from tests.factories import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    return make_job(uid="run-stop", status=JobStatus.RUNNING, step=40, total_steps=100)


def stop(client, uid="run-stop"):
    return client.post(f"/api/jobs/{uid}/stop", format="json")


def heartbeat(client, **body):
    return client.post("/api/jobs/run-stop/status", body, format="json")


def test_the_heartbeat_answer_says_no_stop_until_one_is_requested(token_client, job):
    response = heartbeat(token_client, step=41)
    assert response.status_code == 200
    assert response.json()["stop_requested"] is False


def test_an_editor_stop_request_is_recorded_and_the_next_heartbeat_carries_it(
    session_client, token_client, user, job
):
    response = stop(session_client)
    assert response.status_code == 202
    body = response.json()
    assert body["stop_requested_at"]
    assert body["job"]["stop_requested"] is True
    assert body["job"]["status"] == "running"  # asked, not done: the client ends it

    answer = heartbeat(token_client, step=42).json()
    assert answer["stop_requested"] is True
    assert answer["job"]["stop_requested"] is True

    event = AuditEvent.objects.get(action="job.stop")
    assert event.job_uid == "run-stop" and event.actor == user
    assert event.detail == {"status": "running", "step": 40}


def test_the_job_ends_cancelled_at_the_step_the_client_stopped_at(
    session_client, token_client, job
):
    stop(session_client)
    answer = heartbeat(token_client, status="cancelled", step=43).json()
    assert answer["job"]["status"] == "cancelled"
    assert answer["job"]["current_step"] == 43
    assert answer["job"]["stop_requested"] is False  # done: nothing is pending any more
    assert answer["stop_requested"] is False


def test_asking_again_keeps_the_first_request(session_client, job):
    first = stop(session_client).json()["stop_requested_at"]
    again = stop(session_client)
    assert again.status_code == 202
    assert again.json()["stop_requested_at"] == first
    assert AuditEvent.objects.filter(action="job.stop").count() == 1


def test_a_finished_job_cannot_be_stopped(session_client):
    make_job(uid="done-job", status=JobStatus.COMPLETED)
    response = stop(session_client, "done-job")
    assert response.status_code == 409
    assert "nothing to stop" in response.json()["detail"]
    assert Job.objects.get(uid="done-job").stop_requested_at is None


def test_a_stop_request_is_pushed_to_the_job_page(
    session_client, job, django_capture_on_commit_callbacks
):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(job_group("run-stop"), channel)
    with django_capture_on_commit_callbacks(execute=True):
        stop(session_client)

    async def receive():
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    message = async_to_sync(receive)()
    assert message["payload"]["type"] == "status"
    assert message["payload"]["job"]["stop_requested"] is True


def test_a_synced_status_marks_the_job_synced_without_a_heartbeat(token_client, job):
    Job.objects.filter(pk=job.pk).update(last_heartbeat=None)
    answer = heartbeat(token_client, synced=True).json()
    assert answer["job"]["synced_at"] is not None
    job.refresh_from_db()
    assert job.synced_at is not None
    assert job.last_heartbeat is None  # an upload after the fact is not a sign of life
