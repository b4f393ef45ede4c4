"""Raising diagnostic findings as alerts and delivering them to a webhook.

`alerts_evaluate()` runs the diagnostic rules over running and recently failed jobs and
records what they find (through `services.alerts_sync`); `alerts_deliver()` posts each
new alert once to `TUNEBOARD_ALERT_WEBHOOK`, retrying with backoff while the receiver
fails. The `watch_alerts` command runs both on a timer.
"""

import json
import logging
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import services
from .diagnostics import job_findings
from .live import isoformat
from .models import Alert, Job, JobStatus

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
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
