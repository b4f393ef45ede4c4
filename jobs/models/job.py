"""A job and its pipeline stages: what a training run is and where it stands."""

from django.db import models
from django.utils import timezone

from jobs.accounts.models import default_project_id


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


class Job(models.Model):
    uid = models.SlugField(max_length=64, unique=True)
    # Who may see and change the job (jobs.accounts); PROTECT: a project with jobs is
    # emptied before it can go.
    project = models.ForeignKey(
        "jobs.Project",
        on_delete=models.PROTECT,
        related_name="jobs",
        default=default_project_id,
    )
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
            # The dashboard and /api/jobs of one project: WHERE project=? ORDER BY created.
            models.Index(fields=["project", "-created_at"], name="job_project_created_idx"),
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
