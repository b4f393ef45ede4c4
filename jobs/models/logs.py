"""Log lines a job reported, numbered by its reporter."""

from django.db import models
from django.utils import timezone

from .job import Job


class LogLevel(models.TextChoices):
    DEBUG = "DEBUG", "Debug"
    INFO = "INFO", "Info"
    WARNING = "WARNING", "Warning"
    ERROR = "ERROR", "Error"
    CRITICAL = "CRITICAL", "Critical"


class LogEntry(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="log_entries")
    seq = models.BigIntegerField()
    time = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=10, choices=LogLevel.choices, default=LogLevel.INFO)
    message = models.TextField()

    class Meta:
        verbose_name_plural = "log entries"
        constraints = [
            # Also the index of the log panel: WHERE job=? AND seq>? ORDER BY seq.
            models.UniqueConstraint(fields=["job", "seq"], name="log_entry_unique_job_seq"),
        ]

    def __str__(self):
        return f"{self.job_id}#{self.seq} {self.level} {self.message[:60]}"
