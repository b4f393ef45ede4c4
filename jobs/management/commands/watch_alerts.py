"""Daemon: evaluate diagnostics on running jobs and deliver alerts to the webhook."""

import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from jobs.alerts import alerts_deliver, alerts_evaluate


class Command(BaseCommand):
    help = "Raise diagnostic alerts on running jobs and post them to TUNEBOARD_ALERT_WEBHOOK."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=15.0)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args, interval, once, **options):
        if interval < 1:
            raise CommandError("--interval must be at least 1 second")
        self.stopping = False
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        while not self.stopping:
            created = alerts_evaluate()
            alerts_deliver()
            if created:
                self.stdout.write(
                    f"{len(created)} new alert(s): " + ", ".join(str(a) for a in created)
                )
            if once:
                return
            deadline = time.monotonic() + interval
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.2)
            # Between passes, not before the first: a connection that went stale while
            # waiting is replaced.
            close_old_connections()

    def _stop(self, signum, frame):
        self.stopping = True
