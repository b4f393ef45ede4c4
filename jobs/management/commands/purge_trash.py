"""Purge the jobs deleted 30 days ago (or more) with everything they own, in batches."""

import logging

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from jobs import services
from jobs.core.daemon import Daemon

logger = logging.getLogger("jobs.trash")


class Command(BaseCommand):
    help = (
        "Remove the jobs in the trash for 30 days or more, with their points, rollups, logs, "
        "samples and resource samples, in short batches that never stall ingest."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=services.PURGE_BATCH, help="Rows per transaction."
        )
        parser.add_argument(
            "--now", help="Purge as if it were this ISO time (default: now); for tests and drills."
        )
        parser.add_argument(
            "--duty",
            type=float,
            default=services.PURGE_DUTY,
            help="Share of the time the purge holds the database (over 0, at most 1: no rest).",
        )
        parser.add_argument(
            "--loop", action="store_true", help="Run as a daemon, every --interval."
        )
        parser.add_argument("--interval", type=float, default=60.0)

    def handle(self, *args, batch_size, now, duty, loop, interval, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if not 0 < duty <= 1:
            raise CommandError("--duty must be over 0 and at most 1")
        at = None
        if now:
            at = parse_datetime(now)
            if at is None:
                raise CommandError(f"--now: not an ISO date and time: {now!r}")
        if loop:
            if interval < 1:
                raise CommandError("--interval must be at least 1 second")

            def purge_pass():
                return services.trash_purge(
                    batch_size=batch_size, max_batches=services.PURGE_PASS_BATCHES, duty=duty
                )

            daemon = Daemon("trash purge", purge_pass, interval=interval, logger=logger)
            daemon.handle_signals()
            daemon.run()
            return
        cutoff = services.trash_cutoff(at)
        self.stdout.write(f"Purging the jobs deleted before {cutoff.isoformat()}")
        self.stdout.flush()
        purged, rows = [], 0
        while True:
            result = services.trash_purge(now=at, batch_size=batch_size, duty=duty)
            purged += result["jobs"]
            rows += result["rows"]
            if result["done"]:
                break
        self.stdout.write(f"Purged {len(purged)} job(s), {rows} row(s)" + (": " if purged else "."))
        if purged:
            self.stdout.write(", ".join(purged))
