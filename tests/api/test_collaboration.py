"""Comments, mentions and the bell, share links and the audit trail, through the API."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from jobs import services
from jobs.models import AuditEvent, Comment, JobStatus, Notification, ShareLink
from tests.factories import add_logs, ingest_points, make_job, make_token, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    """A project with an admin, an editor and a viewer, a job in it, and an outsider."""
    admin = make_user("ada")
    project = services.project_create(name="Vision", creator=admin)
    editor, viewer, outsider = make_user("eddie"), make_user("vera"), make_user("otto")
    services.member_set(project=project, username="eddie", role="editor", actor=admin)
    services.member_set(project=project, username="vera", role="viewer", actor=admin)
    job = make_job(uid="vit-1", status=JobStatus.RUNNING, project=project)
    return {
        "project": project,
        "job": job,
        "admin": admin,
        "editor": editor,
        "viewer": viewer,
        "outsider": outsider,
    }


def signed_in(user):
    client = APIClient()
    client.force_login(user)
    return client


def comment(client, body, **extra):
    return client.post("/api/jobs/vit-1/comments", {"body": body, **extra}, format="json")


# --- comments ------------------------------------------------------------------------------


def test_an_editor_comments_and_every_member_reads_the_thread_with_safe_html(team):
    response = comment(
        signed_in(team["editor"]), "Loss **spikes** here <script>x</script>", step=1200
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["author"] == "eddie" and body["step"] == 1200
    assert "<strong>spikes</strong>" in body["html"]
    assert "<script>" not in body["html"] and "&lt;script&gt;" in body["html"]
    listed = signed_in(team["viewer"]).get("/api/jobs/vit-1/comments").json()
    assert [c["id"] for c in listed] == [body["id"]]


def test_a_viewer_may_not_comment_and_an_outsider_does_not_see_the_job(team):
    assert comment(signed_in(team["viewer"]), "hi").status_code == 403
    assert comment(signed_in(team["outsider"]), "hi").status_code == 404
    assert signed_in(team["outsider"]).get("/api/jobs/vit-1/comments").status_code == 404
    assert Comment.objects.count() == 0


def test_bad_comment_input_names_the_field_and_stores_nothing(team):
    client = signed_in(team["editor"])
    assert comment(client, "   ").json() == {"body": ["This field may not be blank."]}
    assert "step" in comment(client, "ok", step=-1).json()
    assert "step" in comment(client, "ok", step="soon").json()
    assert comment(client, "x" * 10_001).status_code == 400
    response = client.post("/api/jobs/vit-1/comments", {"body": "a", "pin": 1}, format="json")
    assert response.json() == {"pin": ["Unknown field."]}
    assert Comment.objects.count() == 0


def test_authors_edit_their_own_comments_only(team):
    created = comment(signed_in(team["editor"]), "first").json()
    url = f"/api/jobs/vit-1/comments/{created['id']}"
    by_admin = signed_in(team["admin"]).patch(url, {"body": "hijack"}, format="json")
    assert by_admin.status_code == 403
    edited = signed_in(team["editor"]).patch(url, {"body": "second", "step": None}, format="json")
    assert edited.status_code == 200
    assert edited.json()["body"] == "second" and edited.json()["edited_at"]


def test_authors_and_project_admins_delete_comments_and_an_admin_deletion_is_audited(team):
    first = comment(signed_in(team["editor"]), "one").json()
    second = comment(signed_in(team["editor"]), "two").json()
    other_editor = make_user("edna")
    services.member_set(project=team["project"], username="edna", role="editor")
    url = "/api/jobs/vit-1/comments/{}"
    assert signed_in(other_editor).delete(url.format(first["id"])).status_code == 403
    assert signed_in(team["editor"]).delete(url.format(first["id"])).status_code == 204
    assert signed_in(team["admin"]).delete(url.format(second["id"])).status_code == 204
    assert Comment.objects.count() == 0
    deleted = AuditEvent.objects.get(action="comment.delete")
    assert deleted.actor == team["admin"] and deleted.detail["comment"] == second["id"]


def test_a_comment_of_another_job_answers_404(team):
    created = comment(signed_in(team["editor"]), "one").json()
    make_job(uid="vit-2", project=team["project"])
    response = signed_in(team["editor"]).delete(f"/api/jobs/vit-2/comments/{created['id']}")
    assert response.status_code == 404


def test_a_token_of_the_project_comments_in_its_users_name(team):
    _, raw = make_token(team["editor"], projects=["vision"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    response = comment(client, "from a script")
    assert response.status_code == 201 and response.json()["author"] == "eddie"


# --- mentions and the bell -------------------------------------------------------------------


def test_mentioning_a_member_notifies_them_once_and_not_outsiders_or_the_author(team):
    client = signed_in(team["editor"])
    created = comment(client, "@vera look, @otto and @eddie and mail a@b.c, @nobody").json()
    assert list(Notification.objects.values_list("user__username", flat=True)) == ["vera"]
    client.patch(
        f"/api/jobs/vit-1/comments/{created['id']}", {"body": "@vera again"}, format="json"
    )
    assert Notification.objects.count() == 1
    bell = signed_in(team["viewer"]).get("/api/notifications").json()
    assert bell["unread"] == 1
    note = bell["results"][0]
    assert note["actor"] == "eddie" and note["job"] == "vit-1"
    assert note["url"] == f"/job/vit-1#comment-{created['id']}"


def test_notifications_are_marked_read_by_id_or_all(team):
    for text in ("@vera one", "@vera two"):
        comment(signed_in(team["editor"]), text)
    client = signed_in(team["viewer"])
    first = client.get("/api/notifications").json()["results"][0]["id"]
    response = client.post("/api/notifications/read", {"ids": [first]}, format="json")
    assert response.json() == {"marked": 1}
    assert client.get("/api/notifications").json()["unread"] == 1
    assert client.post("/api/notifications/read", format="json").json() == {"marked": 1}
    assert client.get("/api/notifications").json()["unread"] == 0
    bad = client.post("/api/notifications/read", {"ids": "all"}, format="json")
    assert bad.status_code == 400 and "ids" in bad.json()


def test_the_bell_counts_alerts_and_mentions_as_one_and_marks_both_read(team):
    comment(signed_in(team["editor"]), "@vera see step 3")
    services.alert_rule_create(
        owner=team["viewer"], name="nan watch", condition={"type": "nan", "key": "train/loss"}
    )
    points = [{"key": "train/loss", "step": 1, "value": "nan"}]
    services.metrics_ingest(job=team["job"], points=points)
    page = Client()
    page.force_login(team["viewer"])
    html = page.get("/job/vit-1").content.decode()
    assert 'id="bell-count">2<' in html and 'aria-label="Notifications, 2 unread"' in html
    assert html.count('class="menu bell"') == 1 and "alert-bell" not in html
    response = page.post("/notifications/read", {"next": "/job/vit-1"})
    assert response.status_code == 302 and response["Location"] == "/job/vit-1"
    html = page.get("/job/vit-1").content.decode()
    assert 'id="bell-count" hidden' in html
    assert signed_in(team["viewer"]).get("/api/alerts").json()["unread"] == 0


def test_a_share_link_page_has_no_bell_even_for_a_signed_in_reader(team):
    client = signed_in(team["editor"])
    link = client.post("/api/jobs/vit-1/share-links", {}, format="json").json()
    html = client.get(link["url"]).content.decode()
    assert "/s/" in link["url"] and "share-banner" in html
    assert 'class="menu bell"' not in html and 'id="bell-count"' not in html


def test_a_members_notifications_of_a_project_they_left_are_hidden(team):
    comment(signed_in(team["editor"]), "@vera hi")
    services.member_remove(project=team["project"], username="vera")
    assert signed_in(team["viewer"]).get("/api/notifications").json() == {
        "unread": 0,
        "results": [],
    }


# --- share links -------------------------------------------------------------------------------


def share(client, uid="vit-1", **body):
    return client.post(f"/api/jobs/{uid}/share-links", body, format="json")


def test_an_editor_creates_a_share_link_stored_hashed_expiring_in_7_days(team):
    response = share(signed_in(team["editor"]))
    assert response.status_code == 201, response.content
    data = response.json()
    secret = data["url"].removeprefix("/s/").rstrip("/")
    assert data["url"] == f"/s/{secret}/" and len(secret) >= 32
    link = ShareLink.objects.get(pk=data["id"])
    assert secret not in link.key_hash and link.uids == ["vit-1"]
    assert abs(link.expires_at - (timezone.now() + timedelta(days=7))) < timedelta(minutes=1)
    assert AuditEvent.objects.filter(action="share_link.create", actor=team["editor"]).exists()


def test_viewers_may_not_share_and_bad_expiry_is_named(team):
    assert share(signed_in(team["viewer"])).status_code == 403
    assert share(signed_in(team["outsider"])).status_code == 404
    bad = share(signed_in(team["editor"]), expires_in_days=0)
    assert bad.status_code == 400 and "expires_in_days" in bad.json()
    assert share(signed_in(team["editor"]), expires_in_days=400).status_code == 400
    assert ShareLink.objects.count() == 0


def test_a_share_link_opens_the_job_page_and_its_data_and_nothing_else(team):
    ingest_points(team["job"], 5)
    add_logs(team["job"], 3)
    url = share(signed_in(team["editor"])).json()["url"]
    anonymous = Client()
    page = anonymous.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Shared read-only view · expires in 7 days" in html
    assert 'id="details-edit"' not in html and 'id="comment-form"' not in html
    assert "/api/jobs/vit-1/export" not in html and 'class="topbar__nav"' not in html
    assert anonymous.get(f"{url}api/jobs/vit-1").json()["uid"] == "vit-1"
    series = anonymous.get(f"{url}api/jobs/vit-1/metrics").json()["series"]
    assert len(series["train/loss"]["points"]) == 5
    assert len(anonymous.get(f"{url}api/jobs/vit-1/logs").json()["lines"]) == 3
    assert anonymous.get(f"{url}api/training/resources?job=vit-1").status_code == 200
    assert anonymous.get(f"{url}details").json()["uid"] == "vit-1"
    other = make_job(uid="vit-2", project=team["project"])
    for path in (
        "api/jobs/vit-2",
        "api/jobs/vit-2/metrics",
        "api/training/resources?job=vit-2",
        "api/training/resources?job=vit-1&host=gpu-1",
        "api/training/resources?host=gpu-1",
        "api/jobs/vit-1/comments",
        "api/jobs/vit-1/export",
        "api/jobs",
        "api/jobs/statistics",
    ):
        assert anonymous.get(f"{url}{path}").status_code == 404, path
    assert anonymous.post(f"{url}api/jobs/vit-1/metrics", {}).status_code in (404, 405)
    assert other.uid not in html
    for path in ("/", "/job/vit-1", "/api/jobs/vit-1", "/admin/", "/api/jobs/statistics"):
        assert anonymous.get(path).status_code in (302, 401, 403), path


def test_expired_and_revoked_links_answer_404_everywhere(team):
    client = signed_in(team["editor"])
    expired = share(client).json()
    ShareLink.objects.filter(pk=expired["id"]).update(expires_at=timezone.now())
    revoked = share(client).json()
    assert client.delete(f"/api/share-links/{revoked['id']}").status_code == 204
    anonymous = Client()
    for data in (expired, revoked):
        assert anonymous.get(data["url"]).status_code == 404
        assert anonymous.get(f"{data['url']}api/jobs/vit-1").status_code == 404
        assert anonymous.get(f"{data['url']}details").status_code == 404
    assert anonymous.get("/s/not-a-secret/").status_code == 404
    assert AuditEvent.objects.filter(action="share_link.revoke").count() == 1


def test_share_links_are_listed_for_editors_with_creator_and_last_use(team):
    client = signed_in(team["editor"])
    created = share(client).json()
    Client().get(created["url"])
    listed = client.get("/api/jobs/vit-1/share-links").json()
    assert listed[0]["created_by"] == "eddie" and listed[0]["last_used_at"]
    assert listed[0]["active"] is True and "url" not in listed[0]
    assert signed_in(team["viewer"]).get("/api/jobs/vit-1/share-links").status_code == 403
    assert signed_in(team["viewer"]).delete(f"/api/share-links/{created['id']}").status_code == 403
    assert (
        signed_in(team["outsider"]).delete(f"/api/share-links/{created['id']}").status_code == 404
    )


def test_a_comparison_link_opens_the_compare_page_and_the_compared_metrics_only(team):
    make_job(uid="vit-2", status=JobStatus.RUNNING, project=team["project"])
    make_job(uid="vit-3", status=JobStatus.RUNNING, project=team["project"])
    for uid in ("vit-1", "vit-2"):
        services.metrics_ingest(
            job=services.job_create(uid=uid, name=uid)[0],
            points=[{"key": "a", "step": 1, "value": 1}],
        )
    response = signed_in(team["editor"]).post(
        "/api/share-links", {"compare": ["vit-1", "vit-2"]}, format="json"
    )
    assert response.status_code == 201, response.content
    url = response.json()["url"]
    anonymous = Client()
    page = anonymous.get(url)
    assert page.status_code == 200 and b"Compare 2 jobs" in page.content
    assert b'href="/job/vit-1"' not in page.content
    assert anonymous.get(f"{url}api/jobs/vit-2/metrics").status_code == 200
    assert anonymous.get(f"{url}api/jobs/vit-3/metrics").status_code == 404
    assert anonymous.get(f"{url}api/jobs/vit-1").status_code == 404  # not read by the page


def test_a_comparison_needs_the_editor_role_in_every_jobs_project(team):
    elsewhere = services.project_create(name="Elsewhere", creator=team["outsider"])
    make_job(uid="other-1", project=elsewhere)
    services.member_set(project=elsewhere, username="eddie", role="viewer")
    response = signed_in(team["editor"]).post(
        "/api/share-links", {"compare": ["vit-1", "other-1"]}, format="json"
    )
    assert response.status_code == 403
    one = signed_in(team["editor"]).post("/api/share-links", {"compare": ["vit-1"]}, format="json")
    assert one.status_code == 400 and "compare" in one.json()


# --- audit trail -----------------------------------------------------------------------------


def test_status_notes_tags_members_and_tokens_are_in_the_projects_audit_trail(team):
    _, raw = make_token(team["editor"], projects=["vision"], actor=team["editor"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    client.post("/api/jobs/vit-1/status", {"status": "completed"}, format="json")
    client.post("/api/jobs/vit-1/status", {"step": 5}, format="json")  # a heartbeat: not audited
    page = Client()
    page.force_login(team["editor"])
    page.post("/job/vit-1/details", {"notes": "n", "tags": ["a"]}, content_type="application/json")
    events = signed_in(team["admin"]).get("/api/projects/vision/audit").json()
    actions = [(e["action"], e["actor"]) for e in events]
    assert ("job.status", "eddie") in actions
    statuses = [e for e in events if e["action"] == "job.status"]
    # Newest first: the token's completion, then the system's start (make_job).
    assert [(e["actor"], e["token"], e["detail"]) for e in statuses] == [
        ("eddie", "test token", {"from": "running", "to": "completed"}),
        (None, None, {"from": "queued", "to": "running"}),
    ]
    assert ("job.notes", "eddie") in actions and ("job.tags", "eddie") in actions
    assert ("member.set", "ada") in actions and ("token.create", "eddie") in actions


def test_the_audit_trail_is_for_project_admins(team):
    assert signed_in(team["editor"]).get("/api/projects/vision/audit").status_code == 403
    assert signed_in(team["outsider"]).get("/api/projects/vision/audit").status_code == 404
    page = Client()
    page.force_login(team["admin"])
    html = page.get("/projects/vision/settings").content.decode()
    assert "Audit trail" in html and "member.set" in html and "eddie" in html
    page.force_login(team["editor"])
    assert page.get("/projects/vision/settings").status_code == 403
    page.force_login(team["outsider"])
    assert page.get("/projects/vision/settings").status_code == 404


def test_ids_beyond_64_bits_answer_404_or_400_not_500(team):
    client = signed_in(team["editor"])
    huge = 10**30
    assert client.delete(f"/api/jobs/vit-1/comments/{huge}").status_code == 404
    assert client.delete(f"/api/share-links/{huge}").status_code == 404
    response = client.post("/api/notifications/read", {"ids": [huge]}, format="json")
    assert response.status_code == 400 and "ids" in response.json()
