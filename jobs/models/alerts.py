"""Diagnostic findings raised on jobs, and their delivery."""

from django.db import models
from django.utils import timezone

from .job import Job


class Alert(models.Model):
    """A diagnostic finding raised on a job, delivered to the webhook at most once."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="alerts")
    code = models.CharField(max_length=64)
    severity = models.CharField(max_length=16)
    title = models.CharField(max_length=300)
    finding = models.JSONField(default=dict)
    first_seen = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_delivery_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-first_seen"]
        constraints = [
            # One alert per job and finding: the webhook is told once.
            models.UniqueConstraint(fields=["job", "code"], name="alert_unique_job_code"),
        ]
        indexes = [
            # The watcher's delivery pass: WHERE delivered_at IS NULL ORDER BY next_attempt_at.
            models.Index(fields=["delivered_at", "next_attempt_at"], name="alert_delivery_idx"),
        ]

    def __str__(self):
        return f"{self.job_id}:{self.code}"
