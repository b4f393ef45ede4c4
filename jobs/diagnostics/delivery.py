"""Delivering alerts: built-in findings to the site-wide webhook
(`TUNEBOARD_ALERT_WEBHOOK`), and the alerts of users' rules to their channels (email,
Slack-compatible webhook, signed JSON webhook).

Each finding is posted once as JSON; while the receiver fails it is retried with
exponential backoff (`services.alert_delivery_record`), up to `MAX_ATTEMPTS`. Each
delivery of a rule's alert is claimed before it is sent (a conditional UPDATE, so two
deliverers never both send it), and retried with backoff until it succeeds: at least
once, up to `RULE_MAX_ATTEMPTS`.
"""

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.core import mail
from django.db.models import Q
from django.utils import timezone

from jobs import services
from jobs.core.outbound import outbound_post
from jobs.core.values import encode_float, isoformat
from jobs.models import (
    Alert,
    AlertDelivery,
    ChannelKind,
    DeliveryEvent,
    LogEntry,
    condition_words,
)

logger = logging.getLogger("jobs.alerts")
MAX_ATTEMPTS = 8


def alert_body(alert):
    job = alert.job
    return {
        "event": "tuneboard.alert",
        "id": f"{job.uid}:{alert.code}",
        "job": {"uid": job.uid, "name": job.name, "status": job.status, "url": f"/job/{job.uid}"},
        "finding": alert.finding,
        "first_seen": isoformat(alert.first_seen),
    }


def _post(url, body, timeout):
    # The scheme is checked (http/https only) when settings load.
    request = urllib.request.Request(  # noqa: S310
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "Tuneboard-alerts/1"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return 200 <= response.status < 300, f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return False, str(exc)


def alerts_deliver(now=None, url=None, timeout=5.0):
    """Post every due, undelivered alert once; returns the number delivered now."""
    url = url or settings.TUNEBOARD_ALERT_WEBHOOK
    if not url:
        return 0
    now = now or timezone.now()
    due = (
        Alert.objects.filter(delivered_at=None, delivery_attempts__lt=MAX_ATTEMPTS)
        .filter(Q(next_attempt_at=None) | Q(next_attempt_at__lte=now))
        .select_related("job")
        .order_by("next_attempt_at", "id")[:100]
    )
    delivered = 0
    for alert in due:
        ok, detail = _post(url, alert_body(alert), timeout)
        services.alert_delivery_record(alert=alert, ok=ok, error=detail, now=now)
        if ok:
            delivered += 1
        elif alert.delivery_attempts >= MAX_ATTEMPTS:
            logger.warning(
                "Giving up on alert %s after %d attempts: %s", alert, MAX_ATTEMPTS, detail
            )
    return delivered


# --- user channels: email, Slack-compatible webhook, signed JSON webhook ----------------------

RULE_MAX_ATTEMPTS = 10
LOG_LINES = 5


def job_link(job):
    return f"{settings.TUNEBOARD_BASE_URL}/job/{job.uid}"


def _last_log_lines(job, count=LOG_LINES):
    lines = LogEntry.objects.filter(job=job).order_by("-seq")[:count]
    return [f"{line.level.upper()} {line.message[:300]}" for line in reversed(lines)]


def rule_message(alert, event):
    """What every channel says about a fired (or resolved) alert, as plain parts."""
    rule, job = alert.rule, alert.job
    verb = "resolved" if event == DeliveryEvent.RESOLVED else "fired"
    return {
        "title": f"[Tuneboard] {rule.name} {verb} on {job.name}",
        "rule": rule.name,
        "condition": condition_words(rule.condition),
        "job": job,
        "value": alert.value,
        "message": alert.message,
        "link": job_link(job),
        "logs": _last_log_lines(job),
        "event": verb,
        "error": job.error_message if job.status == "failed" else "",
    }


def _value_text(value):
    if value is None:
        return "—"
    if value != value:
        return "NaN"
    return f"{value:.6g}"


def email_send(target, parts):
    """One mail through Django's email backend (EMAIL_* settings); returns (ok, detail)."""
    body = [
        parts["message"],
        "",
        f"Job: {parts['job'].name} ({parts['job'].uid}, {parts['job'].status})",
        f"Condition: {parts['condition']}",
        f"Value: {_value_text(parts['value'])}",
    ]
    if parts["error"]:
        body.append(f"Error: {parts['error'][:2000]}")
    body += ["", f"Open the job: {parts['link']}"]
    if parts["logs"]:
        body += ["", "Last log lines:", *parts["logs"]]
    try:
        sent = mail.send_mail(
            parts["title"][:200],
            "\n".join(body),
            settings.DEFAULT_FROM_EMAIL,
            [target],
            fail_silently=False,
        )
    except Exception as exc:  # SMTP, socket and TLS errors alike: retried later
        return False, f"{type(exc).__name__}: {exc}"[:500]
    return sent == 1, "sent" if sent == 1 else "not sent"


def slack_body(parts):
    """A Slack-compatible incoming-webhook body: readable text with a link."""
    job = parts["job"]
    icon = ":white_check_mark:" if parts["event"] == "resolved" else ":rotating_light:"
    lines = [
        f"{icon} *{parts['rule']}* {parts['event']} on <{parts['link']}|{job.name}>",
        f"Condition: {parts['condition']} · value: {_value_text(parts['value'])}",
        parts["message"],
    ]
    if parts["logs"]:
        lines.append("```" + "\n".join(parts["logs"]) + "```")
    return {"text": "\n".join(lines)}


def webhook_body(alert, parts, event, sent_at):
    job = alert.job
    return {
        "event": f"tuneboard.alert.{parts['event']}",
        "id": f"{alert.pk}:{event}",
        "sent_at": sent_at,
        "rule": {"id": alert.rule_id, "name": parts["rule"], "condition": parts["condition"]},
        "job": {"uid": job.uid, "name": job.name, "status": job.status, "url": parts["link"]},
        "value": encode_float(alert.value),
        "message": parts["message"],
        "fired_at": isoformat(alert.fired_at),
        "resolved_at": isoformat(alert.resolved_at),
        "logs": parts["logs"],
    }


def webhook_signature(secret, body):
    """`sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the channel's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def channel_send(channel, *, alert=None, parts=None, event="fired", now=None):
    """Send one message to `channel`; returns (ok, detail). Without an alert, a test."""
    now = now or timezone.now()
    headers = {"Content-Type": "application/json", "User-Agent": "Tuneboard-alerts/2"}
    if channel.kind == ChannelKind.EMAIL:
        return email_send(channel.target, parts)
    if channel.kind == ChannelKind.SLACK:
        data = json.dumps(slack_body(parts)).encode()
        return outbound_post(channel.target, data, headers)
    timestamp = str(int(now.timestamp()))
    if alert is not None:
        payload = webhook_body(alert, parts, event, timestamp)
    else:
        payload = {"event": "tuneboard.test", "sent_at": timestamp, "message": parts["message"]}
    data = json.dumps(payload).encode()
    headers["X-Tuneboard-Timestamp"] = timestamp
    headers["X-Tuneboard-Signature"] = webhook_signature(channel.secret, data)
    return outbound_post(channel.target, data, headers)


def channel_test(channel, now=None):
    """ "Send test": one message to the channel now; returns (ok, detail)."""

    class Sample:
        name, uid, status = "Tuneboard test", "test", "running"

    parts = {
        "title": f"[Tuneboard] Test of {channel.name}",
        "rule": "Test",
        "condition": "a test message",
        "job": Sample,
        "value": None,
        "message": f"This is a test of the alert channel {channel.name!r}. It works.",
        "link": settings.TUNEBOARD_BASE_URL + "/settings/alerts",
        "logs": [],
        "event": "fired",
        "error": "",
    }
    return channel_send(channel, parts=parts, now=now)


def rule_deliveries_send(now=None, limit=100):
    """Send every due delivery of fired alerts once, each claimed first so that two
    deliverers never both send it; failures come back with backoff, up to
    `RULE_MAX_ATTEMPTS`. Returns the number delivered now."""
    now = now or timezone.now()
    due = list(
        AlertDelivery.objects.filter(
            delivered_at=None, attempts__lt=RULE_MAX_ATTEMPTS, next_attempt_at__lte=now
        )
        .filter(Q(claimed_until=None) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    delivered = 0
    for delivery_id in due:
        if not services.alert_delivery_claim(delivery_id=delivery_id, now=now):
            continue
        delivery = AlertDelivery.objects.select_related("channel", "alert__rule", "alert__job").get(
            pk=delivery_id
        )
        parts = rule_message(delivery.alert, delivery.event)
        ok, detail = channel_send(
            delivery.channel, alert=delivery.alert, parts=parts, event=delivery.event, now=now
        )
        services.alert_delivery_result(delivery_id=delivery_id, ok=ok, error=detail, now=now)
        if ok:
            delivered += 1
        elif delivery.attempts >= RULE_MAX_ATTEMPTS:
            # The claim counted this attempt already.
            logger.warning(
                "Giving up on %s after %d attempts: %s", delivery, delivery.attempts, detail
            )
    return delivered
