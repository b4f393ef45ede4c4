"""A job and its pipeline stages: what a training run is and where it stands."""

import re

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


SIGNATURE_MAX = 255
# Masks applied in order: what varies between two runs failing the same way.
_SIGNATURE_MASKS = [
    (re.compile(r"https?://\S+"), "<url>"),
    (re.compile(r"(?:[A-Za-z]:)?(?:~|\.{1,2})?(?:[/\\][\w.@+-]+){2,}[/\\]?"), "<path>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I), "<id>"),
    (
        re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", re.I),
        "<hex>",
    ),
    (re.compile(r"(?<![\w<])[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?(?![A-Za-z_])", re.I), "<n>"),
    (re.compile(r"\s+"), " "),
]


def failure_signature_of(error_type, message):
    """A failure's normalised signature: the exception's class name and the first
    sentence of its message with URLs, paths, ids, hex and numbers masked.

    Two CUDA OOMs that tried to allocate different sizes share one signature; an OOM and
    a NaN loss do not. Changing this changes how stored failures group: ship a migration
    that recomputes `Job.failure_signature` with it.
    """
    name = (error_type or "").strip().rsplit(".", 1)[-1] or "Error"
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    text = lines[0] if lines else ""
    for regex, mask in _SIGNATURE_MASKS:
        text = regex.sub(mask, text)
    # The first sentence: later ones carry the variable detail (free memory, hints).
    first = re.split(r"(?<=[.!?])\s+(?=[A-Z(])", text, maxsplit=1)[0]
    if len(first) >= 12:
        text = first
    return f"{name}: {text.strip()}"[:SIGNATURE_MAX].rstrip()


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
    # Failed jobs: `failure_signature_of(error_type, error_message)`, so failures group
    # ("failed here before", the dashboard's top failure causes) with one indexed lookup.
    failure_signature = models.CharField(max_length=SIGNATURE_MAX, blank=True, editable=False)

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
            # A failed job's page: earlier failures with the same signature, newest first.
            models.Index(fields=["failure_signature", "-finished_at"], name="job_failure_sig_idx"),
        ]

    def __str__(self):
        return f"{self.name} ({self.uid})"

    def save(self, *args, **kwargs):
        self.tags_text = "," + ",".join(self.tags or []) + "," if self.tags else ""
        self.failure_signature = (
            failure_signature_of(self.error_type, self.error_message)
            if self.status == JobStatus.FAILED
            else ""
        )
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
