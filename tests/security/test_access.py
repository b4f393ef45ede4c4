"""Who may see and write what: pages, read APIs, tokens and their scopes, CSRF, sockets."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from config.asgi import application
from jobs import services
from jobs.models import ApiToken, Job, JobStatus, LogEntry, MetricPoint
from tests.factories import make_job, make_token, make_user, points

pytestmark = pytest.mark.django_db

READ_APIS = [
    "/api/jobs",
    "/api/jobs/current",
    "/api/jobs/past",
    "/api/jobs/statistics",
    "/api/jobs/guarded",
    "/api/jobs/guarded/metrics",
    "/api/jobs/guarded/logs",
    "/api/jobs/guarded/export",
    "/api/training/losses?job=guarded",
    "/api/training/status/guarded",
    "/api/training/summary",
    "/api/training/resources?job=guarded",
]
PAGES = ["/", "/job/guarded"]


@pytest.fixture
def job():
    return make_job(uid="guarded", status=JobStatus.RUNNING, tags=["team-a/nlp"])


@pytest.fixture
def other_job():
    return make_job(uid="someone-elses", status=JobStatus.RUNNING, tags=["team-b/vision"])


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def stored(job):
    return MetricPoint.objects.filter(job=job).count(), LogEntry.objects.filter(job=job).count()


def every_write(uid):
    """(path, body) of each write endpoint of a job."""
    return [
        (f"/api/jobs/{uid}/metrics", {"points": points(3)}),
        (f"/api/jobs/{uid}/logs", {"lines": [{"seq": 0, "message": "hi"}]}),
        (f"/api/jobs/{uid}/status", {"status": "running", "step": 5}),
        (f"/api/jobs/{uid}/stages", {"stage": "training", "status": "active"}),
    ]


# --- pages and read APIs --------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_of_a_page_are_sent_to_sign_in(client, job, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize("path", READ_APIS)
def test_anonymous_read_api_requests_are_refused_with_401(api_client, job, path):
    response = api_client.get(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("path", READ_APIS)
def test_a_signed_in_user_and_a_token_may_read(session_client, token_client, job, path):
    assert session_client.get(path).status_code == 200
    assert token_client.get(path).status_code == 200


def test_public_read_opens_pages_and_read_apis_but_never_writes(settings, client, api_client, job):
    settings.TUNEBOARD_PUBLIC_READ = True
    for path in PAGES:
        assert client.get(path).status_code == 200, path
    for path in READ_APIS:
        assert api_client.get(path).status_code == 200, path
    for path, body in every_write(job.uid):
        assert api_client.post(path, body, format="json").status_code == 401, path
    assert api_client.post("/api/jobs", {"name": "x"}, format="json").status_code == 401
    assert api_client.post("/api/resources", {"host": "h"}, format="json").status_code == 401
    assert stored(job) == (0, 0)


# --- tokens ---------------------------------------------------------------------------


def test_only_the_hash_of_a_token_is_stored(user):
    token, raw = make_token(user)
    assert raw not in token.key_hash
    assert raw not in str(list(type(token).objects.values_list()))
    assert token.prefix and raw.startswith(token.prefix)


def test_a_revoked_token_gets_401_for_reads_and_writes(user, job):
    token, raw = make_token(user)
    services.token_revoke(token=token)
    client = bearer(raw)
    assert client.get("/api/jobs").status_code == 401
    response = client.post(f"/api/jobs/{job.uid}/metrics", {"points": points(2)}, format="json")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert stored(job) == (0, 0)


def test_an_expired_token_gets_401(user, job):
    token, raw = make_token(user, expires_at=timezone.now() + timedelta(seconds=30))
    client = bearer(raw)
    assert client.get("/api/jobs").status_code == 200
    # The expiry passes (moved into the past rather than waiting for it).
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(f"/api/jobs/{job.uid}/metrics", {"points": points(2)}, format="json")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert stored(job) == (0, 0)


def test_a_token_of_an_inactive_user_gets_401(job):
    owner = make_user("leaver")
    _, raw = make_token(owner)
    owner.is_active = False
    owner.save()
    assert bearer(raw).get("/api/jobs").status_code == 401


def test_a_made_up_token_gets_401(job):
    response = bearer("tb_not-a-real-token").post(
        f"/api/jobs/{job.uid}/metrics", {"points": points(2)}, format="json"
    )
    assert response.status_code == 401
    assert stored(job) == (0, 0)


def test_a_job_scoped_token_may_not_write_to_another_job_and_stores_nothing(user, job, other_job):
    _, raw = make_token(user, job_scope=[job.uid])
    client = bearer(raw)
    for path, body in every_write(other_job.uid):
        response = client.post(path, body, format="json")
        assert response.status_code == 403, path
    other_job.refresh_from_db()
    assert stored(other_job) == (0, 0)
    assert other_job.current_step == 0
    assert other_job.stages.get(name="training").status == "pending"
    # ...while its own job takes every write.
    for path, body in every_write(job.uid):
        assert client.post(path, body, format="json").status_code == 200, path
    assert stored(job) == (3, 1)


def test_a_tag_prefix_scoped_token_writes_only_to_jobs_with_a_matching_tag(user, job, other_job):
    _, raw = make_token(user, tag_prefixes=["team-a/"])
    client = bearer(raw)
    assert (
        client.post(f"/api/jobs/{job.uid}/metrics", {"points": points(2)}, format="json")
    ).status_code == 200
    response = client.post(
        f"/api/jobs/{other_job.uid}/metrics", {"points": points(2)}, format="json"
    )
    assert response.status_code == 403
    assert stored(other_job) == (0, 0)
    # Creating a job outside the scope is refused too; inside it is allowed.
    outside = client.post("/api/jobs", {"name": "x", "tags": ["team-b/x"]}, format="json")
    assert outside.status_code == 403
    inside = client.post("/api/jobs", {"name": "y", "tags": ["team-a/y"]}, format="json")
    assert inside.status_code == 201
    assert not Job.objects.filter(name="x").exists()


def test_a_scoped_token_may_not_take_over_an_existing_job_by_its_uid(user, other_job):
    _, raw = make_token(user, tag_prefixes=["team-a/"])
    response = bearer(raw).post(
        "/api/jobs", {"uid": other_job.uid, "name": "mine now", "tags": ["team-a/x"]}, format="json"
    )
    assert response.status_code == 403
    other_job.refresh_from_db()
    assert other_job.name != "mine now"


# --- CSRF -----------------------------------------------------------------------------


def test_the_login_form_carries_a_csrf_token_and_a_post_without_it_is_refused(user):
    browser = Client(enforce_csrf_checks=True)
    page = browser.get("/login/")
    assert b'name="csrfmiddlewaretoken"' in page.content
    refused = browser.post("/login/", {"username": "alice", "password": "pw-for-tests-only"})
    assert refused.status_code == 403
    assert "_auth_user_id" not in browser.session
    token = page.context["csrf_token"]
    accepted = browser.post(
        "/login/",
        {"username": "alice", "password": "pw-for-tests-only", "csrfmiddlewaretoken": token},
    )
    assert accepted.status_code == 302


def test_the_sign_out_form_carries_a_csrf_token_and_a_post_without_it_is_refused(user, job):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    page = browser.get("/")
    html = page.content.decode()
    form = html[html.index('action="/logout/"') :]
    assert 'name="csrfmiddlewaretoken"' in form[: form.index("</form>")]
    assert browser.post("/logout/").status_code == 403
    assert browser.get("/").status_code == 200  # still signed in


def test_editing_notes_from_the_job_page_needs_the_csrf_token(user, job):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    token = str(browser.get(f"/job/{job.uid}").context["csrf_token"])
    path = f"/job/{job.uid}/details"
    forged = browser.post(path, {"notes": "forged"}, content_type="application/json")
    assert forged.status_code == 403
    job.refresh_from_db()
    assert job.notes != "forged"
    edited = browser.post(
        path, {"notes": "mine"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert edited.status_code == 200
    job.refresh_from_db()
    assert job.notes == "mine"


def test_a_session_signed_api_write_without_csrf_is_refused(user, job):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)
    response = browser.post(f"/api/jobs/{job.uid}/metrics", {"points": points(2)}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    response = browser.post("/api/jobs", {"name": "forged"}, format="json")
    assert response.status_code == 403
    assert not Job.objects.filter(name="forged").exists()
    assert stored(job) == (0, 0)


# --- WebSockets through the whole ASGI stack --------------------------------------------


def _session_cookie(user):
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _connect(path, *, origin=None, cookie=None):
    headers = [(b"host", b"127.0.0.1:8000")]
    if origin:
        headers.append((b"origin", origin.encode()))
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, code = await communicator.connect(timeout=5)
    if connected:
        await communicator.disconnect()
    return connected, code


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("in_memory_channel_layer")
@pytest.mark.parametrize("path", ["/ws/jobs/guarded/", "/ws/dashboard/"])
async def test_a_socket_from_a_foreign_origin_is_refused_even_when_signed_in(path):
    user = await database_sync_to_async(make_user)("ws-user")
    await database_sync_to_async(make_job)(uid="guarded")
    cookie = await database_sync_to_async(_session_cookie)(user)
    assert await _connect(path, origin="http://127.0.0.1:8000", cookie=cookie) == (True, None)
    connected, _ = await _connect(path, origin="http://evil.example", cookie=cookie)
    assert not connected


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("in_memory_channel_layer")
@pytest.mark.parametrize("path", ["/ws/jobs/guarded/", "/ws/dashboard/"])
async def test_an_anonymous_socket_is_refused_through_the_whole_stack(path):
    await database_sync_to_async(make_job)(uid="guarded")
    connected, code = await _connect(path, origin="http://127.0.0.1:8000")
    assert not connected
    assert code == 4403


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("in_memory_channel_layer")
async def test_a_socket_for_an_unknown_job_is_refused_for_a_signed_in_user():
    user = await database_sync_to_async(make_user)("ws-user")
    cookie = await database_sync_to_async(_session_cookie)(user)
    connected, code = await _connect(
        "/ws/jobs/nope/", origin="http://127.0.0.1:8000", cookie=cookie
    )
    assert not connected
    assert code == 4403
