"""The job page's Stop button: shown to editors on a job that has not ended, hidden from
viewers and on finished jobs; the "Stop requested" badge and the "synced later" mark."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from jobs import services
from jobs.models import JobStatus
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    admin = make_user("stop-admin")
    project = services.project_create(name="Stops", creator=admin)
    for role in ("viewer", "editor"):
        make_user(f"stop-{role}")
        services.member_set(project=project, username=f"stop-{role}", role=role)
    return project


def job_page(username, uid):
    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    response = client.get(f"/job/{uid}")
    assert response.status_code == 200
    return response.content.decode()


def test_an_editor_sees_stop_on_a_running_job(project):
    make_job(uid="stop-running", status=JobStatus.RUNNING, project=project)
    html = job_page("stop-editor", "stop-running")
    assert 'id="job-stop"' in html
    assert 'its next heartbeat" hidden>Stop requested</span>' in html
    assert 'id="stop-form" action="/api/jobs/stop-running/stop" method="post">' in html


def test_a_viewer_gets_no_stop_button(project):
    make_job(uid="stop-viewed", status=JobStatus.RUNNING, project=project)
    assert 'id="job-stop"' not in job_page("stop-viewer", "stop-viewed")


def test_a_finished_job_has_no_stop_button(project):
    make_job(uid="stop-done", status=JobStatus.COMPLETED, project=project)
    assert 'id="job-stop"' not in job_page("stop-editor", "stop-done")


def test_a_requested_stop_shows_until_the_job_ends_and_a_synced_job_says_so(project):
    job = make_job(uid="stop-asked", status=JobStatus.RUNNING, project=project)
    services.request_stop(job=job)
    html = job_page("stop-editor", "stop-asked")
    assert 'its next heartbeat">Stop requested</span>' in html
    assert 'id="stop-form" action="/api/jobs/stop-asked/stop" method="post" hidden' in html
    assert 'with tuneboard sync" hidden>synced later</span>' in html  # not synced: hidden
    job.synced_at = timezone.now()
    job.save()
    html = job_page("stop-editor", "stop-asked")
    assert 'title="Uploaded after the fact with tuneboard sync, ' in html
    assert " hidden>synced later</span>" not in html
