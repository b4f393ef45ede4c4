"""Importers of existing runs: TensorBoard event files, MLflow stores, CSV and JSONL tables.

`import_runs(kind, target, …)` reads each run of the source whole, then stores it through
the services (`base.run_store`), one transaction per run; `manage.py import_runs` is its
command line. Readers yield `BadSource` for what they cannot read, so one bad file is
reported and skipped while the others are imported.
"""

from dataclasses import dataclass, field

from django.db import DatabaseError

from jobs.core.validation import InvalidInput
from jobs.models import Job

from .base import AlreadyImported, BadSource, ImportedRun, MissingExtra, run_store

KINDS = ("tensorboard", "mlflow", "csv", "jsonl")

__all__ = ["KINDS", "BadSource", "ImportReport", "ImportedRun", "MissingExtra", "import_runs"]


@dataclass
class ImportReport:
    created: list = field(default_factory=list)  # ImportedRun
    unchanged: list = field(default_factory=list)
    planned: list = field(default_factory=list)  # --dry-run: would be created
    skipped: list = field(default_factory=list)  # (what, why)

    @property
    def points(self):
        return sum(len(run.points) for run in self.created + self.planned)


def readers(kind, target, *, experiments=(), step_column=None, name=None, **describe):
    if kind == "tensorboard":
        from .tensorboard import read_runs

        return read_runs(target, name=name, **describe)
    if kind == "mlflow":
        from .mlflow import read_runs

        return read_runs(target, experiments=experiments, **describe)
    if kind in ("csv", "jsonl"):
        from .table import read_runs

        return read_runs(target, kind=kind, step_column=step_column, name=name, **describe)
    raise ValueError(f"Unknown source {kind!r}; one of {', '.join(KINDS)}.")


def describe_error(exc):
    if isinstance(exc, InvalidInput):
        detail = exc.detail
        if isinstance(detail, dict) and isinstance(detail.get("points"), dict):
            index, errors = next(iter(detail["points"].items()))
            return f"point {index}: {errors}"
        return str(detail)
    return str(exc)


def _items(reader):
    """The reader's items; a `BadSource` it raises (the whole source unreadable: a path
    that does not exist, a server that does not answer) ends it as one more item."""
    try:
        yield from reader
    except BadSource as bad:
        yield bad


def import_runs(kind, target, *, dry_run=False, project=None, on_run=None, **options):
    """Import every run of one source; returns an `ImportReport`.

    `on_run(run_or_bad, outcome)` is called after each run (for a progress display).
    Raises `MissingExtra` when the reader's package is not installed.
    """
    report = ImportReport()
    for item in _items(readers(kind, target, **options)):
        if isinstance(item, BadSource):
            report.skipped.append((str(item), "unreadable"))
            outcome = "skipped"
        elif isinstance(item, AlreadyImported):
            report.unchanged.append(item)
            outcome = "unchanged"
        elif dry_run:
            known = Job.objects.filter(uid=item.uid).exists()
            (report.unchanged if known else report.planned).append(item)
            outcome = "unchanged" if known else "planned"
        else:
            try:
                outcome = run_store(item, project=project)
            except (BadSource, InvalidInput, DatabaseError) as exc:
                report.skipped.append((f"{item.origin}: {describe_error(exc)}", "refused"))
                outcome = "skipped"
            else:
                (report.created if outcome == "created" else report.unchanged).append(item)
        if on_run is not None:
            on_run(item, outcome)
    return report
