"""A job and its pipeline stages: what a training run is and where it stands."""

import re

from django.db import connections, models
from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.db.models.query import ModelIterable
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


def queue_ahead(queued_at, pk):
    """Queued jobs ahead of the place (queued_at, pk) in the queue, oldest first."""
    return Q(status=JobStatus.QUEUED) & (
        Q(queued_at__lt=queued_at) | Q(queued_at=queued_at, pk__lt=pk)
    )


def queue_positions_attach(jobs, *, using=None):
    """Read the `queue_position` of every queued job among `jobs` in one query.

    The queue is ranked (ROW_NUMBER over `job_queue_idx`) up to the last of these jobs
    only, and only their ranks come back: a page at the head of a long queue reads a few
    index entries, one at its tail the queued jobs ahead of it, never a count per job.
    """
    queued = [job for job in jobs if job.status == JobStatus.QUEUED]
    if not queued:
        return
    last = max(queued, key=lambda job: (job.queued_at, job.pk))
    ranked = (
        Job._base_manager.using(using)
        .filter(queue_ahead(last.queued_at, last.pk) | Q(pk=last.pk, status=JobStatus.QUEUED))
        .order_by()
        .annotate(position=Window(RowNumber(), order_by=[F("queued_at").asc(), F("pk").asc()]))
        .values_list("id", "position")
    )
    connection = connections[using or ranked.db]
    sql, params = ranked.query.sql_with_params()
    qn = connection.ops.quote_name
    marks = ", ".join(["%s"] * len(queued))
    # The window ranks the whole queue prefix before the page's ids are picked out, so
    # the filter goes around it; only quoted identifiers from the model are interpolated.
    outer = f"SELECT * FROM ({sql}) ranked WHERE ranked.{qn('id')} IN ({marks})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(outer, [*params, *(job.pk for job in queued)])
        positions = dict(cursor.fetchall())
    for job in queued:
        job.queue_position = positions.get(job.pk)


class QueuePositionIterable(ModelIterable):
    """Model instances whose queue positions were read together (see `with_queue_positions`)."""

    def __iter__(self):
        jobs = list(super().__iter__())
        queue_positions_attach(jobs, using=self.queryset.db)
        yield from jobs


class JobQuerySet(models.QuerySet):
    def with_queue_positions(self):
        """Jobs whose `queue_position` is read for all of them in one query on evaluation
        (lists and pages: the query count does not grow with the number of jobs)."""
        clone = self._chain()
        clone._iterable_class = QueuePositionIterable
        return clone


class JobManager(models.Manager.from_queryset(JobQuerySet)):
    def get_queryset(self):
        # The position is derived, not stored; `order_by("queue_position")` keeps meaning
        # queue order (oldest first) for code and scripts written when it was a column.
        return super().get_queryset().alias(queue_position=F("queued_at"))


# Days a deleted job stays restorable before the purge removes it with everything it owns.
TRASH_DAYS = 30

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
    # One or two sentences under the job's name, edited inline on the job page.
    description = models.TextField(blank=True)
    # Where the job came from: "" (the Tuneboard client or API), "mlflow" (the MLflow
    # tracking API), "import:<kind>" (`manage.py import_runs <kind>`).
    source = models.CharField(max_length=64, blank=True)
    # What the source knows that Tuneboard has no field for (jobs.interop): MLflow's tags
    # with their values, its lifecycle stage and logged inputs; an importer's origin.
    external = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    progress = models.FloatField(default=0.0)
    current_step = models.BigIntegerField(default=0)
    total_steps = models.BigIntegerField(null=True, blank=True)
    epoch = models.FloatField(default=0.0)
    total_epochs = models.FloatField(null=True, blank=True)
    # The job's place in the queue: queued jobs are served in (queued_at, id) order, and
    # `queue_position` (1..n) is derived from it when read. Creation time for jobs created
    # through the API; fixtures order their queued jobs by their declared positions.
    queued_at = models.DateTimeField(default=timezone.now)
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
    # A request that the job stop (an alert rule's "stop" action), answered to the
    # client's heartbeat; null when none was made.
    stop_requested_at = models.DateTimeField(null=True, blank=True)
    # When the job's events last arrived late, uploaded by `python -m tuneboard sync`
    # from a run that was offline or could not reach the server at its end; null when
    # everything arrived live.
    synced_at = models.DateTimeField(null=True, blank=True)
    # Archived jobs leave the default lists and queries; `archived:true` finds them.
    archived = models.BooleanField(default=False)
    # In the trash since then (None: not deleted): hidden from every list, query, page and
    # statistic, restorable for `TRASH_DAYS`, then purged (jobs.services.trash).
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = JobManager()

    # Set by `queue_positions_attach` for a page of jobs, else read on first use.
    _queue_position = None

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
            # Queue positions: the COUNT of queued jobs ahead of one, a page's ROW_NUMBER
            # over the queue, and the current jobs list in queue order.
            models.Index(fields=["status", "queued_at", "id"], name="job_queue_idx"),
            # A failed job's page: earlier failures with the same signature, newest first.
            models.Index(fields=["failure_signature", "-finished_at"], name="job_failure_sig_idx"),
            # The trash page (deleted jobs, newest first) and the purge (deleted before the
            # cutoff, oldest first).
            models.Index(fields=["deleted_at"], name="job_deleted_idx"),
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
    def queue_position(self):
        """1..n among queued jobs, oldest first; None when the job is not queued.

        Derived, never stored, so writes cost the same however long the queue is: a page
        of jobs reads its positions in one query (`JobQuerySet.with_queue_positions`), a
        single job counts the queued jobs ahead of it (`job_queue_idx`) on first use.
        """
        if self.status != JobStatus.QUEUED:
            return None
        if self._queue_position is None:
            ahead = queue_ahead(self.queued_at, self.pk)
            self._queue_position = 1 + Job._base_manager.using(self._state.db).filter(ahead).count()
        return self._queue_position

    @queue_position.setter
    def queue_position(self, value):
        self._queue_position = value

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
