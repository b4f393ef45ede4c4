"""The daemons run inside the server process, for the one-process setup of `make run`.

With the default in-memory channel layer, a push only reaches browsers connected to the
process that made it. So that the demo simulator, the resource sampler and the alert
watcher move the pages without Redis, `TUNEBOARD_EMBEDDED_DAEMONS=sampler,simulator,alerts`
runs them as threads of the ASGI server, sending on its event loop (`trash`, the purge of
jobs deleted 30 days ago, needs no loop but runs there too). With `REDIS_URL` set, the
separate `manage.py` daemons do the same job across processes.
"""

import logging
import socket
import threading

from django.conf import settings
from django.db import close_old_connections

from jobs.core import push
from jobs.core.daemon import Daemon

logger = logging.getLogger(__name__)
_started = False
_lock = threading.Lock()


def _sampler():
    from monitoring.sampler import Sampler

    return Sampler(host=socket.gethostname(), retain_days=14).step, 2.0


def _simulator():
    from jobs.demo.simulator import DemoSimulator

    return DemoSimulator(speed=1.0, seed=1, fail_rate=0.1).step, 1.0


def _alerts():
    from jobs.diagnostics.alerts import alerts_pass

    return alerts_pass, float(settings.TUNEBOARD_ALERTS_INTERVAL)


def _trash():
    from jobs.services import PURGE_DUTY, PURGE_PASS_BATCHES, trash_purge

    def purge_pass():
        # Bounded, so a stop request is honoured within one pass; the next goes on.
        return trash_purge(max_batches=PURGE_PASS_BATCHES, duty=PURGE_DUTY)

    return purge_pass, 60.0


DAEMONS = {"sampler": _sampler, "simulator": _simulator, "alerts": _alerts, "trash": _trash}


def _run(name, factory, loop):
    push.bind_thread_to_loop(loop)
    close_old_connections()
    unit, interval = factory()
    logger.info("Running the %s inside the server, every %.0f s", name, interval)
    Daemon(name, unit, interval=interval, logger=logger).run()


def start(loop):
    """Start the configured daemons once per process, sending on `loop`."""
    global _started
    with _lock:
        if _started:
            return
        _started = True
    for name in settings.TUNEBOARD_EMBEDDED_DAEMONS:
        threading.Thread(
            target=_run, args=(name, DAEMONS[name], loop), name=f"tuneboard-{name}", daemon=True
        ).start()
