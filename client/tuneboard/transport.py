"""Background delivery of events to a Tuneboard server, built so training never waits.

Producers (`Run.log`, `Run.log_text`, the agent) only append a tuple to an in-memory
queue under a lock held for microseconds. A sender thread takes events from the head of
the queue in order, batches consecutive data events (metric points, log lines, progress
heartbeats, resource samples) into as few requests as the server's limits allow, and sends
control events (job creation, stage moves, status changes) one by one, in the order they
were made. It sends at least every `flush_interval` seconds, and at once when a full batch
is waiting.

Delivery is at-least-once: a batch is removed from the queue only after the server
accepted it. Connection errors, timeouts, 5xx and 429 answers are retried with exponential
backoff and jitter (a `Retry-After` header is honoured), for as long as it takes; the
server upserts metric points by (key, step) and ignores known log seqs, so a retried batch
never duplicates. Any other 4xx answer would fail forever: it is reported once per
endpoint and status on stderr and the batch is dropped.

When the in-memory queue passes `memory_limit` events (a long outage), a spooler thread
moves its oldest events, in chunks, to JSON-lines files in a spool directory; the sender
replays those files first, so the order of events is kept and memory stays bounded (the
queue and its spool files are in `spool.py`).

Nothing is lost when the server is away at the end: with a `run_dir`, the events still
undelivered when `close` gives up are written there (`tuneboard.store`), and `python -m
tuneboard sync` uploads them later. An `offline` transport sends nothing: its sender
writes every event there instead. The answers to status posts (heartbeats included) go
to `on_status`, which is how a run learns that someone asked it to stop.
"""

import atexit
import collections
import contextlib
import json
import math
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time
import weakref

from .poster import HttpPoster, Rejected, RetryLater
from .spool import EventQueue
from .store import EventWriter

__all__ = ["Transport"]


# Server limits (SPEC: at most 10 000 points per metrics request; the server's settings:
# 5 000 log lines per request, 1 000 resource samples, 4 MB bodies).
MAX_POINTS = 10_000
MAX_LINES = 5_000
MAX_SAMPLES = 1_000
MAX_BODY_CHARS = 2_000_000
# Events looked at per sending round; more than one full metrics batch.
WINDOW = 12_000
# json.dumps holds the GIL for a whole call: encoding a big batch in slices lets the
# training thread run between slices, so `log` never waits behind the encoder.
ENCODE_SLICE = 256
# The sender and spooler threads run Python code (batching, spooling). With CPython's
# default 5 ms switch interval, a training thread calling `log` while they hold the GIL
# could wait up to 5 ms; 1 ms keeps that wait well inside `log`'s budget at no
# measurable cost. It is only ever lowered, never raised.
GIL_SWITCH_INTERVAL = 0.001
# The request each kind of data event is sent in (see `Transport._deliver`).
REQUEST_OF_KIND = {"m": "metrics", "l": "logs", "r": "resources", "p": "status"}


def _json_number(value):
    """NaN and ±inf as the strings the server accepts (JSON itself has no such numbers)."""
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _encode_list(items, make):
    """`[make(item), …]` as JSON text, encoded slice by slice (see ENCODE_SLICE)."""
    parts = []
    for start in range(0, len(items), ENCODE_SLICE):
        chunk = [make(item) for item in items[start : start + ENCODE_SLICE]]
        text = json.dumps(chunk, separators=(",", ":"), allow_nan=False)
        if len(text) > 2:
            parts.append(text[1:-1])
    return "[" + ",".join(parts) + "]"


_live_transports = weakref.WeakSet()


@atexit.register
def _flush_all_at_exit():
    for transport in list(_live_transports):
        transport.close(timeout=transport.atexit_timeout)


class Transport:
    """Queues events for one server and delivers them from background threads.

    `job_uid` is the job whose endpoints metric, log and progress events go to; the
    host agent, which only sends resource samples, has none. `heartbeat` is an optional
    callable returning a status body, sent when nothing else has been sent for
    `heartbeat_interval` seconds, so a quiet job still looks alive.
    """

    def __init__(
        self,
        server,
        token,
        *,
        job_uid=None,
        flush_interval=1.0,
        memory_limit=100_000,
        segment_size=10_000,
        spool_dir=None,
        request_timeout=10.0,
        backoff_base=0.1,
        backoff_max=5.0,
        heartbeat=None,
        heartbeat_interval=30.0,
        atexit_timeout=10.0,
        stderr=None,
        run_dir=None,
        offline=False,
        on_status=None,
        on_delivered=None,
    ):
        """`run_dir`: where undelivered events are kept at `close` (and where an
        `offline` transport writes everything); `on_status(answer)`: called with the
        server's answer to every status post; `on_delivered(n)`: called after the first
        `n` queued events were accepted (or dropped for good)."""
        if sys.getswitchinterval() > GIL_SWITCH_INTERVAL:
            sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        self.server = server.rstrip("/")
        self.job_uid = job_uid
        self.flush_interval = flush_interval
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.heartbeat = heartbeat
        self.heartbeat_interval = heartbeat_interval
        # (events, requests accepted) of a head the server went away in the middle of.
        self._partial = None
        self.atexit_timeout = atexit_timeout
        self._stderr = stderr
        self._http = HttpPoster(self.server, token, timeout=request_timeout)
        root = (
            spool_dir
            or os.environ.get("TUNEBOARD_SPOOL_DIR")
            or os.path.join(tempfile.gettempdir(), "tuneboard-spool")
        )
        name = f"{job_uid or 'agent'}-{os.getpid()}-{random.getrandbits(32):08x}"
        self.spool_dir = os.path.join(root, name)
        self.queue = EventQueue(
            self.spool_dir, memory_limit=memory_limit, segment_size=segment_size
        )
        self.batch_trigger = MAX_POINTS
        self._wake = threading.Event()
        self._spill_wake = threading.Event()
        self._stopping = threading.Event()
        self._idle = threading.Condition()
        self._deadline = None
        self._reported = set()
        self.stats = collections.Counter()
        self._closed = False
        self.offline = offline
        self.on_status = on_status
        self.on_delivered = on_delivered
        self._writer = None
        if run_dir is not None:
            mode = "offline" if offline else "online"
            self._writer = EventWriter(run_dir, uid=job_uid, server=self.server, mode=mode)
        elif offline:
            raise ValueError("run_dir: an offline transport needs a directory to write to")
        self._sender = threading.Thread(target=self._send_loop, name="tuneboard-sender")
        self._sender.daemon = True
        self._spooler = threading.Thread(target=self._spool_loop, name="tuneboard-spooler")
        self._spooler.daemon = True
        self._sender.start()
        self._spooler.start()
        _live_transports.add(self)

    # producers --------------------------------------------------------------------

    def put(self, event):
        """Queue one event: never blocks on the network or the disk."""
        waiting = self.queue.append(event)
        self._after_put(waiting)

    def put_many(self, events):
        waiting = self.queue.extend(events)
        self._after_put(waiting)

    def _after_put(self, waiting):
        if waiting >= self.batch_trigger and not self._wake.is_set():
            self._wake.set()
        if waiting > self.queue.memory_limit and not self._spill_wake.is_set():
            self._spill_wake.set()

    # flushing and closing -----------------------------------------------------------

    def flush(self, timeout=None):
        """Wait until every queued event is delivered (or dropped); True if it was."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._wake.set()
        with self._idle:
            while self.queue.pending and self._sender.is_alive():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    break
                self._idle.wait(remaining if remaining is not None else 0.5)
                self._wake.set()
        return self.queue.pending == 0

    def close(self, timeout=30.0):
        """Flush for at most `timeout` seconds, then stop the threads. Events still
        undelivered then are reported on stderr, with where they were spooled."""
        if self._closed:
            return self.queue.pending == 0
        self._closed = True
        self._deadline = time.monotonic() + timeout
        delivered = self.flush(timeout)
        self._stopping.set()
        self._wake.set()
        self._spill_wake.set()
        self._sender.join(timeout=max(0.1, self._http.timeout + 1))
        self._spooler.join(timeout=5)
        self._http.close()
        _live_transports.discard(self)
        if not delivered:
            self._keep_undelivered(timeout)
        if self._writer is not None:
            self._writer.close()
        shutil.rmtree(self.spool_dir, ignore_errors=True)
        return delivered

    def abort(self):
        """Stop the threads now, without delivering or keeping what is queued (a sync
        that gave up: its events are still in their files)."""
        if self._closed:
            return
        self._closed = True
        self._deadline = time.monotonic()
        self._stopping.set()
        self._wake.set()
        self._spill_wake.set()
        self._sender.join(timeout=max(0.1, self._http.timeout + 1))
        self._spooler.join(timeout=5)
        self._http.close()
        _live_transports.discard(self)
        shutil.rmtree(self.spool_dir, ignore_errors=True)

    def _keep_undelivered(self, timeout):
        """Write what is still queued to the run's directory, or say it is lost."""
        pending = self.queue.pending
        if self._writer is None or self.offline:
            self._warn(
                f"{pending} events could not be delivered to {self.server} "
                f"within {timeout:g}s and are lost"
            )
            return
        kept = 0
        try:
            first = True
            while self.queue.pending:
                events = self.queue.peek(WINDOW)
                if not events:
                    break
                keep = events
                if first and self._partial is not None:
                    # The requests of a half-accepted head that the server took stay out.
                    limit, done = self._partial
                    head = [e for e in events[:limit] if REQUEST_OF_KIND.get(e[0]) not in done]
                    keep = head + events[limit:]
                first = False
                self._writer.write(keep)
                kept += len(keep)
                self.queue.commit(len(events))
        except OSError as exc:
            self._warn(f"{self.queue.pending} events could not be kept on disk ({exc}): lost")
            return
        directory = self._writer.directory
        self._warn(
            f"{pending} events could not be delivered to {self.server} within {timeout:g}s; "
            f"they are kept in {directory} — `python -m tuneboard sync {directory}` "
            "uploads them"
        )

    # background threads ----------------------------------------------------------

    def _spool_loop(self):
        while not self._stopping.is_set():
            self._spill_wake.wait(timeout=1.0)
            self._spill_wake.clear()
            if self.queue.spill_needed():
                try:
                    self.stats["spooled"] += self.queue.spill()
                except OSError as exc:
                    self._report_once(("spool", type(exc).__name__), f"cannot spool: {exc}")

    def _send_loop(self):
        last_sent = time.monotonic()
        while True:
            self._wake.wait(timeout=self.flush_interval)
            self._wake.clear()
            if self.queue.pending:
                if not self._drain():
                    return  # stopping with a deadline that passed
                last_sent = time.monotonic()
            elif self._stopping.is_set():
                return
            elif self.heartbeat and time.monotonic() - last_sent >= self.heartbeat_interval:
                body = self.heartbeat()
                if body is not None and self.job_uid:
                    self.put(("post", f"/api/jobs/{self.job_uid}/status", body))
                last_sent = time.monotonic()
            with self._idle:
                self._idle.notify_all()

    def _drain(self):
        """Send until the queue is empty; False if the close deadline passed first."""
        attempt = 0
        while self.queue.pending:
            events = self.queue.peek(WINDOW)
            if not events:
                return True
            try:
                used = self._write_offline(events) if self.offline else self._deliver(events)
            except RetryLater as exc:
                if not self._backoff(exc, attempt):
                    return False
                attempt += 1
                continue
            except Exception as exc:
                # A bug or an unsendable event must not kill the sender (everything queued
                # after it would be lost): drop the head event, say so once, go on.
                self._report_once(
                    ("unsendable", type(exc).__name__),
                    f"cannot send an event ({type(exc).__name__}: {exc}); it is dropped",
                )
                self._partial = None
                used = 1
            attempt = 0
            self.queue.commit(used)
            if self.on_delivered is not None:
                self.on_delivered(used)
            with self._idle:
                self._idle.notify_all()
        return True

    def _backoff(self, exc, attempt):
        """Sleep before retry number `attempt + 1`; False if the close deadline passed."""
        self.stats["retries"] += 1
        delay = min(self.backoff_max, self.backoff_base * 2**attempt)
        delay *= random.uniform(0.5, 1.0)
        if exc.retry_after is not None:
            delay = max(delay, min(exc.retry_after, 60.0))
        if self._deadline is not None:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                return False
            delay = min(delay, remaining)
        self._stopping.wait(delay)
        return not (
            self._stopping.is_set()
            and (self._deadline is None or time.monotonic() >= self._deadline)
        )

    def _write_offline(self, events):
        """Offline: the head goes to the run's events file instead of the server."""
        try:
            self._writer.write(events)
        except OSError as exc:
            self._report_once(("offline", type(exc).__name__), f"cannot write events: {exc}")
            raise RetryLater(str(exc)) from None
        return len(events)

    def _deliver(self, events):
        """Send the head of the queue; returns how many events it used up.

        The head's requests (points, lines, samples, progress) go one after the other; if
        the server goes away between two, the retry rebuilds the same head (no more
        events than it had) and skips the requests already accepted, so an accepted
        batch is never sent twice."""
        done = set()
        if self._partial is not None:
            limit, done = self._partial
            events = events[:limit]
        first = events[0]
        if first[0] == "post":
            _, path, body = first[:3]
            body = json.dumps(body, separators=(",", ":"), default=str)
            self._post(path, body, kind=path)
            return 1
        points, lines, samples, progress = [], [], [], {}
        sample_target = None
        line_chars = 0
        used = 0
        for event in events:
            kind = event[0]
            if kind == "post":
                break
            if kind == "m":
                if len(points) == MAX_POINTS:
                    break
                points.append(event)
            elif kind == "l":
                size = len(event[2]) + 80
                if len(lines) == MAX_LINES or (lines and line_chars + size > MAX_BODY_CHARS):
                    break
                lines.append(event)
                line_chars += size
            elif kind == "p":
                progress.update(event[1])
            elif kind == "r":
                target = (event[1], event[2])
                if samples and (target != sample_target or len(samples) == MAX_SAMPLES):
                    break
                sample_target = target
                samples.append(event[3])
            used += 1
        job = f"/api/jobs/{self.job_uid}"

        def send(kind, path, body, stat=None, count=0):
            if kind in done:
                return  # accepted before the server went away: not again
            try:
                self._post(path, body, kind=kind)
            except RetryLater:
                self._partial = (used, done)
                raise
            done.add(kind)
            if stat:
                self.stats[stat] += count

        if points:
            body = '{"points":' + _encode_list(points, _point_json) + "}"
            send("metrics", f"{job}/metrics", body, "points", len(points))
        if lines:
            body = '{"lines":' + _encode_list(lines, _line_json) + "}"
            send("logs", f"{job}/logs", body, "lines", len(lines))
        if samples:
            host, job_uid = sample_target
            head = {"host": host}
            if job_uid:
                head["job"] = job_uid
            body = json.dumps(head)[:-1] + ',"samples":' + _encode_list(samples, dict) + "}"
            send("resources", "/api/resources", body, "samples", len(samples))
        if progress:
            send("status", f"{job}/status", json.dumps(progress))
        self._partial = None
        return used

    def _post(self, path, body, *, kind):
        try:
            answer = self._http.post_json(path, body)
            self.stats["requests"] += 1
            if self.on_status is not None and path.endswith("/status") and isinstance(answer, dict):
                try:
                    self.on_status(answer)
                except Exception as exc:  # the run's handler must not stop delivery
                    self._report_once(("on_status", type(exc).__name__), repr(exc))
        except Rejected as exc:
            self.stats["rejected"] += 1
            detail = exc.body.strip().replace("\n", " ")
            if len(detail) > 500:
                detail = detail[:500] + "…"
            self._report_once(
                (kind, exc.status),
                f"POST {path} answered {exc.status}: {detail} — these events are dropped "
                f"(further {exc.status} answers here are not reported)",
            )

    def _report_once(self, key, message):
        if key in self._reported:
            return
        self._reported.add(key)
        self._warn(message)

    def _warn(self, message):
        stream = self._stderr or sys.stderr
        # Console capture's stand-in for stderr: the client's own notes skip the capture.
        stream = getattr(stream, "tuneboard_local", stream)
        # stderr may be closed at interpreter exit: then there is nobody left to tell.
        with contextlib.suppress(OSError, ValueError):
            print(f"tuneboard: {message}", file=stream, flush=True)


def _point_json(event):
    _, key, step, value, epoch, at = event
    point = {"key": key, "step": step, "value": _json_number(value), "time": round(at, 6)}
    if epoch is not None:
        point["epoch"] = epoch
    return point


def _line_json(event):
    _, seq, message, level, at = event
    return {"seq": seq, "message": message, "level": level, "time": round(at, 6)}


def hostname():
    return os.environ.get("TUNEBOARD_HOST") or socket.gethostname()
