"""A training run reported to Tuneboard: metrics, log lines, stages, progress, outcome.

Every method only queues an event for the background transport and returns at once;
nothing here waits on the network except `finish`/`fail` (bounded by their timeout).
"""

import logging
import math
import numbers
import os
import re
import secrets
import sys
import threading
import time
import traceback

from .transport import Transport, hostname

__all__ = ["STAGES", "LogHandler", "Run", "init"]

STAGES = ("dataset_loading", "tokenization", "training", "validation", "save_model")
STAGE_STATUSES = ("pending", "active", "completed", "failed", "skipped")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR", "TRACE": "DEBUG"}
MAX_KEY_LENGTH = 128
MAX_MESSAGE = 65_536
DEFAULT_SERVER = "http://127.0.0.1:8000"


def _uid_from_name(name):
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48].strip("-") or "job"
    return f"{base}-{secrets.token_hex(3)}"


def _error_type(exc):
    cls = type(exc)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _json_safe(value):
    """`value` as JSON the server accepts: non-finite floats and unknown objects
    (numpy scalars, paths, dtypes, …) become numbers or strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(item) for item in value]
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _json_safe(float(value))
    return str(value)


def init(
    server=None,
    token=None,
    *,
    name=None,
    model="",
    dataset="",
    config=None,
    tags=None,
    uid=None,
    total_steps=None,
    total_epochs=None,
    **transport_options,
):
    """Create (or, with a known `uid`, resume) a job and return its `Run`.

    `server` and `token` default to `TUNEBOARD_SERVER` and `TUNEBOARD_TOKEN`. Without a
    `uid` one is made from the name, so the job can be reported even while the server
    is unreachable: creation is queued like everything else and sent first.
    """
    server = server or os.environ.get("TUNEBOARD_SERVER") or DEFAULT_SERVER
    token = token or os.environ.get("TUNEBOARD_TOKEN")
    if not token:
        raise ValueError("token: pass token= or set TUNEBOARD_TOKEN (manage.py create_token)")
    if name is None:
        script = os.path.splitext(os.path.basename(sys.argv[0] or ""))[0]
        name = uid or script or "run"
    if uid is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(uid)):
        raise ValueError("uid: 1–64 characters: letters, digits, '-' and '_'")
    run = Run(
        server=server,
        token=token,
        uid=uid or _uid_from_name(name),
        transport_options=transport_options,
    )
    body = {
        "uid": run.uid,
        "name": name,
        "model": model or "",
        "dataset": dataset or "",
        "host": hostname(),
    }
    if config is not None:
        body["config"] = _json_safe(dict(config))
    if tags is not None:
        body["tags"] = list(tags)
    if total_steps is not None:
        body["total_steps"] = int(total_steps)
        run.total_steps = int(total_steps)
    if total_epochs is not None:
        body["total_epochs"] = float(total_epochs)
    run._post("/api/jobs", body)
    run._post(
        f"/api/jobs/{run.uid}/status",
        {"status": "running", "host": body["host"], "time": time.time()},
    )
    return run


class Run:
    """One job being reported. Use `init()` to make one.

    As a context manager, leaving the block normally finishes the job, an exception
    fails it (with its traceback and the active stage) and propagates, and Ctrl-C
    cancels it.
    """

    def __init__(self, *, server, token, uid, transport_options=None):
        self.uid = uid
        self.server = server.rstrip("/")
        self.url = f"{self.server}/job/{uid}"
        self.step = None
        self.total_steps = None
        self.finished = False
        self._lock = threading.Lock()
        self._active_stages = []
        self._auto_step = 0
        self._warned = set()
        # Log seqs start at the current time in microseconds: a resumed run (same uid,
        # new process) continues above every seq an earlier process used, unless that
        # process wrote more than a million lines per second, and no server round trip
        # is needed to find where the last one stopped.
        self._seq = time.time_ns() // 1000
        self.transport = Transport(
            self.server,
            token,
            job_uid=uid,
            heartbeat=self._heartbeat_body,
            **(transport_options or {}),
        )
        _install_excepthook()
        _open_runs.add(self)

    # metrics and logs ------------------------------------------------------------

    def log(self, metrics, step=None, epoch=None):
        """Queue metric points `{key: value}` at `step` (default: one past the last
        implicit step). Values that are not numbers are skipped with one warning."""
        if self.finished:
            self._warn_once(("finished", "log"), "log() after the run finished")
            return
        now = time.time()
        with self._lock:
            if step is None:
                step = self._auto_step
                self._auto_step += 1
        try:
            step = int(step)
        except (TypeError, ValueError):
            self._warn_once(("step", type(step)), f"step must be an integer, got {step!r}")
            return
        if step < 0:
            self._warn_once(("step", "negative"), f"step must be >= 0, got {step}")
            return
        if epoch is not None:
            try:
                epoch = float(epoch)
            except (TypeError, ValueError):
                epoch = None
            if epoch is not None and not (math.isfinite(epoch) and epoch >= 0):
                epoch = None
        events = []
        for key, value in metrics.items():
            if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or "\x00" in key:
                self._warn_once(("key", key), f"metric key {key!r} is not a 1–128 char string")
                continue
            try:
                value = float(value)
            except (TypeError, ValueError):
                self._warn_once(("value", key), f"metric {key!r}: {value!r} is not a number")
                continue
            events.append(("m", key, step, value, epoch, now))
        if events:
            self.transport.put_many(events)

    def log_text(self, message, level="INFO"):
        """Queue one log line for the job's terminal panel."""
        if self.finished:
            self._warn_once(("finished", "log_text"), "log_text() after the run finished")
            return
        level = str(level).upper()
        level = _LEVEL_ALIASES.get(level, level)
        if level not in LEVELS:
            level = "INFO"
        message = str(message)
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 1] + "…"
        with self._lock:
            self._seq += 1
            seq = self._seq
        self.transport.put(("l", seq, message, level, time.time()))

    def logging_handler(self, level=logging.INFO):
        """A `logging.Handler` forwarding records to this run's log panel."""
        return LogHandler(self, level=level)

    # stages and progress ---------------------------------------------------------

    def stage(self, name, status="active", progress=None, message=None):
        """Move a pipeline stage (`STAGES`) to `status` (`active`, `completed`, …)."""
        if name not in STAGES:
            raise ValueError(f"stage: {name!r} is not one of {', '.join(STAGES)}")
        if status not in STAGE_STATUSES:
            raise ValueError(f"status: {status!r} is not one of {', '.join(STAGE_STATUSES)}")
        # The event's own time: stage timings stay right when delivery is late.
        if self.finished:
            self._warn_once(("finished", "stage"), "stage() after the run finished")
            return
        body = {"stage": name, "status": status, "time": time.time()}
        if progress is not None:
            body["progress"] = max(0.0, min(100.0, float(progress)))
        if message is not None:
            body["message"] = str(message)[:500]
        with self._lock:
            if name in self._active_stages:
                self._active_stages.remove(name)
            if status == "active":
                self._active_stages.append(name)
        self._post(f"/api/jobs/{self.uid}/stages", body)

    @property
    def active_stage(self):
        """The most recently started stage that has not ended, or None."""
        with self._lock:
            return self._active_stages[-1] if self._active_stages else None

    def progress(self, step=None, total_steps=None, epoch=None, percent=None):
        """Report where training is; cheap enough to call every step (coalesced)."""
        if self.finished:
            return
        fields = {}
        if step is not None:
            self.step = fields["step"] = int(step)
        if total_steps is not None:
            self.total_steps = fields["total_steps"] = int(total_steps)
        if epoch is not None and math.isfinite(float(epoch)) and float(epoch) >= 0:
            fields["epoch"] = float(epoch)
        if percent is not None:
            fields["progress"] = max(0.0, min(100.0, float(percent)))
        if fields:
            self.transport.put(("p", fields))

    # outcome ------------------------------------------------------------------------

    def finish(self, timeout=30.0):
        """Complete the active stages and the job, then deliver everything queued,
        waiting at most `timeout` seconds. Returns True when all was delivered."""
        if self.finished:
            return True
        for name in list(self._active_stages):
            self.stage(name, "completed")
        return self._close({"status": "completed"}, timeout)

    def fail(self, exc=None, timeout=30.0):
        """Mark the job failed with `exc` (default: the exception being handled):
        its type, message, traceback, the active stage and the current step."""
        if self.finished:
            return True
        if exc is None:
            exc = sys.exc_info()[1]
        error = {"message": "Job failed", "type": "", "traceback": ""}
        if exc is not None:
            error["message"] = (str(exc) or type(exc).__name__)[:20_000]
            error["type"] = _error_type(exc)[:200]
            error["traceback"] = "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)
            )[-200_000:]
        if self.active_stage:
            error["stage"] = self.active_stage
        if self.step is not None:
            error["step"] = self.step
        self.log_text(f"{error['type'] or 'Error'}: {error['message']}", "ERROR")
        return self._close({"status": "failed", "error": error}, timeout)

    def cancel(self, timeout=30.0):
        """Mark the job cancelled (e.g. on Ctrl-C)."""
        if self.finished:
            return True
        return self._close({"status": "cancelled"}, timeout)

    def _close(self, status_body, timeout):
        status_body["time"] = time.time()
        if self.step is not None:
            status_body["step"] = self.step
        self._post(f"/api/jobs/{self.uid}/status", status_body)
        self.finished = True
        _open_runs.discard(self)
        return self.transport.close(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            self.finish()
        elif isinstance(exc, KeyboardInterrupt):
            self.cancel()
        else:
            self.fail(exc)
        return False

    # internals --------------------------------------------------------------------

    def _post(self, path, body):
        self.transport.put(("post", path, body))

    def _heartbeat_body(self):
        return {} if self.step is None else {"step": self.step}

    def _warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            print(f"tuneboard: {message} (skipped)", file=sys.stderr, flush=True)

    def __repr__(self):
        return f"<tuneboard.Run {self.uid} {self.url}>"


class LogHandler(logging.Handler):
    """Forwards a logger's records to a run's log panel (`logger.addHandler(...)`)."""

    def __init__(self, run, level=logging.INFO):
        super().__init__(level)
        self.run = run

    def emit(self, record):
        try:
            self.run.log_text(self.format(record), record.levelname)
        except Exception:
            self.handleError(record)


# An exception nobody caught fails the runs still open, then Python reports it as usual.
_open_runs = set()
_previous_excepthook = None


def _install_excepthook():
    global _previous_excepthook
    if _previous_excepthook is not None:
        return
    _previous_excepthook = sys.excepthook

    def excepthook(exc_type, exc, tb):
        for run in list(_open_runs):
            if issubclass(exc_type, KeyboardInterrupt):
                run.cancel(timeout=5.0)
            else:
                run.fail(exc, timeout=5.0)
        _previous_excepthook(exc_type, exc, tb)

    sys.excepthook = excepthook
