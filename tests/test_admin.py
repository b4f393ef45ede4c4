"""The admin inspects everything and changes jobs only through the services."""

import pytest
from django.test import Client

from jobs import services
from jobs.events import job_group
from jobs.models import Job, JobStatus, Stage
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    return client


def change_form(job, **overrides):
    """The job's change form as the browser posts it, with `overrides` applied."""
    data = {
        "tags": '["lora"]' if not job.tags else str(job.tags).replace("'", '"'),
        "notes": job.notes,
        "stages-TOTAL_FORMS": "5",
        "stages-INITIAL_FORMS": "5",
        "stages-MIN_NUM_FORMS": "0",
        "stages-MAX_NUM_FORMS": "5",
    }
    for index, stage in enumerate(Stage.objects.filter(job=job).order_by("order")):
        data[f"stages-{index}-id"] = str(stage.pk)
        data[f"stages-{index}-job"] = str(job.pk)
    data.update(overrides)
    return data


def test_an_admin_edit_of_notes_is_pushed_live_like_any_write(
    admin_client, django_capture_on_commit_callbacks, monkeypatch
):
    job = make_job(uid="admin-notes", status=JobStatus.RUNNING)
    sent = []
    monkeypatch.setattr("jobs.core.push.group_send", lambda group, payload: sent.append(group))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/jobs/job/{job.pk}/change/", change_form(job, notes="lr too high")
        )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.notes == "lr too high"
    assert job_group("admin-notes") in sent


def test_the_admin_cannot_change_a_jobs_status_or_stages_directly(admin_client):
    job = make_job(uid="admin-status", status=JobStatus.RUNNING)
    response = admin_client.post(
        f"/admin/jobs/job/{job.pk}/change/",
        change_form(job, status="completed", progress="100", **{"stages-0-status": "failed"}),
    )
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert job.stages.get(order=0).status != "failed"


def test_the_cancel_action_moves_jobs_through_the_services(admin_client):
    running = make_job(uid="admin-run", status=JobStatus.RUNNING)
    done = make_job(uid="admin-done", status=JobStatus.COMPLETED)
    response = admin_client.post(
        "/admin/jobs/job/",
        {"action": "cancel", "_selected_action": [str(running.pk), str(done.pk)]},
    )
    assert response.status_code == 302
    assert Job.objects.get(uid="admin-run").status == JobStatus.CANCELLED
    assert Job.objects.get(uid="admin-done").status == JobStatus.COMPLETED
    # Cancelling went through the state machine: the active stage was closed with it.
    assert not Job.objects.get(uid="admin-run").stages.filter(status="active").exists()


def test_the_admin_adds_no_jobs(admin_client):
    assert admin_client.get("/admin/jobs/job/add/").status_code == 403


def test_the_admin_shows_a_fired_alerts_delivery_log_and_hides_webhook_secrets(admin_client):
    from jobs.models import FiredAlert

    owner = make_user("alerts-owner")
    channel, secret = services.alert_channel_create(
        owner=owner, name="ops hook", kind="webhook", target="https://93.184.215.14/hook"
    )
    services.alert_rule_create(
        owner=owner,
        name="failures",
        condition={"type": "event", "events": ["failed"]},
        channels=[channel.pk],
    )
    job, _ = services.job_create(name="admin alerts", uid="admin-alerts")
    services.job_status_update(job=job, status="running")
    services.job_status_update(job=job, status="failed", error={"message": "boom"})
    fired = FiredAlert.objects.get()
    page = admin_client.get(f"/admin/jobs/firedalert/{fired.pk}/change/").content.decode()
    assert "ops hook" in page and "Job failed: admin alerts" in page
    assert "failures" in admin_client.get("/admin/jobs/firedalert/").content.decode()
    channel_page = admin_client.get(f"/admin/jobs/alertchannel/{channel.pk}/change/")
    assert secret not in channel_page.content.decode()
