"""Reads of log lines: pages by sequence number, level and text filters."""

from jobs.events import log_payload
from jobs.models import (
    LogEntry,
    LogLevel,
)

LOG_LEVELS = list(LogLevel.values)  # DEBUG < INFO < WARNING < ERROR < CRITICAL
LOG_PAGE_DEFAULT = 500
LOG_PAGE_MAX = 5000


def log_levels_at_least(level):
    """The levels at `level` or above (WARN, FATAL accepted as WARNING, CRITICAL)."""
    aliases = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR", "TRACE": "DEBUG"}
    level = aliases.get(level.upper(), level.upper())
    if level not in LOG_LEVELS:
        raise ValueError(f'"{level}" is not a valid level; one of {", ".join(LOG_LEVELS)}.')
    return LOG_LEVELS[LOG_LEVELS.index(level) :]


def log_page(*, job, after_seq=None, level=None, q=None, limit=LOG_PAGE_DEFAULT, tail=False):
    """One page of a job's log lines in sequence order.

    `after_seq` keeps lines with a greater seq; `level` keeps lines at that level or
    above; `q` keeps lines whose message contains it (case-insensitive); `tail` returns
    the newest `limit` matching lines instead of the oldest. Returns
    `{"lines": [...], "next_after_seq": seq | None, "last_seq": seq | None}`:
    `next_after_seq` is set when more lines may follow (a full page), `last_seq` is the
    seq to poll after for new lines.
    """
    lines = LogEntry.objects.filter(job_id=job.pk)
    if after_seq is not None:
        lines = lines.filter(seq__gt=after_seq)
    if level:
        lines = lines.filter(level__in=log_levels_at_least(level))
    if q:
        lines = lines.filter(message__icontains=q)
    if tail:
        page = list(lines.order_by("-seq")[:limit])[::-1]
        more = False
    else:
        page = list(lines.order_by("seq")[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
    last_seq = page[-1].seq if page else after_seq
    return {
        "lines": [log_payload(entry) for entry in page],
        "next_after_seq": last_seq if more else None,
        "last_seq": last_seq,
    }
