"""The /settings/alerts page: lists, forms with inline errors, send test, delete; the
bell and "Notify me…" on the pages."""

import pytest
from django.test import Client

from jobs import services
from jobs.models import AlertChannel, AlertRule, JobStatus
from tests.factories import make_job
from tests.support.receivers import HttpReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_page_needs_a_signed_in_user():
    response = Client().get("/settings/alerts")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_page_lists_channels_and_rules_with_the_condition_in_words(client, user):
    channel, _ = services.alert_channel_create(
        owner=user, name="my mail", kind="email", target="me@example.org"
    )
    services.alert_rule_create(
        owner=user,
        name="val loss high",
        condition={"type": "threshold", "key": "val/loss", "op": ">", "value": 2, "for_points": 3},
        scope={"tag": "lora"},
        channels=[channel.pk],
    )
    html = client.get("/settings/alerts").content.decode()
    assert "my mail" in html and "me@example.org" in html and "Send test" in html
    assert "val/loss &gt; 2 for 3 points" in html and "#lora" in html and "→ my mail" in html


def test_creating_a_rule_with_bad_input_shows_inline_errors_and_saves_nothing(client):
    response = client.post(
        "/settings/alerts",
        {"do": "rule", "name": "r", "type": "threshold", "key": "", "op": ">", "value": "two"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="err-key" role="alert">A metric key' in html
    assert "A number is required." in html
    assert 'value="two"' in html  # the form keeps what was typed
    assert AlertRule.objects.count() == 0


def test_creating_a_rule_from_the_form_stores_it(client, user):
    channel, _ = services.alert_channel_create(
        owner=user, name="me", kind="email", target="me@example.org"
    )
    job = make_job(uid="llama-7")
    response = client.post(
        "/settings/alerts",
        {
            "do": "rule",
            "name": "failures",
            "type": "event",
            "events": ["failed", "cancelled"],
            "scope_job": job.uid,
            "channels": [str(channel.pk)],
            "cooldown_minutes": "5",
            "action_kind": "notify",
        },
    )
    assert response.status_code == 302
    rule = AlertRule.objects.get()
    assert rule.condition == {"type": "event", "events": ["failed", "cancelled"]}
    assert rule.scope == {"job": "llama-7"} and list(rule.channels.all()) == [channel]


def test_a_webhook_channel_shows_its_secret_once(client, settings):
    settings.TUNEBOARD_ALERT_ALLOW_PRIVATE = True
    response = client.post(
        "/settings/alerts",
        {"do": "channel", "name": "ops", "kind": "webhook", "target": "http://127.0.0.1:9/x"},
    )
    secret = AlertChannel.objects.get().secret
    assert secret in response.content.decode()
    assert secret not in client.get("/settings/alerts").content.decode()


def test_a_bad_channel_target_is_an_inline_error(client):
    response = client.post(
        "/settings/alerts", {"do": "channel", "name": "me", "kind": "email", "target": "nope"}
    )
    assert response.status_code == 400
    assert "Enter a valid email address." in response.content.decode()
    assert AlertChannel.objects.count() == 0


def test_send_test_reports_the_outcome_on_the_page(client, user, settings):
    settings.TUNEBOARD_ALERT_ALLOW_PRIVATE = True
    hook = HttpReceiver(statuses=[500])
    try:
        channel, _ = services.alert_channel_create(
            owner=user, name="team", kind="slack", target=hook.url
        )
        response = client.post("/settings/alerts", {"do": "test", "channel": channel.pk})
        assert "Test failed: HTTP 500" in response.content.decode()
        response = client.post("/settings/alerts", {"do": "test", "channel": channel.pk})
        assert "Test sent (HTTP 200)." in response.content.decode()
    finally:
        hook.close()


def test_notify_me_opens_the_rule_form_with_the_job_scope(client):
    job = make_job(uid="mistral-3", status=JobStatus.RUNNING)
    page = client.get(f"/job/{job.uid}").content.decode()
    assert "/settings/alerts?job=mistral-3#rule-sheet" in page and "Notify me…" in page
    assert 'id="bell"' in page
    form = client.get("/settings/alerts?job=mistral-3").content.decode()
    assert 'name="scope_job" value="mistral-3"' in form


def test_the_job_page_lists_the_readers_alerts_on_the_job(client, user):
    services.alert_rule_create(
        owner=user, name="nan watch", condition={"type": "nan", "key": "train/loss"}
    )
    job = make_job(uid="nan-job", status=JobStatus.RUNNING)
    services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": 1, "value": "nan"}])
    page = client.get(f"/job/{job.uid}").content.decode()
    assert "Your alerts on this job" in page and "nan watch" in page
