"""Daemon: evaluate diagnostics on running jobs and deliver alerts to the webhook."""

import logging

from django.core.management.base import BaseCommand, CommandError

from jobs.core.daemon import Daemon
from jobs.diagnostics.alerts import alerts_pass

logger = logging.getLogger("jobs.alerts")


class Command(BaseCommand):
    help = "Raise diagnostic alerts on running jobs and post them to TUNEBOARD_ALERT_WEBHOOK."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=15.0)
        parser.add_argument("--once", action="store_true")

    def handle(self, *args, interval, once, **options):
        if interval < 1:
            raise CommandError("--interval must be at least 1 second")
        if once:
            self._pass()
            return
        daemon = Daemon("alert watcher", self._pass, interval=interval, logger=logger)
        daemon.handle_signals()
        daemon.run()

    def _pass(self):
        created = alerts_pass()
        if created:
            self.stdout.write(f"{len(created)} new alert(s): " + ", ".join(str(a) for a in created))
