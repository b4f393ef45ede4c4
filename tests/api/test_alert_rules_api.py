"""The alerts API: channels, rules, fired alerts; bad input named, nothing saved half."""

import pytest
from rest_framework.test import APIClient

from jobs import services
from jobs.models import AlertChannel, AlertRule, JobStatus
from tests.factories import make_job, make_user
from tests.support.receivers import HttpReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver():
    hook = HttpReceiver()
    yield hook
    hook.close()


def test_creating_a_webhook_channel_shows_its_secret_once(token_client, settings, receiver):
    settings.TUNEBOARD_ALERT_ALLOW_PRIVATE = True
    response = token_client.post(
        "/api/alert-channels",
        {"name": "ops", "kind": "webhook", "target": receiver.url},
        format="json",
    )
    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["kind"] == "webhook" and len(created["secret"]) == 48
    listed = token_client.get("/api/alert-channels").json()
    assert listed == [{k: v for k, v in created.items() if k != "secret"}]


def test_an_email_channel_has_no_secret(token_client):
    response = token_client.post(
        "/api/alert-channels",
        {"name": "me", "kind": "email", "target": "me@example.org"},
        format="json",
    )
    assert response.status_code == 201 and "secret" not in response.json()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "x", "kind": "email", "target": "not-an-address"}, {"target"}),
        ({"name": "x", "kind": "slack", "target": "ftp://example.org/x"}, {"target"}),
        ({"name": "x", "kind": "pager", "target": "a@b.org"}, {"kind"}),
        ({"name": "", "kind": "email", "target": "a@b.org"}, {"name"}),
        ({"kind": "email", "target": "a@b.org"}, {"name"}),
    ],
)
def test_bad_channels_get_a_400_naming_the_field(token_client, body, error):
    response = token_client.post("/api/alert-channels", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == error
    assert AlertChannel.objects.count() == 0


def test_webhooks_on_loopback_are_refused_unless_allowed(token_client, receiver, settings):
    body = {"name": "x", "kind": "webhook", "target": receiver.url}
    response = token_client.post("/api/alert-channels", body, format="json")
    assert response.status_code == 400
    assert "private or loopback" in response.json()["target"][0]
    for url in ("http://10.0.0.5/hook", "http://169.254.169.254/latest", "http://[::1]:9/x"):
        body["target"] = url
        assert token_client.post("/api/alert-channels", body, format="json").status_code == 400
    settings.TUNEBOARD_ALERT_ALLOW_PRIVATE = True
    body["target"] = receiver.url
    assert token_client.post("/api/alert-channels", body, format="json").status_code == 201


def test_send_test_posts_to_the_channel_and_reports_the_outcome(token_client, receiver, settings):
    settings.TUNEBOARD_ALERT_ALLOW_PRIVATE = True
    channel = token_client.post(
        "/api/alert-channels", {"name": "team", "kind": "slack", "target": receiver.url}, "json"
    ).json()
    response = token_client.post(f"/api/alert-channels/{channel['id']}/test")
    assert response.json() == {"ok": True, "detail": "HTTP 200"}
    assert "test of the alert channel 'team'" in receiver.bodies[0]["text"]


def test_a_rule_is_created_listed_with_its_condition_in_words_and_deleted(token_client, user):
    channel, _ = services.alert_channel_create(
        owner=user, name="me", kind="email", target="me@example.org"
    )
    job = make_job(uid="llama-1")
    body = {
        "name": "val loss high",
        "scope": {"job": "llama-1"},
        "condition": {
            "type": "threshold",
            "key": "val/loss",
            "op": ">",
            "value": 2,
            "for_points": 3,
        },
        "channels": [channel.pk],
        "cooldown_minutes": 30,
    }
    response = token_client.post("/api/alert-rules", body, format="json")
    assert response.status_code == 201, response.json()
    rule = response.json()
    assert rule["condition_text"] == "val/loss > 2 for 3 points"
    assert rule["scope"] == {"job": job.uid} and rule["channels"] == [channel.pk]
    assert token_client.get("/api/alert-rules").json() == [rule]
    assert token_client.delete(f"/api/alert-rules/{rule['id']}").status_code == 204
    assert token_client.get("/api/alert-rules").json() == []


@pytest.mark.parametrize(
    ("condition", "field"),
    [
        ({"type": "threshold", "key": "val/loss", "op": "=~", "value": 2}, "op"),
        ({"type": "threshold", "key": 5, "op": ">", "value": 2}, "key"),
        ({"type": "threshold", "key": "val/loss", "op": ">", "value": "two"}, "value"),
        (
            {"type": "threshold", "key": "val/loss", "op": ">", "value": 1, "for_points": 0},
            "for_points",
        ),
        ({"type": "event", "events": ["exploded"]}, "events"),
        ({"type": "stall"}, "minutes"),
        ({"type": "no_improvement", "key": "val/loss", "evaluations": 1.5}, "evaluations"),
        ({"type": "throughput", "below": "fast", "minutes": 5}, "below"),
        ({"type": "finding", "kinds": []}, "kinds"),
        ({"type": "vibes"}, "type"),
    ],
)
def test_bad_conditions_get_a_400_naming_the_field_and_save_nothing(token_client, condition, field):
    response = token_client.post(
        "/api/alert-rules", {"name": "r", "condition": condition}, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["condition"], response.json()
    assert AlertRule.objects.count() == 0


def test_other_fields_are_named_too(token_client):
    other = make_user("bob")
    theirs, _ = services.alert_channel_create(
        owner=other, name="bob", kind="email", target="bob@example.org"
    )
    response = token_client.post(
        "/api/alert-rules",
        {
            "name": "r",
            "condition": {"type": "nan", "key": "train/loss"},
            "scope": {"job": "no-such-job"},
            "channels": [theirs.pk],
            "cooldown_minutes": -1,
            "action": "explode",
        },
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"scope", "channels", "cooldown_minutes", "action"}
    assert "job" in errors["scope"]
    assert AlertRule.objects.count() == 0


def test_the_fired_alerts_list_is_the_users_own_newest_first_with_deliveries(token_client, user):
    channel, _ = services.alert_channel_create(
        owner=user, name="me", kind="email", target="me@example.org"
    )
    services.alert_rule_create(
        owner=user,
        name="failures",
        condition={"type": "event", "events": ["failed", "completed"]},
        channels=[channel.pk],
    )
    bob = make_user("bob")
    services.alert_rule_create(
        owner=bob, name="bob's", condition={"type": "event", "events": ["failed"]}
    )
    first = make_job(status=JobStatus.RUNNING, uid="first")
    services.job_status_update(job=first, status="failed")
    second = make_job(status=JobStatus.RUNNING, uid="second")
    services.job_status_update(job=second, status="completed")
    page = token_client.get("/api/alerts").json()
    assert page["unread"] == 2
    assert [a["job"]["uid"] for a in page["results"]] == ["second", "first"]
    assert page["results"][1]["message"].startswith("Job failed: ")
    assert page["results"][0]["deliveries"] == [
        {
            "channel": "me",
            "kind": "email",
            "event": "fired",
            "attempts": 0,
            "last_error": "",
            "delivered_at": None,
            "next_attempt_at": page["results"][0]["deliveries"][0]["next_attempt_at"],
        }
    ]
    assert token_client.post("/api/alerts/read", {}, format="json").json() == {"marked": 2}
    assert token_client.get("/api/alerts").json()["unread"] == 0


def test_a_signed_in_session_manages_rules_with_csrf(user):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(
        "/api/alert-rules",
        {"name": "r", "condition": {"type": "stall", "minutes": 5}},
        format="json",
    )
    assert response.status_code == 403  # no CSRF token
    assert client.get("/api/alert-rules").status_code == 200


def test_anonymous_callers_are_refused(api_client):
    assert api_client.get("/api/alerts").status_code in (401, 403)
    assert api_client.post("/api/alert-rules", {}, format="json").status_code in (401, 403)


def test_anothers_channel_or_rule_answers_404(token_client):
    bob = make_user("bob")
    channel, _ = services.alert_channel_create(
        owner=bob, name="bob", kind="email", target="bob@example.org"
    )
    rule = services.alert_rule_create(
        owner=bob, name="r", condition={"type": "stall", "minutes": 5}
    )
    assert token_client.post(f"/api/alert-channels/{channel.pk}/test").status_code == 404
    assert token_client.delete(f"/api/alert-channels/{channel.pk}").status_code == 404
    assert token_client.delete(f"/api/alert-rules/{rule.pk}").status_code == 404
