"""The pages with alert rules shared with a project: the firing badge on the dashboard's
cards and the job page's title, and the settings page's shared rules (read-only for a
viewer, showing only the reader's own channels)."""

import re

import pytest
from django.test import Client

from jobs import services
from jobs.models import JobStatus, Membership, Project, Role
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    project = Project.objects.create(name="Vision", slug="vision", everyone_role="")
    users = {name: make_user(name) for name in ("ada", "vi", "out")}
    Membership.objects.create(project=project, user=users["ada"], role=Role.ADMIN)
    Membership.objects.create(project=project, user=users["vi"], role=Role.VIEWER)
    return project, users


def signed_in(user):
    client = Client()
    client.force_login(user)
    return client


def badge(html, attr):
    match = re.search(
        rf'<span class="rule-badge rule-badge--(\w+)" {attr}[^>]*>([^<]*)</span>', html
    )
    hidden = match and "hidden" in match.group(0)
    return None if match is None or hidden else (match.group(1), match.group(2))


def firing_job(project, owner):
    job = make_job(status=JobStatus.RUNNING, project=project)
    services.alert_rule_create(
        owner=owner,
        name="loss is NaN",
        condition={"type": "nan", "key": "train/loss"},
        project=project.slug,
        severity="critical",
    )
    services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": 1, "value": "nan"}])
    return job


def test_a_firing_project_rule_shows_on_the_members_cards_and_job_page(team):
    project, users = team
    job = firing_job(project, users["ada"])
    viewer = signed_in(users["vi"])
    dashboard = viewer.get("/").content.decode()
    assert badge(dashboard, 'data-f="firing"') == ("critical", "1")
    page = viewer.get(f"/job/{job.uid}").content.decode()
    assert badge(page, 'id="job-firing"') == ("critical", "1")
    assert "Firing: loss is NaN" in page


def test_a_card_with_nothing_firing_has_its_badge_hidden(team):
    project, users = team
    make_job(status=JobStatus.RUNNING, project=project)
    html = signed_in(users["vi"]).get("/").content.decode()
    assert 'data-f="firing"' in html
    assert badge(html, 'data-f="firing"') is None


def test_a_viewer_sees_a_shared_rule_read_only_and_none_of_its_makers_channels(team):
    _project, users = team
    channel, _ = services.alert_channel_create(
        owner=users["ada"], name="ada private mail", kind="email", target="ada@example.org"
    )
    services.alert_rule_create(
        owner=users["ada"],
        name="team rule",
        condition={"type": "event", "events": ["failed"]},
        project="vision",
        channels=[channel.pk],
    )
    viewer_html = signed_in(users["vi"]).get("/settings/alerts").content.decode()
    assert "team rule" in viewer_html and "shared with Vision" in viewer_html
    assert "read-only" in viewer_html and "Delete rule team rule" not in viewer_html
    assert "ada private mail" not in viewer_html and "ada@example.org" not in viewer_html
    # A viewer may not share rules with the project: it is not among the form's choices.
    assert 'value="vision"' not in viewer_html
    admin_html = signed_in(users["ada"]).get("/settings/alerts").content.decode()
    assert "Delete rule team rule" in admin_html and "→ ada private mail" in admin_html
    assert 'value="vision"' in admin_html
    assert "team rule" not in signed_in(users["out"]).get("/settings/alerts").content.decode()


def test_the_rule_form_shares_a_rule_with_a_project(team):
    _project, users = team
    response = signed_in(users["ada"]).post(
        "/settings/alerts",
        {
            "do": "rule",
            "name": "team nan",
            "project": "vision",
            "severity": "critical",
            "type": "nan",
            "key": "train/loss",
            "cooldown_minutes": "0",
        },
    )
    assert response.status_code == 302
    html = signed_in(users["vi"]).get("/settings/alerts").content.decode()
    assert "team nan" in html and "shared with Vision" in html


def test_a_viewer_picks_their_own_channels_for_a_shared_rule_on_the_page(team):
    _project, users = team
    rule = services.alert_rule_create(
        owner=users["ada"],
        name="team rule",
        condition={"type": "event", "events": ["failed"]},
        project="vision",
    )
    mail, _ = services.alert_channel_create(
        owner=users["vi"], name="vi mail", kind="email", target="vi@example.org"
    )
    viewer = signed_in(users["vi"])
    response = viewer.post(
        "/settings/alerts", {"do": "rule-channels", "rule": str(rule.pk), "channels": [mail.pk]}
    )
    assert response.status_code == 302
    assert list(rule.channels.all()) == [mail]
    assert "→ vi mail" in viewer.get("/settings/alerts").content.decode()
    # The rule's maker does not see the viewer's channel.
    assert "vi mail" not in signed_in(users["ada"]).get("/settings/alerts").content.decode()
