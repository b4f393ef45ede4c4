"""Import existing runs: `manage.py import_runs tensorboard PATH | mlflow --tracking-uri URI
[--experiment NAME]… | csv FILE|DIR | jsonl FILE|DIR` (jobs/interop/importers)."""

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from jobs.accounts.models import Project
from jobs.interop.importers import KINDS, MissingExtra, import_runs


class Progress:
    """One line redrawn in place on a terminal; nothing when the output is not one."""

    def __init__(self, stream):
        self.stream = stream
        self.enabled = stream.isatty()
        self.counts = {}
        self.started = time.monotonic()

    def __call__(self, item, outcome):
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        if not self.enabled:
            return
        done = sum(self.counts.values())
        parts = ", ".join(f"{n} {what}" for what, n in sorted(self.counts.items()))
        bar = "#" * min(30, done) + "." * max(0, 30 - done)
        seconds = time.monotonic() - self.started
        self.stream.write(f"\r[{bar}] {done} runs ({parts}) {seconds:.1f}s ")
        self.stream.flush()

    def close(self):
        if self.enabled and self.counts:
            self.stream.write("\n")
            self.stream.flush()


class Command(BaseCommand):
    help = (
        "Import runs from TensorBoard event files, an MLflow store or server, or CSV / JSONL "
        "tables (W&B exports). Idempotent: importing the same source again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", choices=KINDS, help="What to read.")
        parser.add_argument(
            "path", nargs="?", help="A directory or file (tensorboard, csv, jsonl)."
        )
        parser.add_argument("--tracking-uri", help="mlflow: a mlruns/ directory or server URL.")
        parser.add_argument(
            "--experiment",
            action="append",
            default=[],
            help="mlflow: only this experiment (repeatable; default: all).",
        )
        parser.add_argument("--step-column", help="csv/jsonl: the column holding the step.")
        parser.add_argument("--name", help="The job name (default: from the source).")
        parser.add_argument("--model", default="", help="The model of the imported jobs.")
        parser.add_argument("--dataset", default="", help="The dataset of the imported jobs.")
        parser.add_argument(
            "--tag", action="append", default=[], help="A tag for every imported job."
        )
        parser.add_argument("--project", help="The project (slug) the jobs go to.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Read everything, write nothing; say what."
        )

    def handle(self, *args, source, path, **options):
        if source == "mlflow":
            target = options["tracking_uri"] or path
            if not target:
                raise CommandError("mlflow needs --tracking-uri URI (a mlruns/ directory or URL).")
        else:
            target = path
            if not target:
                raise CommandError(f"{source} needs a PATH.")
        project = None
        if options["project"]:
            project = Project.objects.filter(slug=options["project"]).first()
            if project is None:
                raise CommandError(f"No project '{options['project']}'.")
        describe = {"model": options["model"], "dataset": options["dataset"]}
        describe["tags"] = options["tag"]
        if source == "mlflow":
            describe["experiments"] = options["experiment"]
        else:
            describe["name"] = options["name"]
        if source in ("csv", "jsonl"):
            describe["step_column"] = options["step_column"]
        progress = Progress(sys.stderr)
        started = time.monotonic()
        try:
            report = import_runs(
                source,
                target,
                dry_run=options["dry_run"],
                project=project,
                on_run=progress,
                **describe,
            )
        except MissingExtra as exc:
            raise CommandError(str(exc)) from None
        finally:
            progress.close()
        seconds = time.monotonic() - started
        for run in report.planned:
            self.stdout.write(
                f"would create {run.uid}  {run.name}  ({len(run.points)} points, "
                f"{len(run.logs)} log lines, {len(run.config)} config keys)"
            )
        for run in report.created:
            self.stdout.write(
                f"created {run.uid}  {run.name}  ({len(run.points)} points, "
                f"{len(run.logs)} log lines)"
            )
        for run in report.unchanged:
            self.stdout.write(f"unchanged {run.uid}  {run.name}  (imported before)")
        for what, _why in report.skipped:
            self.stderr.write(f"skipped {what}")
        verb = "would create" if options["dry_run"] else "created"
        count = len(report.planned) if options["dry_run"] else len(report.created)
        self.stdout.write(
            f"{source}: {count} {verb}, {len(report.unchanged)} unchanged, "
            f"{len(report.skipped)} skipped; {report.points} points in {seconds:.1f}s."
        )
