"""The demo simulator daemon: keeps the fixture jobs moving so the screens are live."""

import gc
import logging
import signal
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from jobs.simulator import DemoSimulator

logger = logging.getLogger("jobs.simulator")

# Sleep in slices this short so a SIGTERM is honoured well within a second.
TICK = 0.2


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
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

        simulator = DemoSimulator(speed=speed, seed=seed, fail_rate=fail_rate)
        # Objects loaded at start-up live until exit: spare the collector (and shutdown).
        gc.freeze()
        logger.info(
            "Simulating demo jobs at speed %g (seed %d, fail rate %g)",
            speed,
            simulator.seed,
            fail_rate,
        )
        failing = False
        next_step = time.monotonic()
        while not stopping:
            close_old_connections()
            try:
                simulator.step()
            except Exception:
                # A locked or vanished database must not end the demo; one traceback
                # per outage is enough.
                if not failing:
                    logger.exception("Simulator step failed; retrying every tick")
                failing = True
            else:
                if failing:
                    logger.info("Simulator steps work again")
                failing = False
            next_step = max(next_step + tick, time.monotonic())
            while not stopping and time.monotonic() < next_step:
                time.sleep(min(TICK, max(0.0, next_step - time.monotonic())))
        logger.info("Simulator stopped")
