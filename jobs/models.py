"""Jobs, their pipeline stages, metric points, log lines and API tokens."""

import hashlib
import math

from django.conf import settings
from django.db import models
from django.utils import timezone


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


CURRENT_STATUSES = (JobStatus.RUNNING, JobStatus.QUEUED)
FINISHED_STATUSES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


class StageName(models.TextChoices):
    DATASET_LOADING = "dataset_loading", "Dataset loading"
    TOKENIZATION = "tokenization", "Tokenization"
    TRAINING = "training", "Training"
    VALIDATION = "validation", "Validation"
    SAVE_MODEL = "save_model", "Save model"


STAGE_ORDER = [name for name, _ in StageName.choices]


class StageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class LogLevel(models.TextChoices):
    DEBUG = "DEBUG", "Debug"
    INFO = "INFO", "Info"
    WARNING = "WARNING", "Warning"
    ERROR = "ERROR", "Error"
    CRITICAL = "CRITICAL", "Critical"


class Job(models.Model):
    uid = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    base_model = models.CharField("model", max_length=200, blank=True)
    dataset = models.CharField(max_length=200, blank=True)
    tags = models.JSONField(default=list, blank=True)
    # ",lora,8bit," — tags as delimited text so `tag=` filters with one portable LIKE.
    tags_text = models.CharField(max_length=1000, blank=True, editable=False)
    config = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True)

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    current_step = models.BigIntegerField(default=0)
    total_steps = models.BigIntegerField(null=True, blank=True)
    epoch = models.FloatField(default=0.0)
    total_epochs = models.FloatField(null=True, blank=True)
    queue_position = models.PositiveIntegerField(null=True, blank=True)
    host = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)

    error_message = models.TextField(blank=True)
    error_type = models.CharField(max_length=200, blank=True)
    error_traceback = models.TextField(blank=True)
    error_stage = models.CharField(max_length=32, choices=StageName.choices, blank=True)
    error_step = models.BigIntegerField(null=True, blank=True)

    # Completed jobs: {"artifact_path", "size_bytes", "endpoint", "format", ...}
    deployment = models.JSONField(default=dict, blank=True)
    # Latest point of every key, {key: {"step", "value", "epoch", "time"}}, kept by
    # metrics ingest so lists and cards never touch the point table. Non-finite values
    # are stored as the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers).
    latest_metrics = models.JSONField(default=dict, blank=True)
    # A bounded, evenly thinned [[step, value], ...] of train/loss for dashboard sparklines.
    loss_sparkline = models.JSONField(default=list, blank=True)
    # Open diagnostic findings, [{"code", "severity", "title"}], kept by the alert watcher
    # so cards show a badge without a query per job.
    active_alerts = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Dashboard and /api/jobs: filter by status, newest first.
            models.Index(fields=["status", "-created_at"], name="job_status_created_idx"),
            # /api/jobs default ordering.
            models.Index(fields=["-created_at"], name="job_created_idx"),
            # The sampler looks up running jobs on its host each tick.
            models.Index(fields=["host", "status"], name="job_host_status_idx"),
        ]

    def __str__(self):
        return f"{self.name} ({self.uid})"

    def save(self, *args, **kwargs):
        self.tags_text = "," + ",".join(self.tags or []) + "," if self.tags else ""
        super().save(*args, **kwargs)

    @property
    def is_finished(self):
        return self.status in FINISHED_STATUSES

    @property
    def duration(self):
        """Seconds from start to finish (or to now while running); None before start."""
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return max(0.0, (end - self.started_at).total_seconds())

    @property
    def has_error(self):
        return bool(self.error_message or self.error_type)

    @property
    def error(self):
        if not self.has_error:
            return None
        return {
            "message": self.error_message,
            "type": self.error_type,
            "traceback": self.error_traceback,
            "stage": self.error_stage or None,
            "step": self.error_step,
        }


class Stage(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=32, choices=StageName.choices)
    order = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=16, choices=StageStatus.choices, default=StageStatus.PENDING
    )
    progress = models.FloatField(default=0.0)
    message = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job", "order"]
        constraints = [
            models.UniqueConstraint(fields=["job", "name"], name="stage_unique_per_job"),
            models.CheckConstraint(
                condition=models.Q(order__gte=0, order__lt=len(STAGE_ORDER)),
                name="stage_order_in_pipeline",
            ),
        ]

    def __str__(self):
        return f"{self.job.uid}:{self.name}={self.status}"

    @property
    def duration(self):
        if not self.started_at:
            return None
        end = self.finished_at or timezone.now()
        return max(0.0, (end - self.started_at).total_seconds())


class MetricPoint(models.Model):
    """One value of one metric key at one step.

    NaN is stored as NULL in `value` (SQLite cannot hold NaN; PostgreSQL could, but one
    representation keeps both backends alike); ±inf are stored as they are.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metric_points")
    key = models.CharField(max_length=128)
    step = models.BigIntegerField()
    epoch = models.FloatField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)
    wall_time = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Also the index of every series read: WHERE job=? AND key=? ORDER BY step.
            models.UniqueConstraint(
                fields=["job", "key", "step"], name="metric_point_unique_job_key_step"
            ),
        ]

    def __str__(self):
        return f"{self.key}@{self.step}={self.float_value}"

    @property
    def float_value(self):
        return math.nan if self.value is None else self.value


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


def token_hash(raw_token):
    return hashlib.sha256(raw_token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the ingest API. Only the SHA-256 of the token is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Empty lists mean "any job". Otherwise the token may write only to these job uids,
    # or to jobs carrying a tag that starts with one of the prefixes.
    job_scope = models.JSONField(default=list, blank=True)
    tag_prefixes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        if self.revoked_at:
            return False
        return not (self.expires_at and self.expires_at <= timezone.now())


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


class MetricRollup(models.Model):
    """Min/max summary of one bucket of `width` steps of one metric series.

    Kept by metrics ingest at a few widths, so a long series is downsampled by reading
    a few hundred summary rows instead of scanning every point, and a spike (the min or
    max of its bucket) or a NaN is never lost. `nan_step` is the first NaN in the bucket.
    """

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="metric_rollups")
    key = models.CharField(max_length=128)
    width = models.PositiveIntegerField()
    bucket = models.BigIntegerField()
    count = models.PositiveIntegerField()
    first_step = models.BigIntegerField()
    first_value = models.FloatField(null=True)
    first_epoch = models.FloatField(null=True)
    last_step = models.BigIntegerField()
    last_value = models.FloatField(null=True)
    last_epoch = models.FloatField(null=True)
    min_step = models.BigIntegerField(null=True)
    min_value = models.FloatField(null=True)
    min_epoch = models.FloatField(null=True)
    max_step = models.BigIntegerField(null=True)
    max_value = models.FloatField(null=True)
    max_epoch = models.FloatField(null=True)
    nan_step = models.BigIntegerField(null=True)

    class Meta:
        constraints = [
            # Also the index of downsampled reads: WHERE job=? AND key=? AND width=?
            # ORDER BY bucket.
            models.UniqueConstraint(
                fields=["job", "key", "width", "bucket"], name="metric_rollup_unique_bucket"
            ),
        ]

    def __str__(self):
        return f"{self.key}[{self.width}×{self.bucket}]"
