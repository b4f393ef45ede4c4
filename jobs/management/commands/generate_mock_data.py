"""Generate realistic history for the fixture jobs that have progressed."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs.demo.fixtures import DEFAULT_FIXTURES, FixtureError, fixture_records
from jobs.demo.mockdata import job_history_generate
from jobs.models import Job


class Command(BaseCommand):
    help = "Write deterministic metrics, logs and resource samples for fixture jobs."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--fixtures", nargs="*", help="Fixture files naming the jobs.")

    def handle(self, *args, seed, fixtures, **options):
        files = fixtures or [str(Path(settings.BASE_DIR) / f) for f in DEFAULT_FIXTURES]
        finals = {}
        try:
            for path in files:
                for record in fixture_records(path):
                    finals[record["uid"]] = record.get("final_metrics") or {}
        except FixtureError as exc:
            raise CommandError(str(exc)) from None
        jobs = Job.objects.filter(uid__in=list(finals)).exclude(started_at=None)
        if not jobs:
            raise CommandError("No fixture jobs in the database: run `manage.py load_jobs` first.")
        totals = [0, 0, 0]
        for job in jobs:
            counts = job_history_generate(job=job, seed=seed, final_metrics=finals[job.uid])
            totals = [a + b for a, b in zip(totals, counts, strict=False)]
        self.stdout.write(
            f"Generated {totals[0]:,} metric points, {totals[1]:,} log lines and "
            f"{totals[2]:,} resource samples for {len(jobs)} jobs (seed {seed})."
        )
