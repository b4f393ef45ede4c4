"""Reads of the alerts the watcher keeps on jobs."""

from jobs.models import Alert


def alert_open_findings(job):
    """Findings of the job's unresolved alerts, most severe first (kept by the watcher)."""
    alerts = Alert.objects.filter(job=job, resolved_at=None).order_by("first_seen")
    findings = [alert.finding for alert in alerts if alert.finding]
    return sorted(findings, key=lambda f: 0 if f.get("severity") == "critical" else 1)
