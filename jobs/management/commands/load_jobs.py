"""Load fixture jobs: validate every record of every file, then upsert all in one go."""

from django.core.management.base import BaseCommand, CommandError

from jobs.demo.fixtures import FixtureError, fixtures_load


class Command(BaseCommand):
    help = "Load fixture jobs (upsert by uid). Default: both files under fixtures/."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="Fixture files (JSON).")

    def handle(self, *args, files, **options):
        try:
            jobs, file_count = fixtures_load(files)
        except FixtureError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Loaded {jobs} jobs from {file_count} file(s).")
