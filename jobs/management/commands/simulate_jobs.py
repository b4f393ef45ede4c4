"""The demo simulator daemon: keeps the fixture jobs moving so the screens are live."""

import gc
import logging

from django.core.management.base import BaseCommand, CommandError

from jobs.core.daemon import Daemon
from jobs.demo.simulator import DemoSimulator

logger = logging.getLogger("jobs.simulator")


class Command(BaseCommand):
    help = "Drive the demo jobs through their stages with live metrics, logs and status."

    def add_arguments(self, parser):
        parser.add_argument(
            "--speed", type=float, default=1.0, help="Time multiplier (1: a job takes minutes)."
        )
        parser.add_argument("--seed", type=int, default=None, help="Random seed (repeatable).")
        parser.add_argument(
            "--fail-rate",
            type=float,
            default=0.1,
            help="Probability that a demo job fails with a realistic error (0–1, default 0.1).",
        )
        parser.add_argument(
            "--tick", type=float, default=1.0, help="Real seconds between steps (default 1)."
        )

    def handle(self, *args, speed, seed, fail_rate, tick, **options):
        if speed <= 0:
            raise CommandError(f"--speed must be greater than 0, got {speed}")
        if not 0 <= fail_rate <= 1:
            raise CommandError(f"--fail-rate must be between 0 and 1, got {fail_rate}")
        if tick < 0.1:
            raise CommandError(f"--tick must be at least 0.1 seconds, got {tick}")
        simulator = DemoSimulator(speed=speed, seed=seed, fail_rate=fail_rate)
        daemon = Daemon("simulator", simulator.step, interval=tick, logger=logger)
        daemon.handle_signals()
        # Objects loaded at start-up live until exit: spare the collector (and shutdown).
        gc.freeze()
        logger.info(
            "Simulating demo jobs at speed %g (seed %d, fail rate %g)",
            speed,
            simulator.seed,
            fail_rate,
        )
        daemon.run()
