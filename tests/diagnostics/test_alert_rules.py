"""Users' alert rules: evaluated where the data arrives and by the watcher, delivered by
real email (aiosmtpd), a real Slack-shaped receiver and a real signed JSON webhook."""

import hashlib
import hmac
import json
import math
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from jobs.diagnostics.alerts import alerts_pass, rules_evaluate_time
from jobs.diagnostics.delivery import RULE_MAX_ATTEMPTS, rule_deliveries_send
from jobs.models import AlertDelivery, AuditEvent, FiredAlert, Job, JobStatus, MetricPoint
from tests.factories import make_job, make_user
from tests.support.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    # The receivers run on loopback, which channels refuse unless an admin allows it.
    settings.TUNEBOARD_ALERT_ALLOW_PRIVATE = True
    settings.TUNEBOARD_BASE_URL = "https://tuneboard.example.org"


@pytest.fixture
def owner():
    return make_user("owner")


@pytest.fixture
def http_receiver():
    made = []

    def make(statuses=()):
        made.append(HttpReceiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def smtp(settings):
    receiver = SmtpReceiver()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", receiver.port
    settings.DEFAULT_FROM_EMAIL = "alerts@tuneboard.example.org"
    yield receiver
    receiver.close()


def rule(owner, condition, *, channels=(), **fields):
    return services.alert_rule_create(
        owner=owner,
        name=fields.pop("name", "rule"),
        condition=condition,
        channels=[c.pk for c in channels],
        **fields,
    )


def post(job, key, step, value):
    services.metrics_ingest(job=job, points=[{"key": key, "step": step, "value": value}])


def fired(job):
    return list(FiredAlert.objects.filter(job=job).order_by("fired_at", "id"))


# --- evaluation on ingest ------------------------------------------------------------------


def test_a_threshold_for_three_points_fires_once_at_the_third_point_not_the_second(owner):
    job = make_job(status=JobStatus.RUNNING)
    rule(owner, {"type": "threshold", "key": "val/loss", "op": ">", "value": 2, "for_points": 3})
    post(job, "val/loss", 1, 2.5)
    post(job, "val/loss", 2, 2.6)
    assert fired(job) == []
    post(job, "val/loss", 3, 2.7)
    [alert] = fired(job)
    assert alert.episode == "step:3" and alert.value == 2.7
    assert alert.message.startswith("val/loss > 2 for 3 points: 2.7 at step 3")
    post(job, "val/loss", 4, 2.8)
    post(job, "val/loss", 5, 2.9)
    assert len(fired(job)) == 1 and fired(job)[0].resolved_at is None


def test_a_threshold_resolves_when_it_clears_and_the_cooldown_holds_off_the_next(owner):
    job = make_job(status=JobStatus.RUNNING)
    rule(
        owner,
        {"type": "threshold", "key": "val/loss", "op": ">", "value": 2, "for_points": 3},
        cooldown_minutes=30,
    )
    services.metrics_ingest(
        job=job, points=[{"key": "val/loss", "step": s, "value": 3.0} for s in (1, 2, 3)]
    )
    [alert] = fired(job)
    post(job, "val/loss", 4, 1.5)
    alert.refresh_from_db()
    assert alert.resolved_at is not None and "resolved: 1.5 at step 4" in alert.message
    # Holding again for three points within the cooldown: nothing new.
    services.metrics_ingest(
        job=job, points=[{"key": "val/loss", "step": s, "value": 3.0} for s in (5, 6, 7)]
    )
    assert len(fired(job)) == 1
    # Once the cooldown has passed, the next episode fires.
    FiredAlert.objects.filter(pk=alert.pk).update(fired_at=timezone.now() - timedelta(hours=1))
    post(job, "val/loss", 8, 1.0)
    services.metrics_ingest(
        job=job, points=[{"key": "val/loss", "step": s, "value": 3.0} for s in (9, 10, 11)]
    )
    assert [a.episode for a in fired(job)] == ["step:3", "step:11"]


def test_a_retried_batch_fires_nothing_twice(owner):
    job = make_job(status=JobStatus.RUNNING)
    rule(owner, {"type": "threshold", "key": "val/loss", "op": ">", "value": 2, "for_points": 2})
    batch = [{"key": "val/loss", "step": s, "value": 3.0} for s in (1, 2)]
    services.metrics_ingest(job=job, points=batch)
    post(job, "val/loss", 3, 1.0)  # resolves
    services.metrics_ingest(job=job, points=batch)  # the client's retry of the first batch
    assert [a.episode for a in fired(job)] == ["step:2"]


def test_nan_fires_and_stop_action_requests_the_job_to_stop(owner):
    job = make_job(status=JobStatus.RUNNING)
    rule(owner, {"type": "nan", "key": "train/loss"}, action="stop")
    post(job, "train/loss", 1, 0.5)
    assert fired(job) == []
    post(job, "train/loss", 2, "nan")
    [alert] = fired(job)
    # SQLite stores no NaN (NULL, as metric points do); the message says it.
    assert alert.value is None or math.isnan(alert.value)
    assert alert.episode == "step:2" and "is NaN or infinite: NaN at step 2" in alert.message
    job.refresh_from_db()
    assert job.stop_requested_at is not None
    # Recorded like a stop from the page, naming the rule that asked.
    [event] = AuditEvent.objects.filter(action="job.stop", job=job)
    assert event.actor is None and event.detail["rule"] == alert.rule.name


def test_no_improvement_fires_after_n_evaluations_without_a_new_best(owner):
    job = make_job(status=JobStatus.RUNNING)
    rule(owner, {"type": "no_improvement", "key": "val/loss", "evaluations": 3})
    for step, value in [(1, 1.0), (2, 0.8), (3, 0.9), (4, 0.85)]:
        post(job, "val/loss", step, value)
    assert fired(job) == []
    post(job, "val/loss", 5, 0.81)
    [alert] = fired(job)
    assert alert.episode == "best:2" and "best 0.8 at step 2" in alert.message
    post(job, "val/loss", 6, 0.7)
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_rules_outside_their_scope_or_key_stay_quiet(owner):
    job = make_job(status=JobStatus.RUNNING, tags=["lora"], model="llama")
    other = make_job(status=JobStatus.RUNNING, tags=["full"], model="llama")
    rule(owner, {"type": "nan", "key": "train/loss"}, scope={"tag": "lora"})
    rule(owner, {"type": "nan", "key": "val/loss"}, scope={"job": other.uid})
    post(other, "train/loss", 1, "nan")
    post(job, "val/loss", 1, "nan")
    assert FiredAlert.objects.count() == 0
    post(job, "train/loss", 1, "nan")
    assert FiredAlert.objects.get().job == job


def test_a_rule_on_a_job_its_owner_cannot_see_never_fires(owner):
    from jobs.models import Project

    secret = Project.objects.create(name="Secret", slug="secret", everyone_role="")
    job = make_job(status=JobStatus.RUNNING, project=secret)
    rule(owner, {"type": "nan", "key": "train/loss"})
    post(job, "train/loss", 1, "nan")
    assert FiredAlert.objects.count() == 0


def test_a_rule_made_in_another_process_is_seen_at_the_next_batch(owner):
    job = make_job(status=JobStatus.RUNNING)
    post(job, "train/loss", 1, 0.1)  # this process has read the (empty) rule set
    made = rule(owner, {"type": "nan", "key": "train/loss"})
    # Another process changes the version number only (its cache is not ours).
    from jobs.services import alert_firing

    alert_firing._cache.version = -1
    alert_firing._cache.index = alert_firing.RuleIndex([])
    post(job, "train/loss", 2, "nan")
    assert FiredAlert.objects.get().rule == made


# --- time conditions (the watcher) ----------------------------------------------------------


def test_a_stall_fires_after_n_minutes_without_heartbeat_and_resolves_when_it_returns(owner):
    job = make_job(status=JobStatus.RUNNING)
    rule(owner, {"type": "stall", "minutes": 10})
    beat = Job.objects.get(pk=job.pk).last_heartbeat
    assert rules_evaluate_time(now=beat + timedelta(minutes=9)) == []
    [alert] = rules_evaluate_time(now=beat + timedelta(minutes=10, seconds=1))
    assert alert.message.startswith("no heartbeat for 10 min: 10")
    # A second watcher (or the next pass) finds the same stall: nothing new.
    assert rules_evaluate_time(now=beat + timedelta(minutes=12)) == []
    assert len(fired(job)) == 1
    services.job_status_update(job=job, step=5)  # a heartbeat
    beat = Job.objects.get(pk=job.pk).last_heartbeat
    assert rules_evaluate_time(now=beat + timedelta(minutes=1)) == []
    alert.refresh_from_db()
    assert alert.resolved_at is not None


def test_throughput_below_the_floor_for_n_minutes_fires(owner):
    job = make_job(status=JobStatus.RUNNING)
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(started_at=now - timedelta(minutes=30))
    job.refresh_from_db()
    # 0.1 steps/s: one step every 10 s over the last 20 minutes.
    MetricPoint.objects.bulk_create(
        MetricPoint(
            job=job,
            key="train/loss",
            step=step,
            value=1.0,
            wall_time=now - timedelta(seconds=1200 - 10 * step),
        )
        for step in range(120)
    )
    rule(owner, {"type": "throughput", "below": 1, "minutes": 10})
    rule(owner, {"type": "throughput", "below": 0.05, "minutes": 10}, name="lenient")
    [alert] = rules_evaluate_time(now=now)
    assert alert.rule.name == "rule" and 0.09 < alert.value < 0.11


# --- event conditions and email --------------------------------------------------------------


def test_a_failed_job_sends_exactly_one_mail_with_the_link_and_the_error(owner, smtp):
    channel, secret = services.alert_channel_create(
        owner=owner, name="me", kind="email", target="alice@example.org"
    )
    assert secret is None
    rule(owner, {"type": "event", "events": ["failed"]}, channels=[channel])
    job = make_job(status=JobStatus.RUNNING, uid="llama-oom")
    services.logs_ingest(job=job, lines=[{"seq": 1, "message": "step 40 loss=0.9"}])
    services.job_status_update(
        job=job, status="failed", error={"message": "CUDA out of memory", "type": "OOMError"}
    )
    now = timezone.now()
    assert rule_deliveries_send(now=now) == 1
    # Later passes (and the watcher's full pass) send nothing more.
    assert rule_deliveries_send(now=now + timedelta(hours=1)) == 0
    alerts_pass(now=now + timedelta(hours=2))
    assert len(smtp.messages) == 1
    sender, recipients, content = smtp.messages[0]
    assert sender == "alerts@tuneboard.example.org" and recipients == ["alice@example.org"]
    assert "https://tuneboard.example.org/job/llama-oom" in content
    assert "OOMError: CUDA out of memory" in content
    assert "step 40 loss=0.9" in content
    delivery = AlertDelivery.objects.get()
    assert delivery.attempts == 1 and delivery.delivered_at


def test_an_unreachable_smtp_server_is_retried_and_logged(owner, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    from tests.support.receivers import free_port

    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    channel, _ = services.alert_channel_create(
        owner=owner, name="me", kind="email", target="alice@example.org"
    )
    rule(owner, {"type": "event", "events": ["completed"]}, channels=[channel])
    job = make_job(status=JobStatus.RUNNING)
    services.job_status_update(job=job, status="completed")
    assert rule_deliveries_send() == 0
    delivery = AlertDelivery.objects.get()
    assert delivery.attempts == 1 and "Connection" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()


# --- webhooks -----------------------------------------------------------------------------------


def test_slack_and_signed_webhook_receive_readable_and_verifiable_payloads(owner, http_receiver):
    slack_hook, json_hook = http_receiver(), http_receiver()
    slack, _ = services.alert_channel_create(
        owner=owner, name="team", kind="slack", target=slack_hook.url
    )
    hook, secret = services.alert_channel_create(
        owner=owner, name="ops", kind="webhook", target=json_hook.url
    )
    assert len(secret) >= 32
    rule(
        owner,
        {"type": "threshold", "key": "val/loss", "op": ">", "value": 2},
        channels=[slack, hook],
        name="val loss high",
    )
    job = make_job(status=JobStatus.RUNNING, uid="mistral-1", name="mistral run")
    post(job, "val/loss", 7, 2.5)
    assert rule_deliveries_send() == 2

    [text] = [body["text"] for body in slack_hook.bodies]
    assert "*val loss high* fired on <https://tuneboard.example.org/job/mistral-1|mistral run>" in (
        text
    )
    assert "val/loss > 2" in text and "2.5" in text
    assert "<https://tuneboard.example.org/job/mistral-1|mistral run>" in text

    [(headers, raw, _)] = json_hook.requests
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Tuneboard-Signature"], f"sha256={expected}")
    body = json.loads(raw)
    assert body["sent_at"] == headers["X-Tuneboard-Timestamp"]
    assert body["event"] == "tuneboard.alert.fired"
    assert body["job"]["url"] == "https://tuneboard.example.org/job/mistral-1"
    assert body["value"] == 2.5 and body["rule"]["condition"] == "val/loss > 2"

    # Clearing sends a "resolved" message to both.
    post(job, "val/loss", 8, 1.0)
    assert rule_deliveries_send() == 2
    assert slack_hook.bodies[-1]["text"].startswith(":white_check_mark: *val loss high* resolved")
    assert json_hook.bodies[-1]["event"] == "tuneboard.alert.resolved"


def test_a_receiver_answering_500_500_200_gets_three_attempts_and_nothing_after(
    owner, http_receiver
):
    hook = http_receiver(statuses=[500, 500])
    channel, _ = services.alert_channel_create(
        owner=owner, name="ops", kind="webhook", target=hook.url
    )
    rule(owner, {"type": "event", "events": ["failed"]}, channels=[channel])
    services.job_status_update(job=make_job(status=JobStatus.RUNNING), status="failed")
    now = timezone.now()
    assert rule_deliveries_send(now=now) == 0
    # Not due again before the backoff.
    assert rule_deliveries_send(now=now + timedelta(seconds=5)) == 0
    assert rule_deliveries_send(now=now + timedelta(minutes=1)) == 0
    assert rule_deliveries_send(now=now + timedelta(minutes=5)) == 1
    for hours in (1, 2, 24):
        assert rule_deliveries_send(now=now + timedelta(hours=hours)) == 0
    assert [code for _, _, code in hook.requests] == [500, 500, 200]
    assert len({json.loads(raw)["id"] for _, raw, _ in hook.requests}) == 1
    delivery = AlertDelivery.objects.get()
    assert delivery.attempts == 3 and delivery.delivered_at and delivery.last_error == ""


def test_a_receiver_that_never_answers_is_given_up_after_the_last_attempt(owner, http_receiver):
    hook = http_receiver(statuses=[503] * 50)
    channel, _ = services.alert_channel_create(
        owner=owner, name="ops", kind="slack", target=hook.url
    )
    rule(owner, {"type": "event", "events": ["failed"]}, channels=[channel])
    services.job_status_update(job=make_job(status=JobStatus.RUNNING), status="failed")
    now = timezone.now()
    for day in range(RULE_MAX_ATTEMPTS + 3):
        rule_deliveries_send(now=now + timedelta(days=day))
    assert len(hook.requests) == RULE_MAX_ATTEMPTS
    assert AlertDelivery.objects.get().last_error == "HTTP 503"


def test_a_claimed_delivery_is_not_sent_by_a_second_deliverer(owner, http_receiver):
    hook = http_receiver()
    channel, _ = services.alert_channel_create(
        owner=owner, name="ops", kind="slack", target=hook.url
    )
    rule(owner, {"type": "event", "events": ["failed"]}, channels=[channel])
    services.job_status_update(job=make_job(status=JobStatus.RUNNING), status="failed")
    delivery = AlertDelivery.objects.get()
    now = timezone.now()
    assert services.alert_delivery_claim(delivery_id=delivery.pk, now=now)
    assert rule_deliveries_send(now=now) == 0  # the other deliverer holds it
    assert not services.alert_delivery_claim(delivery_id=delivery.pk, now=now)
    assert hook.requests == []


def test_a_target_that_resolves_to_a_private_address_is_refused_at_send_time(
    owner, http_receiver, settings
):
    hook = http_receiver()
    channel, _ = services.alert_channel_create(
        owner=owner, name="ops", kind="slack", target=hook.url
    )
    rule(owner, {"type": "event", "events": ["failed"]}, channels=[channel])
    services.job_status_update(job=make_job(status=JobStatus.RUNNING), status="failed")
    settings.TUNEBOARD_ALERT_ALLOW_PRIVATE = False
    assert rule_deliveries_send() == 0
    assert hook.requests == []
    assert "private or loopback" in AlertDelivery.objects.get().last_error


def test_a_diagnostic_finding_fires_a_finding_rule(owner):
    from jobs.diagnostics.alerts import alerts_evaluate

    rule(owner, {"type": "finding", "kinds": ["cuda_oom"]})
    job = services.job_create(name="oom", uid="oom-job")[0]
    services.stage_move(job=job, stage="training", status="active")
    services.job_status_update(
        job=job,
        status="failed",
        error={
            "message": "CUDA out of memory. Tried to allocate 2 GiB",
            "type": "OutOfMemoryError",
        },
    )
    alerts_evaluate()
    [alert] = fired(job)
    assert alert.episode == "finding:cuda_oom"


def test_status_moves_made_by_stage_moves_fire_event_rules_too(owner):
    rule(owner, {"type": "event", "events": ["started", "failed"]})
    job = services.job_create(name="staged", uid="staged")[0]
    services.stage_move(job=job, stage="dataset_loading", status="active")
    services.stage_move(job=job, stage="dataset_loading", status="failed", message="no file")
    assert [a.episode for a in fired(job)] == ["started", "failed"]
    assert "no file" in fired(job)[1].message


def test_a_firing_is_pushed_to_the_job_and_its_dashboard_naming_no_rule(
    owner, django_capture_on_commit_callbacks, monkeypatch
):
    from jobs.events import dashboard_group, job_group

    job = make_job(status=JobStatus.RUNNING, uid="pushed")
    rule(owner, {"type": "nan", "key": "train/loss"}, name="secret rule name")
    sent = []
    monkeypatch.setattr(
        "jobs.core.push.group_send", lambda group, payload: sent.append((group, payload))
    )
    with django_capture_on_commit_callbacks(execute=True):
        post(job, "train/loss", 1, "nan")
    pushes = [(group, p) for group, p in sent if p["type"] == "alert_fired"]
    assert {group for group, _ in pushes} == {job_group("pushed"), dashboard_group(job.project_id)}
    assert pushes[0][1] == {
        "type": "alert_fired",
        "job": "pushed",
        "alert": fired(job)[0].id,
        "state": "firing",
    }
