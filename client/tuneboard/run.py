"""A training run reported to Tuneboard: metrics, log lines, stages, progress, outcome.

Every method only queues an event for the background transport and returns at once;
nothing here waits on the network except `finish`/`fail` (bounded by their timeout).

Offline (`TUNEBOARD_MODE=offline`), every event goes to the run's directory on disk for
`python -m tuneboard sync`; online, what cannot be delivered at the end is kept there
too. A stop requested from the job page arrives in a heartbeat answer: `should_stop`,
`on_stop`, and (opt-in) `StopRequested` raised in the main thread.
"""

import atexit
import contextlib
import json
import logging
import math
import numbers
import os
import sys
import threading
import time
import traceback

from . import console
from .config import runs_dir
from .environment import _error_type, _json_safe, disk_size, distributed_role
from .transport import Transport, hostname

__all__ = [
    "STAGES",
    "LogHandler",
    "Run",
    "StopRequested",
    "disk_size",
    "distributed_role",
]

STAGES = ("dataset_loading", "tokenization", "training", "validation", "save_model")
STAGE_STATUSES = ("pending", "active", "completed", "failed", "skipped")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR", "TRACE": "DEBUG"}
MAX_KEY_LENGTH = 128
MAX_MESSAGE = 65_536
MAX_SAMPLE_TEXT = 65_536
MAX_SAMPLE_META_BYTES = 16_384
MAX_SAMPLES_PER_POST = 200
MAX_SAMPLES_BODY = 3_000_000  # bytes of samples per post, under the server's 4 MiB
MODES = ("online", "offline")


class StopRequested(Exception):
    """Someone asked the job to stop (its page's Stop button, an alert rule).

    Raised in the main thread by a run made with `raise_on_stop=True`; leaving a
    `with run:` block with it ends the job as cancelled and is not an error.
    """


class Run:
    """One job being reported. Use `init()` to make one.

    As a context manager, leaving the block normally finishes the job, an exception
    fails it (with its traceback and the active stage) and propagates, and Ctrl-C
    cancels it.
    """

    def __init__(
        self,
        *,
        server,
        token,
        uid,
        transport_options=None,
        role="main",
        host=None,
        offline=False,
    ):
        self.uid = uid
        self.server = server.rstrip("/")
        self.url = f"{self.server}/job/{uid}"
        self.host = host or hostname()
        self.role = role
        # Only the main process reports metrics, logs, stages and status; a node process
        # only samples its host, an idle rank sends nothing (every call is then a no-op).
        self.reporting = role == "main"
        self.step = None
        self.total_steps = None
        self.finished = False
        self._lock = threading.Lock()
        self._active_stages = []
        self._auto_step = 0
        self._last_step = None
        self._warned = set()
        self._console = False
        self._system = None
        # Integrations set this on the runs they create: such a run stays open after
        # training (a later evaluate() or save is still reported) and is completed when
        # the process exits. A run of your own is finished by `with run:` or finish();
        # at exit it is only flushed.
        self.finish_at_exit = False
        # Log seqs start at the current time in microseconds: a resumed run (same uid,
        # new process) continues above every seq an earlier process used, unless that
        # process wrote more than a million lines per second, and no server round trip
        # is needed to find where the last one stopped.
        self._seq = time.time_ns() // 1000
        self.offline = offline
        # Where events wait on disk: everything when offline, the undelivered rest at
        # the end otherwise (`python -m tuneboard sync` uploads them).
        self.directory = os.path.join(runs_dir(), uid)
        self.on_stop = None
        self.raise_on_stop = False
        self._stop = threading.Event()
        self.transport = None
        if role != "idle":
            options = dict(transport_options or {})
            options.setdefault("run_dir", self.directory if self.reporting else None)
            self.transport = Transport(
                self.server,
                token,
                job_uid=uid,
                heartbeat=self._heartbeat_body if self.reporting and not offline else None,
                offline=offline and self.reporting,
                on_status=self._status_answer if self.reporting else None,
                **options,
            )
        _install_excepthook()
        _open_runs.add(self)

    # metrics and logs ------------------------------------------------------------

    def log(self, metrics, step=None, epoch=None):
        """Queue metric points `{key: value}` at `step` (default: one past the last
        implicit step). Values that are not numbers are skipped with one warning."""
        if not self.reporting:
            return
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
            if self._last_step is None or step > self._last_step:
                self._last_step = step
            self.transport.put_many(events)

    def summary(self, values):
        """Record end-of-run values `{key: number}` (final accuracy, train runtime, …).

        Each is stored as one metric point under its key at the run's last step (a key
        with a single point: the job page shows it in its Summary table, not as a chart),
        and the whole dict is sent once more as `{"summary": {...}}` in a status report,
        for servers that keep summaries apart. Values that are not numbers are skipped.
        """
        if not self.reporting:
            return
        if self.finished:
            self._warn_once(("finished", "summary"), "summary() after the run finished")
            return
        numbers_only = {}
        for key, value in dict(values).items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                self._warn_once(("summary", key), f"summary {key!r}: {value!r} is not a number")
                continue
            numbers_only[str(key)] = float(value)
        if not numbers_only:
            return
        step = self.step if self.step is not None else self._last_step
        self.log(numbers_only, step=step if step is not None else 0)
        self._post(
            f"/api/jobs/{self.uid}/status",
            {"summary": _json_safe(numbers_only), "time": time.time()},
        )

    def log_text(self, message, level="INFO"):
        """Queue one log line for the job's terminal panel."""
        if not self.reporting:
            return
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

    # samples and checkpoints -----------------------------------------------------

    def log_samples(self, samples, step=None):
        """Queue generations on fixed prompts, `[{"prompt", "output", "reference"?,
        "score"?, "meta"?}]`, at `step` (default: the current step).

        The server keeps one per prompt and step and never overwrites it (a re-send is
        ignored). Texts longer than the server's limit (65 536 characters) are cut,
        with one warning; samples without a text prompt and output are skipped.
        """
        if not self.reporting:
            return
        if self.finished:
            self._warn_once(("finished", "log_samples"), "log_samples() after the run finished")
            return
        step = self._step_or_current(step, "log_samples")
        if step is None:
            return
        now = time.time()
        clean = []
        for sample in samples:
            if not isinstance(sample, dict):
                self._warn_once(("sample", "type"), f"sample {sample!r} is not a dict")
                continue
            prompt, output = sample.get("prompt"), sample.get("output")
            if not isinstance(prompt, str) or not prompt or not isinstance(output, str):
                self._warn_once(("sample", "text"), "a sample needs a prompt and an output text")
                continue
            item = {"prompt": self._cut(prompt), "output": self._cut(output), "time": now}
            if sample.get("reference") is not None:
                item["reference"] = self._cut(str(sample["reference"]))
            score = sample.get("score")
            if score is not None:
                try:
                    score = float(score)
                except (TypeError, ValueError):
                    score = None
                if score is not None and math.isfinite(score):
                    item["score"] = score
            if isinstance(sample.get("meta"), dict):
                meta = _json_safe(sample["meta"])
                if len(json.dumps(meta, ensure_ascii=False).encode()) <= MAX_SAMPLE_META_BYTES:
                    item["meta"] = meta
                else:
                    self._warn_once(("sample", "meta"), "a sample's meta is over 16 KiB")
            clean.append(item)
        # Batches the server takes whole: at most 200 samples and well under its body limit.
        batch, size = [], 0
        for item in clean:
            # As the transport encodes it (non-ASCII escaped): the bytes it will send.
            item_size = len(json.dumps(item, default=str)) + 1
            full = len(batch) == MAX_SAMPLES_PER_POST or size + item_size > MAX_SAMPLES_BODY
            if batch and full:
                self._post(f"/api/jobs/{self.uid}/samples", {"step": step, "samples": batch})
                batch, size = [], 0
            batch.append(item)
            size += item_size
        if batch:
            self._post(f"/api/jobs/{self.uid}/samples", {"step": step, "samples": batch})

    def checkpoint(self, path, step=None, size=None, metrics=None):
        """Queue a checkpoint saved at `path` at `step` (default: the current step):
        its `size` in bytes (default: measured on disk, a directory's files summed) and
        the evaluation `metrics` at that step (`{key: number}`)."""
        if not self.reporting:
            return
        if self.finished:
            self._warn_once(("finished", "checkpoint"), "checkpoint() after the run finished")
            return
        step = self._step_or_current(step, "checkpoint")
        if step is None:
            return
        path = os.fspath(path)
        if size is None:
            size = disk_size(path)
        body = {"step": step, "path": str(path)[:1024], "time": time.time()}
        if size is not None:
            body["size"] = int(size)
        numbers_only = {}
        for key, value in dict(metrics or {}).items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                continue
            numbers_only[str(key)[:MAX_KEY_LENGTH]] = _json_safe(float(value))
        if numbers_only:
            body["metrics"] = numbers_only
        self._post(f"/api/jobs/{self.uid}/checkpoints", body)

    def _step_or_current(self, step, what):
        if step is None:
            step = self.step if self.step is not None else self._last_step
            if step is None:
                step = 0
        try:
            step = int(step)
        except (TypeError, ValueError):
            self._warn_once((what, "step"), f"{what}: step must be an integer, got {step!r}")
            return None
        if step < 0:
            self._warn_once((what, "step<0"), f"{what}: step must be >= 0, got {step}")
            return None
        return step

    def _cut(self, text):
        if len(text) <= MAX_SAMPLE_TEXT:
            return text
        self._warn_once(("sample", "long"), f"sample texts are cut to {MAX_SAMPLE_TEXT} characters")
        return text[: MAX_SAMPLE_TEXT - 1] + "…"

    # stages and progress ---------------------------------------------------------

    def stage(self, name, status="active", progress=None, message=None):
        """Move a pipeline stage (`STAGES`) to `status` (`active`, `completed`, …)."""
        if name not in STAGES:
            raise ValueError(f"stage: {name!r} is not one of {', '.join(STAGES)}")
        if status not in STAGE_STATUSES:
            raise ValueError(f"status: {status!r} is not one of {', '.join(STAGE_STATUSES)}")
        # The event's own time: stage timings stay right when delivery is late.
        if not self.reporting:
            return
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
        if self.finished or not self.reporting:
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
        waiting at most `timeout` seconds. Returns True when all was delivered. After a
        stop request the job ends `cancelled` instead (`cancel`), at its current step."""
        if self.finished:
            return True
        if self.should_stop:
            return self.cancel(timeout)
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
        """Mark the job cancelled (e.g. on Ctrl-C, or after a stop request), at its
        current step."""
        if self.finished:
            return True
        return self._close({"status": "cancelled"}, timeout)

    def _release(self):
        """Stop capturing the console (sending a last partial line) and sampling the
        host (with a last sample)."""
        if self._console:
            console.detach(self)
            self._console = False
        if self._system is not None:
            self._system.stop()
            self._system = None

    def _close(self, status_body, timeout):
        self._release()  # its last lines and sample go out before the status
        if self.reporting:
            status_body["time"] = time.time()
            if self.step is not None:
                status_body["step"] = self.step
            self._post(f"/api/jobs/{self.uid}/status", status_body)
        self.finished = True
        _open_runs.discard(self)
        if self.transport is None:
            return True
        return self.transport.close(timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            self.finish()
        elif isinstance(exc, StopRequested):
            self.cancel()
            return True  # the stop that was asked for: not an error
        elif isinstance(exc, KeyboardInterrupt):
            self.cancel()
        else:
            self.fail(exc)
        return False

    # stop requests ----------------------------------------------------------------

    @property
    def should_stop(self):
        """Whether someone asked this job to stop (seen in a heartbeat answer)."""
        return self._stop.is_set()

    def _status_answer(self, answer):
        """The server's answer to a status post (the transport's sender thread)."""
        if not answer.get("stop_requested") or self._stop.is_set() or self.finished:
            return
        self._stop.set()
        stream = getattr(sys.stderr, "tuneboard_local", sys.stderr)
        with contextlib.suppress(OSError, ValueError):
            print(
                f"tuneboard: a stop was requested for {self.uid}; stopping",
                file=stream,
                flush=True,
            )
        if self.on_stop is not None:
            try:
                self.on_stop(self)
            except Exception as exc:
                self._warn_once(("on_stop", type(exc).__name__), f"on_stop failed: {exc!r}")
        if self.raise_on_stop:
            _raise_in_main_thread(StopRequested)

    # internals --------------------------------------------------------------------

    def _post(self, path, body):
        self.transport.put(("post", path, body))

    def _heartbeat_body(self):
        return {} if self.step is None else {"step": self.step}

    def _warn_once(self, key, message):
        if key not in self._warned:
            self._warned.add(key)
            # Straight to the terminal: the client's own notes are not captured as logs.
            stream = getattr(sys.stderr, "tuneboard_local", sys.stderr)
            print(f"tuneboard: {message} (skipped)", file=stream, flush=True)

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
            if issubclass(exc_type, KeyboardInterrupt | StopRequested):
                run.cancel(timeout=5.0)
            else:
                run.fail(exc, timeout=5.0)
        _previous_excepthook(exc_type, exc, tb)

    sys.excepthook = excepthook


def _raise_in_main_thread(exc_type):
    """Raise `exc_type` in the main thread at its next Python instruction (CPython)."""
    import ctypes  # standard library; only needed by runs that opted in

    main = threading.main_thread()
    if main is threading.current_thread():
        raise exc_type()
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(main.ident), ctypes.py_object(exc_type)
    )


@atexit.register
def _close_open_runs_at_exit():
    """At a normal exit, runs with `finish_at_exit` (those an integration created) are
    completed; the others send their last console line and host sample, and the
    transport's exit flush delivers what is queued. An uncaught exception has already
    failed them through the excepthook. Registered after the transport's exit flush, so
    it runs first (atexit runs in reverse order)."""
    for run in list(_open_runs):
        # Nothing may stop the other runs from being closed.
        with contextlib.suppress(Exception):
            if run.finish_at_exit:
                timeout = run.transport.atexit_timeout if run.transport is not None else 1.0
                run.finish(timeout=timeout)
            else:
                run._release()
