"""Reads of a user's alert channels, rules and fired alerts (API, settings page, bell,
the badges of the dashboard's cards and the job page).

A reader sees their personal rules and the rules shared with the projects they may read,
and of a rule's channels only their own: another member's addresses and URLs never
reach them.
"""

from django.db.models import Max, Prefetch, Q

from jobs import events
from jobs.accounts.models import Role
from jobs.accounts.permissions import may
from jobs.core.values import isoformat
from jobs.models import (
    SEVERITY_RANK,
    AlertChannel,
    AlertDelivery,
    AlertRule,
    FiredAlert,
    FiredAlertRead,
)

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


def rule_payload(rule, reader=None, token=None):
    """A rule as `reader` (through `token`, if any) sees it: of its channels, only the
    reader's own ids; whether they may change it."""
    reader_id = reader.pk if reader is not None else rule.owner_id
    editable = rule.owner_id == reader_id if rule.project_id is None else None
    if editable is None:
        editable = reader is not None and may(reader, rule.project_id, Role.EDITOR, token)
    return {
        "id": rule.pk,
        "name": rule.name,
        "project": rule.project.slug if rule.project_id else None,
        "owner": rule.owner.get_username(),
        "editable": editable,
        "scope": rule.scope,
        "condition": rule.condition,
        "condition_text": rule.describe(),
        "channels": [c.pk for c in rule.channels.all() if c.owner_id == reader_id],
        "cooldown_minutes": rule.cooldown_minutes,
        "action": rule.action,
        "severity": rule.severity,
        "active": rule.active,
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


def alert_rules_of(owner, projects=None):
    """The rules `owner` sees: their personal rules, and the rules shared with
    `projects` (ids; None: every project), with their channels and when each last fired."""
    shared = ~Q(project=None)
    if projects is not None:
        shared &= Q(project_id__in=projects)
    rules = (
        AlertRule.objects.filter(Q(project=None, owner=owner) | shared)
        .select_related("scope_job", "project", "owner")
        .prefetch_related("channels")
        .annotate(last_fired_at=Max("fired__fired_at"))
        .order_by("project__name", "name", "id")
    )
    return list(rules)


def fired_alerts_visible(user, projects):
    """Fired alerts of `user`'s rules and of their projects' rules, on jobs of
    `projects` (None: all), newest first."""
    return FiredAlert.objects.visible_to(user, projects)


def firing_by_job(user, projects, uids=None):
    """`{uid: {"count", "severity", "rules"}}`: per job, the rules `user` sees that are
    firing there now (an open episode), the worst severity first named (the badges)."""
    fired = fired_alerts_visible(user, projects).filter(resolved_at=None)
    if uids is not None:
        fired = fired.filter(job__uid__in=list(uids))
    rows = fired.values_list("job__uid", "rule_id", "rule__name", "rule__severity")
    badges = {}
    for uid, rule_id, name, severity in rows.order_by("job__uid", "rule__name"):
        badge = badges.setdefault(uid, {"count": 0, "severity": "info", "rules": [], "_ids": set()})
        if rule_id in badge["_ids"]:
            continue
        badge["_ids"].add(rule_id)
        badge["count"] += 1
        badge["rules"].append(name)
        if SEVERITY_RANK[severity] > SEVERITY_RANK[badge["severity"]]:
            badge["severity"] = severity
    for badge in badges.values():
        del badge["_ids"]
    return badges


def fired_alerts_page(user, projects, *, job=None, limit=FIRED_LIST_LIMIT):
    """`{"unread": n, "results": [...]}`: the newest fired alerts with delivery logs."""
    fired = fired_alerts_visible(user, projects)
    if job is not None:
        fired = fired.filter(job=job)
    unread = fired.exclude(reads__user=user).count()
    # The delivery log shows the reader's own channels only (a project rule's alert goes
    # to every subscribed member's channels too).
    deliveries = (
        AlertDelivery.objects.filter(channel__owner=user)
        .select_related("channel")
        .order_by("created_at", "id")
    )
    rows = list(
        fired.select_related("rule", "rule__project", "job")
        .prefetch_related(Prefetch("deliveries", queryset=deliveries))
        .order_by("-fired_at", "-id")[:limit]
    )
    read = set(
        FiredAlertRead.objects.filter(user=user, alert__in=rows).values_list("alert_id", flat=True)
    )
    results = []
    for alert in rows:
        payload = events.fired_alert_payload(alert)
        payload["read"] = alert.pk in read
        payload["deliveries"] = [delivery_payload(d) for d in alert.deliveries.all()]
        results.append(payload)
    return {"unread": unread, "results": results}
