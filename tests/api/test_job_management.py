"""Managing jobs through the API: delete to the trash and restore, bulk actions by uids or
by query, rename — with clear 400s and the role each needs."""

import pytest
from rest_framework.test import APIClient

from jobs import services
from jobs.models import Job
from tests.factories import make_job, make_user


@pytest.fixture
def world(db):
    """A project with an admin and an editor, three jobs in it."""
    admin = make_user("mg-admin")
    editor = make_user("mg-editor")
    project = services.project_create(name="Managed", creator=admin)
    services.member_set(project=project, username="mg-editor", role="editor")
    jobs = [
        make_job(uid=f"mg-{i}", name=f"run {i}", project=project, tags=["sweep"]) for i in range(3)
    ]
    return {"admin": admin, "editor": editor, "project": project, "jobs": jobs}


def client_of(user):
    client = APIClient()
    client.force_login(user)
    return client


def test_a_deleted_job_answers_404_until_it_is_restored(world):
    admin = client_of(world["admin"])
    assert admin.delete("/api/jobs/mg-0").status_code == 204
    assert admin.get("/api/jobs/mg-0").status_code == 404
    listed = admin.get("/api/jobs?page_size=50").json()["results"]
    assert "mg-0" not in {card["uid"] for card in listed}
    trash = admin.get("/api/jobs/trash").json()
    assert [item["uid"] for item in trash] == ["mg-0"]
    assert trash[0]["purge_at"] > trash[0]["deleted_at"]
    restored = admin.post("/api/jobs/mg-0/restore")
    assert restored.status_code == 200 and restored.json()["uid"] == "mg-0"
    assert admin.get("/api/jobs/mg-0").status_code == 200
    assert admin.post("/api/jobs/mg-0/restore").status_code == 404


def test_an_editor_may_not_delete_but_may_rename(world):
    editor = client_of(world["editor"])
    denied = editor.delete("/api/jobs/mg-1")
    assert denied.status_code == 403 and "admin role" in denied.json()["detail"]
    renamed = editor.patch(
        "/api/jobs/mg-1", {"name": "lr sweep", "description": "three seeds"}, format="json"
    )
    assert renamed.status_code == 200
    assert (renamed.json()["name"], renamed.json()["description"]) == ("lr sweep", "three seeds")


def test_a_blank_name_answers_400_naming_the_field(world):
    response = client_of(world["editor"]).patch("/api/jobs/mg-1", {"name": " "}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert Job.objects.get(uid="mg-1").name == "run 1"


def test_bulk_by_uids_tags_and_archives_and_archived_true_finds_them(world):
    editor = client_of(world["editor"])
    tagged = editor.post(
        "/api/jobs/bulk",
        {"action": "add_tag", "uids": ["mg-0", "mg-1"], "tag": "best"},
        format="json",
    )
    assert tagged.json() == {"matched": 2, "changed": 2}
    editor.post("/api/jobs/bulk", {"action": "archive", "query": "tag:best"}, format="json")
    default = editor.get("/api/jobs?query=tag:sweep").json()["results"]
    assert [card["uid"] for card in default] == ["mg-2"]
    archived = editor.get("/api/jobs?query=archived:true").json()["results"]
    assert {card["uid"] for card in archived} == {"mg-0", "mg-1"}
    # The plain list (no query) hides them too.
    plain = {card["uid"] for card in editor.get("/api/jobs").json()["results"]}
    assert "mg-0" not in plain and "mg-2" in plain


def test_bulk_delete_needs_the_admin_role_for_every_job(world):
    editor = client_of(world["editor"])
    denied = editor.post(
        "/api/jobs/bulk", {"action": "delete", "query": "tag:sweep"}, format="json"
    )
    assert denied.status_code == 403
    assert Job.objects.filter(deleted_at__isnull=True, uid__startswith="mg-").count() == 3
    admin = client_of(world["admin"])
    done = admin.post("/api/jobs/bulk", {"action": "delete", "query": "tag:sweep"}, format="json")
    assert done.json() == {"matched": 3, "changed": 3}
    assert len(admin.get("/api/jobs/trash").json()) == 3


def test_bulk_move_needs_a_role_in_the_target_project(world):
    admin = client_of(world["admin"])
    elsewhere = services.project_create(name="Elsewhere", creator=make_user("someone"))
    refused = admin.post(
        "/api/jobs/bulk",
        {"action": "move", "uids": ["mg-0"], "project": elsewhere.slug},
        format="json",
    )
    assert refused.status_code == 400 and "project" in refused.json()
    mine = services.project_create(name="Mine", creator=world["admin"])
    moved = admin.post(
        "/api/jobs/bulk", {"action": "move", "uids": ["mg-0"], "project": mine.slug}, format="json"
    )
    assert moved.status_code == 200
    assert Job.objects.get(uid="mg-0").project_id == mine.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "shred", "uids": ["mg-0"]}, "action"),
        ({"action": "add_tag", "uids": ["mg-0"]}, "tag"),
        ({"action": "archive"}, "uids"),
        ({"action": "archive", "uids": ["mg-0"], "query": "tag:sweep"}, "uids"),
        ({"action": "archive", "uids": []}, "uids"),
        ({"action": "archive", "uids": ["mg-0", "nope"]}, "uids"),
        ({"action": "archive", "query": "status:"}, "query"),
        ({"action": "move", "uids": ["mg-0"]}, "project"),
    ],
)
def test_a_bad_bulk_request_answers_400_naming_the_field_and_changes_nothing(world, body, field):
    response = client_of(world["admin"]).post("/api/jobs/bulk", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Job.objects.filter(archived=True).exists()
