"""What every importer shares: a run read whole from its source, and storing it as a job.

A reader turns one source (a run directory of event files, an MLflow run, a table)
into an `ImportedRun` with every point and log line already read, or raises
`BadSource`: nothing is written for a file that cannot be read through. `run_store`
then writes the run through the services in one transaction (the job, its status and
times, points in batches, log lines), so a run is imported whole or not at all.

Imports are idempotent: a run's uid is derived from its source, and a job that a
previous import finished is left as it is.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import transaction

from jobs import services
from jobs.models import Job, JobStatus

MODEL_KEYS = (
    "model_name_or_path",
    "_name_or_path",
    "base_model",
    "model_name",
    "model_id",
    "pretrained_model_name_or_path",
    "model",
)
DATASET_KEYS = ("dataset_name", "dataset", "dataset_name_or_path", "data_path", "train_file")


class BadSource(Exception):
    """A source that cannot be imported; the message says which and why."""


class MissingExtra(Exception):
    """The optional package a reader needs is not installed; the message says how."""


@dataclass
class AlreadyImported:
    """A run a previous import stored: not read again (see `imported_before`)."""

    uid: str
    name: str
    points: tuple = ()


def imported_before(uid, kind):
    """Whether an import of `kind` finished storing the job `uid`: then its source is not
    read again, so a second import of a large source costs a lookup per run."""
    job = Job.objects.filter(uid=uid).only("source", "external").first()
    return bool(
        job is not None
        and job.source == f"import:{kind}"
        and (job.external or {}).get("import", {}).get("complete")
    )


@dataclass
class ImportedRun:
    kind: str  # tensorboard, mlflow, csv, jsonl
    origin: str  # what it was read from: a path, an MLflow run id
    name: str
    uid: str = ""
    model: str = ""
    dataset: str = ""
    tags: list = field(default_factory=list)
    config: dict = field(default_factory=dict)
    # {"key", "step", "value", "time"} as metrics ingest takes them.
    points: list = field(default_factory=list)
    # {"seq", "time", "level", "message"} as log ingest takes them.
    logs: list = field(default_factory=list)
    status: str = JobStatus.COMPLETED
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str = ""
    external: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.uid:
            self.uid = uid_for(self.kind, self.origin)

    @property
    def source(self):
        return f"import:{self.kind}"

    def fill_model_and_dataset(self):
        """A blank model or dataset from well-known config keys."""
        for attribute, keys in (("model", MODEL_KEYS), ("dataset", DATASET_KEYS)):
            if getattr(self, attribute):
                continue
            for key in keys:
                value = self.config.get(key)
                if isinstance(value, str) and value.strip():
                    setattr(self, attribute, value.strip()[:200])
                    break


def uid_for(kind, origin):
    """The job uid of a run from `origin`: the same source always gives the same job."""
    digest = hashlib.sha256(f"{kind}\n{origin}".encode()).hexdigest()[:20]
    return f"{kind}-{digest}"


def times_of(points, logs):
    times = [p["time"] for p in points if p.get("time") is not None]
    times += [line["time"] for line in logs if line.get("time") is not None]
    return (min(times), max(times)) if times else (None, None)


def run_store(run, *, project=None):
    """Write `run` as a job; returns "created", or "unchanged" when a previous import of
    the same source is stored. Raises `BadSource` when its uid belongs to another job, and
    the services' `InvalidInput` for a value they refuse (nothing is kept then)."""
    existing = Job.objects.filter(uid=run.uid).first()
    if existing is not None:
        if existing.source == run.source and existing.external.get("import", {}).get("complete"):
            return "unchanged"
        raise BadSource(
            f"a job with uid {run.uid} exists and was not imported from this source; "
            "delete it or leave this source out"
        )
    first, last = times_of(run.points, run.logs)
    started = run.started_at or first
    finished = run.finished_at or last
    external = {
        **run.external,
        "import": {"kind": run.kind, "origin": run.origin, "complete": True},
    }
    with transaction.atomic():
        job, _ = services.job_create(
            name=run.name[:200],
            uid=run.uid,
            model=run.model,
            dataset=run.dataset,
            tags=run.tags,
            config=run.config,
            project=project,
            source=run.source,
            external=external,
        )
        if run.status != JobStatus.QUEUED:
            job = services.job_status_update(job=job, status=JobStatus.RUNNING, at=started)
        batch = settings.TUNEBOARD_MAX_POINTS_PER_BATCH
        for start in range(0, len(run.points), batch):
            services.metrics_ingest(job=job, points=run.points[start : start + batch])
        lines = settings.TUNEBOARD_MAX_LOG_LINES_PER_BATCH
        for start in range(0, len(run.logs), lines):
            services.logs_ingest(job=job, lines=run.logs[start : start + lines])
        if run.points:
            steps = max(point["step"] for point in run.points)
            services.job_status_update(job=job, step=steps)
        if run.status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED):
            error = {"message": run.error or "Failed (imported)"}
            services.job_status_update(
                job=job,
                status=run.status,
                at=finished or started,
                error=error if run.status == JobStatus.FAILED else None,
            )
    return "created"
