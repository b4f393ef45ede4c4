"""Alerts: the open diagnostic findings of a job, and their delivery attempts."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from jobs import events
from jobs.core.push import broadcast_after_commit
from jobs.models import Alert, Job

from .alert_firing import alert_rules_on_findings


def alerts_sync(*, job, findings, now=None):
    """Record `findings` as the job's open alerts; resolve the ones no longer raised.

    New findings become `Alert` rows (one per job and code, so the webhook hears of each
    once); the job's `active_alerts` summary is replaced and pushed to its page and the
    dashboard when it changed. Returns the alerts created.
    """
    now = now or timezone.now()
    codes = {f.code for f in findings}
    created = []
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        existing = {a.code: a for a in Alert.objects.filter(job=job)}
        for finding in findings:
            alert = existing.get(finding.code)
            if alert is None:
                alert = Alert.objects.create(
                    job=job,
                    code=finding.code,
                    severity=finding.severity,
                    title=finding.title[:300],
                    finding=finding.as_dict(),
                    first_seen=now,
                    last_seen=now,
                    next_attempt_at=now,
                )
                created.append(alert)
            else:
                alert.finding, alert.title, alert.last_seen = (
                    finding.as_dict(),
                    finding.title[:300],
                    now,
                )
                alert.resolved_at = None
                alert.save(update_fields=["finding", "title", "last_seen", "resolved_at"])
        Alert.objects.filter(job=job, resolved_at=None).exclude(code__in=codes).update(
            resolved_at=now
        )
        summary = [{"code": f.code, "severity": f.severity, "title": f.title} for f in findings]
        if summary != job.active_alerts:
            job.active_alerts = summary
            job.save(update_fields=["active_alerts"])
            message = events.alerts_message(
                job.uid, summary=summary, findings=[f.as_dict() for f in findings]
            )
            broadcast_after_commit([events.job_group(job.uid)], message)
            broadcast_after_commit(
                [events.dashboard_group(job.project_id)],
                events.job_alerts_message(job.uid, summary),
            )
    if created:
        raised = {alert.code for alert in created}
        alert_rules_on_findings(job=job, findings=[f for f in findings if f.code in raised])
    return created


def alert_delivery_record(*, alert, ok, error="", now=None):
    """Record one webhook attempt; failures are retried with exponential backoff.

    Counts from the stored row, not from `alert` (a deliverer's copy may be stale), so
    concurrent deliverers each add their attempt. Returns `alert`, brought up to date.
    """
    now = now or timezone.now()
    with transaction.atomic():
        # The alert row alone, never its job's (docs/concurrency.md): nothing is held
        # while it waits, so it cannot close a cycle with alerts_sync (job, then alerts).
        stored = Alert.objects.select_for_update().get(pk=alert.pk)
        stored.delivery_attempts += 1
        if ok:
            stored.delivered_at = now
            stored.last_delivery_error = ""
        else:
            stored.last_delivery_error = error[:500]
            stored.next_attempt_at = now + timedelta(
                seconds=min(600, 5 * 2**stored.delivery_attempts)
            )
        fields = ["delivery_attempts", "delivered_at", "last_delivery_error", "next_attempt_at"]
        stored.save(update_fields=fields)
    for field in fields:
        setattr(alert, field, getattr(stored, field))
    return alert
