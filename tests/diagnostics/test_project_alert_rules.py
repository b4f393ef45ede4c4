"""Alert rules shared with a project: they watch that project's jobs and no other, its
members see them (viewers read-only), each member sees and sets only their own channels,
and each reads the alerts on their own. Delivered to a real HTTP receiver."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from jobs import services
from jobs.diagnostics.alerts import rules_evaluate_time
from jobs.diagnostics.delivery import rule_deliveries_send
from jobs.models import AlertDelivery, FiredAlert, JobStatus, Membership, Project, Role
from tests.factories import make_job, make_token, make_user
from tests.support.receivers import HttpReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.TUNEBOARD_ALERT_ALLOW_PRIVATE = True


@pytest.fixture
def receiver():
    made = HttpReceiver()
    yield made
    made.close()


@pytest.fixture
def team():
    """A members-only project with an admin, an editor and a viewer, and an outsider."""
    project = Project.objects.create(name="Vision", slug="vision", everyone_role="")
    users = {}
    for name, role in (("ada", Role.ADMIN), ("ed", Role.EDITOR), ("vi", Role.VIEWER)):
        users[name] = make_user(name)
        Membership.objects.create(project=project, user=users[name], role=role)
    users["out"] = make_user("out")
    return project, users


def client_of(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(user)[1]}")
    return client


def nan(job, step=1):
    services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": step, "value": "nan"}])


def shared_rule(owner, project, **fields):
    return services.alert_rule_create(
        owner=owner,
        name=fields.pop("name", "loss is NaN"),
        condition=fields.pop("condition", {"type": "nan", "key": "train/loss"}),
        project=project.slug,
        **fields,
    )


def test_a_project_rule_fires_on_the_projects_jobs_and_never_on_another_projects(team):
    project, users = team
    inside = make_job(status=JobStatus.RUNNING, project=project)
    # The admin may see every job of the default project too: the rule must not follow.
    outside = make_job(status=JobStatus.RUNNING)
    Membership.objects.create(project=outside.project, user=users["ada"], role=Role.ADMIN)
    shared_rule(users["ada"], project)
    nan(outside)
    assert FiredAlert.objects.count() == 0
    nan(inside)
    assert [a.job for a in FiredAlert.objects.all()] == [inside]


def test_a_project_stall_rule_checks_only_the_projects_running_jobs(team):
    project, users = team
    inside = make_job(status=JobStatus.RUNNING, project=project)
    make_job(status=JobStatus.RUNNING)
    shared_rule(users["ed"], project, name="stalled", condition={"type": "stall", "minutes": 10})
    # Half an hour later, neither job having reported since.
    rules_evaluate_time(now=timezone.now() + timedelta(minutes=30))
    assert [a.job for a in FiredAlert.objects.all()] == [inside]


def test_only_editors_and_admins_share_a_rule_with_a_project(team):
    _project, users = team
    response = client_of(users["vi"]).post(
        "/api/alert-rules",
        {"name": "x", "project": "vision", "condition": {"type": "nan", "key": "k"}},
        format="json",
    )
    assert response.status_code == 400
    assert "project" in response.json()
    outsider = client_of(users["out"]).post(
        "/api/alert-rules",
        {"name": "x", "project": "vision", "condition": {"type": "nan", "key": "k"}},
        format="json",
    )
    assert outsider.status_code == 400 and "project" in outsider.json()
    made = client_of(users["ed"]).post(
        "/api/alert-rules",
        {
            "name": "loss is NaN",
            "project": "vision",
            "severity": "critical",
            "condition": {"type": "nan", "key": "train/loss"},
        },
        format="json",
    )
    assert made.status_code == 201, made.json()
    assert made.json()["project"] == "vision" and made.json()["severity"] == "critical"


def test_a_project_rules_scope_job_must_be_in_the_project(team):
    _project, users = team
    elsewhere = make_job(status=JobStatus.RUNNING)
    response = client_of(users["ada"]).post(
        "/api/alert-rules",
        {
            "name": "x",
            "project": "vision",
            "scope": {"job": elsewhere.uid},
            "condition": {"type": "nan", "key": "k"},
        },
        format="json",
    )
    assert response.status_code == 400
    assert "job" in response.json()["scope"]


def test_members_see_a_project_rule_viewers_read_only_outsiders_not_at_all(team):
    project, users = team
    rule = shared_rule(users["ada"], project)
    listed = {
        name: {r["id"]: r for r in client_of(users[name]).get("/api/alert-rules").json()}
        for name in ("ada", "ed", "vi", "out")
    }
    assert listed["ada"][rule.pk]["editable"] is True
    assert listed["ed"][rule.pk]["editable"] is True
    assert listed["vi"][rule.pk]["editable"] is False
    assert rule.pk not in listed["out"]

    viewer = client_of(users["vi"])
    assert (
        viewer.patch(f"/api/alert-rules/{rule.pk}", {"severity": "info"}, format="json").status_code
        == 403
    )
    assert viewer.delete(f"/api/alert-rules/{rule.pk}").status_code == 403
    # A viewer may still choose where they themselves hear of it: their own channels.
    vi_mail, _ = services.alert_channel_create(
        owner=users["vi"], name="vi mail", kind="email", target="vi@example.org"
    )
    mine = viewer.patch(f"/api/alert-rules/{rule.pk}", {"channels": [vi_mail.pk]}, format="json")
    assert mine.status_code == 200 and mine.json()["channels"] == [vi_mail.pk]
    mixed = {"channels": [], "severity": "info"}
    assert viewer.patch(f"/api/alert-rules/{rule.pk}", mixed, format="json").status_code == 403
    outsider = client_of(users["out"])
    assert (
        outsider.patch(f"/api/alert-rules/{rule.pk}", {"name": "y"}, format="json").status_code
        == 404
    )
    assert outsider.delete(f"/api/alert-rules/{rule.pk}").status_code == 404

    editor = client_of(users["ed"])
    changed = editor.patch(
        f"/api/alert-rules/{rule.pk}", {"severity": "critical", "op": ">"}, format="json"
    )
    assert changed.status_code == 400 and "non_field_errors" in changed.json()
    rule.refresh_from_db()
    assert rule.severity == "warning"  # nothing saved half
    changed = editor.patch(f"/api/alert-rules/{rule.pk}", {"severity": "critical"}, format="json")
    assert changed.status_code == 200 and changed.json()["severity"] == "critical"
    assert editor.delete(f"/api/alert-rules/{rule.pk}").status_code == 204


def test_each_member_sees_and_sets_only_their_own_channels_and_each_is_notified(team, receiver):
    project, users = team
    job = make_job(status=JobStatus.RUNNING, project=project)
    ada_hook, _ = services.alert_channel_create(
        owner=users["ada"], name="ada hook", kind="slack", target=receiver.url + "/ada"
    )
    ed_hook, _ = services.alert_channel_create(
        owner=users["ed"], name="ed hook", kind="slack", target=receiver.url + "/ed"
    )
    rule = shared_rule(users["ada"], project, channels=[ada_hook.pk])
    editor = client_of(users["ed"])
    seen = editor.get("/api/alert-rules").json()
    assert [r["channels"] for r in seen if r["id"] == rule.pk] == [[]]
    # Naming another member's channel is refused as unknown.
    refused = editor.patch(
        f"/api/alert-rules/{rule.pk}", {"channels": [ada_hook.pk]}, format="json"
    )
    assert refused.status_code == 400 and "channels" in refused.json()
    set_ = editor.patch(f"/api/alert-rules/{rule.pk}", {"channels": [ed_hook.pk]}, format="json")
    assert set_.status_code == 200 and set_.json()["channels"] == [ed_hook.pk]
    assert set(rule.channels.values_list("pk", flat=True)) == {ada_hook.pk, ed_hook.pk}

    nan(job)
    assert rule_deliveries_send() == 2
    receiver.wait_for(2)
    assert all("loss is NaN" in body["text"] for body in receiver.bodies)
    # Each member's delivery log shows their own channel only.
    logs = {
        name: client_of(users[name]).get("/api/alerts").json()["results"][0]["deliveries"]
        for name in ("ada", "ed", "vi")
    }
    assert [d["channel"] for d in logs["ada"]] == ["ada hook"]
    assert [d["channel"] for d in logs["ed"]] == ["ed hook"]
    assert logs["vi"] == []
    assert client_of(users["out"]).get("/api/alerts").json()["results"] == []


def test_a_member_who_left_the_project_hears_no_more_of_its_jobs(team, receiver):
    project, users = team
    job = make_job(status=JobStatus.RUNNING, project=project)
    ed_hook, _ = services.alert_channel_create(
        owner=users["ed"], name="ed hook", kind="slack", target=receiver.url
    )
    shared_rule(users["ed"], project, channels=[ed_hook.pk])
    Membership.objects.filter(user=users["ed"]).delete()
    nan(job)
    assert FiredAlert.objects.filter(job=job).count() == 1  # the project's rule still holds
    assert AlertDelivery.objects.count() == 0


def test_each_member_reads_a_project_alert_on_their_own(team):
    project, users = team
    job = make_job(status=JobStatus.RUNNING, project=project)
    shared_rule(users["ada"], project)
    nan(job)
    ada, vi = client_of(users["ada"]), client_of(users["vi"])
    assert ada.get("/api/alerts").json()["unread"] == 1
    assert ada.post("/api/alerts/read", {}, format="json").json() == {"marked": 1}
    assert ada.get("/api/alerts").json()["unread"] == 0
    assert ada.get("/api/alerts").json()["results"][0]["read"] is True
    assert vi.get("/api/alerts").json()["unread"] == 1
    assert vi.get("/api/alerts").json()["results"][0]["read"] is False


def test_the_firing_badges_count_the_rules_a_reader_sees_with_the_worst_severity(team):
    project, users = team
    job = make_job(status=JobStatus.RUNNING, project=project)
    quiet = make_job(status=JobStatus.RUNNING, project=project)
    shared_rule(users["ada"], project, name="nan", severity="info")
    shared_rule(
        users["ada"],
        project,
        name="too high",
        severity="critical",
        condition={"type": "threshold", "key": "train/loss", "op": ">", "value": 5},
    )
    # A personal rule of the editor: it counts for the editor only.
    services.alert_rule_create(
        owner=users["ed"], name="mine", condition={"type": "nan", "key": "train/loss"}
    )
    nan(job, step=1)
    services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": 2, "value": 9.0}])
    # The NaN rule resolved at step 2 (a finite value); "too high" fires.
    vi = client_of(users["vi"]).get("/api/alerts/firing").json()["jobs"]
    assert vi == {job.uid: {"count": 1, "severity": "critical", "rules": ["too high"]}}
    ed = client_of(users["ed"]).get("/api/alerts/firing").json()["jobs"]
    assert ed[job.uid]["count"] == 1  # "mine" resolved at step 2 as well
    services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": 3, "value": "nan"}])
    # NaN again: both NaN rules fire anew, "too high" resolves (NaN is not above 5).
    ed = client_of(users["ed"]).get(f"/api/alerts/firing?job={job.uid}").json()["jobs"]
    assert ed == {job.uid: {"count": 2, "severity": "warning", "rules": ["mine", "nan"]}}
    assert quiet.uid not in ed
    assert client_of(users["out"]).get("/api/alerts/firing").json() == {"jobs": {}}
    assert client_of(users["out"]).get(f"/api/alerts/firing?job={job.uid}").status_code == 404


def test_an_editors_read_only_token_neither_shares_nor_changes_project_rules(team):
    project, users = team
    rule = shared_rule(users["ada"], project)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(users['ed'], role='viewer')[1]}")
    made = client.post(
        "/api/alert-rules",
        {"name": "x", "project": "vision", "condition": {"type": "nan", "key": "k"}},
        format="json",
    )
    assert made.status_code == 400 and "project" in made.json()
    listed = {r["id"]: r for r in client.get("/api/alert-rules").json()}
    assert listed[rule.pk]["editable"] is False
    changed = client.patch(f"/api/alert-rules/{rule.pk}", {"severity": "info"}, format="json")
    assert changed.status_code == 403
    assert client.delete(f"/api/alert-rules/{rule.pk}").status_code == 403
