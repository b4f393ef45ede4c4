"""Raising diagnostic findings as alerts.

`alerts_evaluate()` runs the diagnostic rules over running and recently failed jobs and
records what they find (through `services.alerts_sync`); `delivery.alerts_deliver()`
posts each new alert once to the webhook. `alerts_pass()` does both: it is one pass of
the alert watcher (`manage.py watch_alerts`, or the server's embedded daemon).
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from jobs import services
from jobs.models import Job, JobStatus

from .delivery import alerts_deliver
from .rules import job_findings

RECENT_FAILURES = timedelta(hours=6)


def alerts_evaluate(now=None):
    """Run the rules over running jobs and jobs that failed recently; returns new alerts."""
    now = now or timezone.now()
    jobs = Job.objects.filter(
        Q(status=JobStatus.RUNNING)
        | Q(status=JobStatus.FAILED, finished_at__gte=now - RECENT_FAILURES)
    ).prefetch_related("stages")
    created = []
    for job in jobs:
        created += services.alerts_sync(job=job, findings=job_findings(job, now=now), now=now)
    return created


def alerts_pass(now=None):
    """One pass of the alert watcher: evaluate, then deliver what is due; returns the
    alerts created."""
    created = alerts_evaluate(now=now)
    alerts_deliver(now=now)
    return created
