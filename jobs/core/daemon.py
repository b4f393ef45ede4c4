"""The one daemon loop: the sampler, the simulator and the alert watcher all run in it,
as `manage.py` commands or as threads of the server (`config/daemons.py`).

A pass is one call of `unit()`. Passes run every `interval` seconds on a fixed schedule
(after a stall the schedule starts afresh instead of catching up). Waiting is done in
short ticks, so a stop request (the SIGTERM handler only sets a flag) is honoured within
a tick. Between passes the loop drops database connections that went stale or broke, so
a database restart is survived. A pass that raises is logged, once per outage, and the
loop goes on; the first good pass after an outage says so.
"""

import logging
import signal
import time

from django.db import close_old_connections

# Sleep in slices this short so a SIGTERM is honoured well within a second.
TICK = 0.2


class Daemon:
    def __init__(self, name, unit, *, interval, logger=None, clock=time.monotonic, sleep=None):
        self.name = name
        self.unit = unit
        self.interval = interval
        self.logger = logger or logging.getLogger(f"tuneboard.{name}")
        self.clock = clock
        self.sleep = sleep or time.sleep
        self.stopping = False
        self.failing = False

    def stop(self, *args):
        """Ask the loop to end after the current pass; safe from a signal handler."""
        self.stopping = True

    def handle_signals(self):
        """SIGTERM and SIGINT stop the loop (main thread only)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run_pass(self):
        """Run one pass; an exception is logged (once per outage), not raised."""
        try:
            result = self.unit()
        except Exception:
            if not self.failing:
                self.logger.exception("The %s failed; it goes on and retries", self.name)
            self.failing = True
            return None
        if self.failing:
            self.logger.info("The %s works again", self.name)
        self.failing = False
        return result

    def wait_until(self, deadline):
        """Sleep in ticks until `deadline` (a `clock` value); False when stopped first."""
        while not self.stopping and self.clock() < deadline:
            self.sleep(min(TICK, max(0.0, deadline - self.clock())))
        return not self.stopping

    def run(self, *, first_pass_after=0.0):
        """Pass, wait, pass… until stopped; the first pass after `first_pass_after` s."""
        next_pass = self.clock() + first_pass_after
        first = True
        if first_pass_after and not self.wait_until(next_pass):
            first = False
        while not self.stopping:
            if not first:
                # Between passes, never before the first: a connection that went stale
                # while waiting is replaced, and a caller's open transaction is left alone.
                close_old_connections()
            first = False
            self.run_pass()
            next_pass = max(next_pass + self.interval, self.clock())
            if not self.wait_until(next_pass):
                break
        self.logger.info("The %s stopped", self.name)
