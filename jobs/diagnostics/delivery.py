"""Delivering alerts to the site-wide webhook (`TUNEBOARD_ALERT_WEBHOOK`).

Each alert is posted once as JSON; while the receiver fails it is retried with
exponential backoff (`services.alert_delivery_record`), up to `MAX_ATTEMPTS`.
"""

import json
import logging
import urllib.error
import urllib.request

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from jobs import services
from jobs.core.values import isoformat
from jobs.models import Alert

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
