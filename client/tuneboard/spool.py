"""The client's event queue, whose oldest events may wait in spool files on disk.

During a long outage the in-memory queue would grow without bound; `EventQueue.spill`
moves its oldest events, in chunks, to JSON-lines files in a spool directory, and
`peek` reads them back first, so the order of events is kept and memory stays bounded.
Standard library only, like the rest of the client.
"""

import collections
import contextlib
import itertools
import json
import os
import threading

__all__ = ["EventQueue"]


class _Segment:
    """A run of the oldest queued events, moved to a JSON-lines spool file."""

    def __init__(self, path, events):
        self.path = path
        self.count = len(events)
        self.events = events  # kept in memory until written, and again while being read
        self.consumed = 0
        self.written = False
        self.released = False  # fully consumed: the file may go

    def load(self):
        with open(self.path, encoding="utf-8") as spool:
            return [tuple(json.loads(line)) for line in spool]


class EventQueue:
    """An ordered queue whose head may live in spool files: `peek` then `commit`.

    Events are spooled segments (oldest first) followed by the in-memory deque. Only
    one consumer (the sender) calls `peek`/`commit`; `commit(n)` removes the first `n`
    events wherever they now live, so moving events to the spool between a `peek` and its
    `commit` changes nothing for the sender.
    """

    def __init__(self, spool_dir, *, memory_limit, segment_size):
        self._lock = threading.Lock()
        self._memory = collections.deque()
        self._segments = collections.deque()
        self._spool_dir = spool_dir
        self._segment_numbers = itertools.count()
        self.memory_limit = memory_limit
        self.segment_size = segment_size
        self.pending = 0
        self.spooled_total = 0

    # producers --------------------------------------------------------------------

    def append(self, event):
        """Queue one event; returns the number of events waiting in memory."""
        with self._lock:
            self._memory.append(event)
            self.pending += 1
            return len(self._memory)

    def extend(self, events):
        with self._lock:
            self._memory.extend(events)
            self.pending += len(events)
            return len(self._memory)

    # the sender -------------------------------------------------------------------

    def peek(self, limit):
        """Up to `limit` events from the head, in order, without removing them."""
        with self._lock:
            if not self._segments:
                return list(itertools.islice(self._memory, limit))
            segment = self._segments[0]
            if segment.events is not None:
                return segment.events[segment.consumed : segment.consumed + limit]
        events = segment.load()  # file reading outside the lock: producers never wait on it
        with self._lock:
            if segment.events is None:
                segment.events = events
            return segment.events[segment.consumed : segment.consumed + limit]

    def commit(self, count):
        """Remove the first `count` events (delivered or dropped)."""
        finished = []
        while count:
            with self._lock:
                if self._segments:
                    segment = self._segments[0]
                    take = min(count, segment.count - segment.consumed)
                    segment.consumed += take
                    if segment.consumed == segment.count:
                        self._segments.popleft()
                        segment.released = True
                        segment.events = None
                        if segment.written:
                            finished.append(segment)
                else:
                    # Pop in slices so a producer never waits long for the lock.
                    take = min(count, len(self._memory), 2000)
                    for _ in range(take):
                        self._memory.popleft()
                self.pending -= take
                count -= take
            if take == 0:
                break
        for segment in finished:
            _remove(segment.path)

    # the spooler ------------------------------------------------------------------

    def spill_needed(self):
        return len(self._memory) > self.memory_limit

    def spill(self):
        """Move the oldest in-memory events to spool files until memory is under half
        its limit. Returns the number of events spooled."""
        moved = 0
        while len(self._memory) > self.memory_limit // 2:
            with self._lock:
                size = min(self.segment_size, len(self._memory))
                events = [self._memory.popleft() for _ in range(size)]
                path = os.path.join(
                    self._spool_dir, f"segment-{next(self._segment_numbers):08d}.jsonl"
                )
                segment = _Segment(path, events)
                self._segments.append(segment)
            os.makedirs(self._spool_dir, exist_ok=True)
            with open(path, "w", encoding="utf-8") as spool:
                for event in events:
                    spool.write(json.dumps(event, separators=(",", ":")))
                    spool.write("\n")
            with self._lock:
                segment.written = True
                if segment.released:
                    _remove(path)
                elif self._segments[0] is not segment:
                    segment.events = None  # on disk now; read back when it reaches the head
            moved += size
        self.spooled_total += moved
        return moved


def _remove(path):
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
