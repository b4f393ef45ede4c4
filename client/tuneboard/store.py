"""Runs kept on disk: what an offline run writes, and what a run could not deliver.

A run's directory (`<runs dir>/<uid>/`, see `tuneboard.config.runs_dir`) holds:

- `run.json`: `{"uid", "server", "mode", "created"}`, and `"synced_at"` once uploaded;
- `events-<time>-<pid>.jsonl`: the run's events in the order they were made, one JSON
  array per line, exactly as the transport queues them (metric points and log lines
  carry their own times, stage moves and status changes a `time` field), so an upload
  later keeps the original times;
- `events-….jsonl.sent`: how many of that file's events the server has accepted.

`sync_run` uploads what is pending through a `Transport` (same batching, retries and
server-side idempotency as a live run) and moves the `.sent` count forward after each
accepted request, so a sync that is interrupted, or run again, never sends an accepted
event twice. Standard library only.
"""

import contextlib
import glob
import json
import os
import threading
import time

__all__ = ["EventWriter", "RunDirectory", "find_runs", "sync_run"]

RUN_FILE = "run.json"
EVENTS_GLOB = "events-*.jsonl"


def _write_json(path, data):
    partial = f"{path}.{os.getpid()}.tmp"
    with open(partial, "w", encoding="utf-8") as file:
        json.dump(data, file, indent=2)
        file.write("\n")
    os.replace(partial, path)


class EventWriter:
    """Appends events to a new events file of a run's directory (made when first used)."""

    def __init__(self, directory, *, uid, server, mode):
        self.directory = directory
        self.uid = uid
        self.server = server
        self.mode = mode
        self.path = None
        self.written = 0
        self._file = None
        self._lock = threading.Lock()

    def write(self, events):
        """Append `events` and push them to the OS (a crash after this keeps them)."""
        if not events:
            return
        with self._lock:
            if self._file is None:
                self._open()
            for event in events:
                self._file.write(json.dumps(event, separators=(",", ":"), default=str))
                self._file.write("\n")
            self._file.flush()
            self.written += len(events)

    def _open(self):
        os.makedirs(self.directory, exist_ok=True)
        info_path = os.path.join(self.directory, RUN_FILE)
        info = _read_json(info_path) or {"uid": self.uid, "created": time.time()}
        info.update({"uid": self.uid, "server": self.server, "mode": self.mode})
        info.pop("synced_at", None)  # new events: not (wholly) synced any more
        _write_json(info_path, info)
        name = f"events-{time.time_ns():020d}-{os.getpid()}.jsonl"
        self.path = os.path.join(self.directory, name)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open)

    def close(self):
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _read_count(path):
    try:
        with open(path, encoding="utf-8") as file:
            return max(0, int(file.read().strip() or 0))
    except (OSError, ValueError):
        return 0


def _read_events(path):
    events = []
    with open(path, encoding="utf-8") as file:
        for line in file:
            line = line.strip()
            if not line:
                continue
            try:
                events.append(json.loads(line))
            except ValueError:
                break  # a line cut by a crash: everything before it is whole
    return events


class RunDirectory:
    """One run's directory: its description and its pending events."""

    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.info = _read_json(os.path.join(self.path, RUN_FILE)) or {}
        self.uid = self.info.get("uid") or os.path.basename(self.path.rstrip(os.sep))

    @staticmethod
    def is_run(path):
        return os.path.isfile(os.path.join(path, RUN_FILE))

    def event_files(self):
        """The events files, oldest first."""
        return sorted(glob.glob(os.path.join(self.path, EVENTS_GLOB)))

    def pending(self):
        """`{"events", "points", "lines", "other"}` not yet accepted by the server."""
        counts = {"events": 0, "points": 0, "lines": 0, "other": 0}
        for path in self.event_files():
            for event in _read_events(path)[_read_count(path + ".sent") :]:
                counts["events"] += 1
                kind = event[0] if event else ""
                if kind == "m":
                    counts["points"] += 1
                elif kind == "l":
                    counts["lines"] += 1
                else:
                    counts["other"] += 1
        return counts

    def mark_synced(self):
        self.info["synced_at"] = time.time()
        _write_json(os.path.join(self.path, RUN_FILE), self.info)


def find_runs(paths):
    """The run directories named by `paths`: each a run's directory, or a directory
    holding runs' directories (such as the runs directory itself)."""
    runs = []
    for path in paths:
        if RunDirectory.is_run(path):
            runs.append(RunDirectory(path))
            continue
        with contextlib.suppress(OSError):
            for name in sorted(os.listdir(path)):
                child = os.path.join(path, name)
                if RunDirectory.is_run(child):
                    runs.append(RunDirectory(child))
    return runs


class SyncFailed(Exception):
    """The upload stopped before everything pending was accepted (kept for next time)."""


def sync_run(run, *, server, token, timeout=30.0, **transport_options):
    """Upload `run`'s pending events; returns the number sent. Raises `SyncFailed` when
    the server stays unreachable for `timeout` seconds (what was accepted is recorded)."""
    from .poster import HttpPoster, RetryLater
    from .transport import Transport

    files = [(path, _read_count(path + ".sent")) for path in run.event_files()]
    todo = [(path, start, _read_events(path)) for path, start in files]
    todo = [(path, start, events) for path, start, events in todo if len(events) > start]
    if not todo:
        return 0
    probe = HttpPoster(server, token, timeout=max(10.0, timeout))
    try:
        status, _, payload = probe.request("GET", "/api/projects")
    except RetryLater as exc:
        raise SyncFailed(f"{server} is unreachable ({exc.reason})") from None
    finally:
        probe.close()
    if status in (401, 403):
        detail = payload.decode("utf-8", "replace")[:200]
        raise SyncFailed(f"{server} refused the token (HTTP {status}: {detail})")

    sent = 0
    cursor = {}

    def delivered(count):
        # Called by the sender after each accepted head: record it at once.
        cursor["done"] += count
        partial = f"{cursor['path']}.sent.tmp"
        with open(partial, "w", encoding="utf-8") as file:
            file.write(str(cursor["done"]))
        os.replace(partial, cursor["path"] + ".sent")

    options = {"flush_interval": 0.05, "heartbeat": None, **transport_options}
    transport = Transport(server, token, job_uid=run.uid, on_delivered=delivered, **options)
    try:
        for path, start, events in todo:
            cursor.update(path=path, done=start)
            transport.put_many(events[start:])
            while transport.queue.pending:
                before = cursor["done"]
                if not transport.flush(timeout) and cursor["done"] == before:
                    raise SyncFailed(
                        f"{server} stopped answering; {len(events) - cursor['done']} events "
                        f"of {os.path.basename(path)} are kept for the next sync"
                    )
            sent += len(events) - start
        # Everything is stored: the job page marks the job as synced after the fact.
        transport.put(("post", f"/api/jobs/{run.uid}/status", {"synced": True}))
        transport.flush(timeout)
    finally:
        transport.abort()
    for path, _, _ in todo:
        for each in (path, path + ".sent"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(each)
    run.mark_synced()
    return sent
