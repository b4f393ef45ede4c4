"""Reads of a user's alert channels, rules and fired alerts (API, settings page, bell)."""

from django.db.models import Max, Prefetch

from jobs import events
from jobs.core.values import isoformat
from jobs.models import AlertChannel, AlertDelivery, AlertRule, FiredAlert

FIRED_LIST_LIMIT = 50


def channel_payload(channel, secret=None):
    payload = {
        "id": channel.pk,
        "name": channel.name,
        "kind": channel.kind,
        "target": channel.target,
        "created_at": isoformat(channel.created_at),
    }
    if secret:
        payload["secret"] = secret
    return payload


def rule_payload(rule):
    return {
        "id": rule.pk,
        "name": rule.name,
        "scope": rule.scope,
        "condition": rule.condition,
        "condition_text": rule.describe(),
        "channels": [c.pk for c in rule.channels.all()],
        "cooldown_minutes": rule.cooldown_minutes,
        "action": rule.action,
        "last_fired_at": isoformat(getattr(rule, "last_fired_at", None)),
        "created_at": isoformat(rule.created_at),
    }


def delivery_payload(delivery):
    return {
        "channel": delivery.channel.name,
        "kind": delivery.channel.kind,
        "event": delivery.event,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "delivered_at": isoformat(delivery.delivered_at),
        "next_attempt_at": None if delivery.delivered_at else isoformat(delivery.next_attempt_at),
    }


def alert_channels_of(owner):
    return list(AlertChannel.objects.filter(owner=owner))


def alert_rules_of(owner):
    """`owner`'s rules with their channels and when each last fired."""
    rules = (
        AlertRule.objects.filter(owner=owner)
        .select_related("scope_job")
        .prefetch_related("channels")
        .annotate(last_fired_at=Max("fired__fired_at"))
    )
    return list(rules)


def fired_alerts_visible(user, projects):
    """Fired alerts of `user`'s rules on jobs of `projects` (None: all), newest first."""
    fired = FiredAlert.objects.filter(rule__owner=user)
    if projects is not None:
        fired = fired.filter(job__project_id__in=projects)
    return fired


def fired_alerts_page(user, projects, *, job=None, limit=FIRED_LIST_LIMIT):
    """`{"unread": n, "results": [...]}`: the newest fired alerts with delivery logs."""
    fired = fired_alerts_visible(user, projects)
    if job is not None:
        fired = fired.filter(job=job)
    unread = fired.filter(read_at=None).count()
    deliveries = AlertDelivery.objects.select_related("channel").order_by("created_at", "id")
    rows = (
        fired.select_related("rule", "job")
        .prefetch_related(Prefetch("deliveries", queryset=deliveries))
        .order_by("-fired_at", "-id")[:limit]
    )
    results = []
    for alert in rows:
        payload = events.fired_alert_payload(alert)
        payload["read"] = alert.read_at is not None
        payload["deliveries"] = [delivery_payload(d) for d in alert.deliveries.all()]
        results.append(payload)
    return {"unread": unread, "results": results}
