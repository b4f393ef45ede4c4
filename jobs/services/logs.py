"""Log lines: stored once per sequence number, so a reporter's retries never repeat."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs import events
from jobs.core.push import broadcast_after_commit
from jobs.core.validation import InvalidInput, clean_text, parse_field, parse_int, parse_time
from jobs.models import Job, LogEntry, LogLevel

MAX_LOG_MESSAGE = 65_536


_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL", "ERR": "ERROR", "TRACE": "DEBUG"}


def _clean_lines(lines):
    if not isinstance(lines, list):
        raise InvalidInput({"lines": ["Expected a list of log lines."]})
    limit = settings.TUNEBOARD_MAX_LOG_LINES_PER_BATCH
    if len(lines) > limit:
        raise InvalidInput({"lines": [f"At most {limit} lines per batch, got {len(lines)}."]})
    now = timezone.now()
    errors = {}
    cleaned = {}
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            errors[str(index)] = {"non_field_errors": ["Expected an object."]}
            continue
        err = {}
        if "seq" not in line:
            err["seq"] = ["This field is required."]
            seq = None
        else:
            seq = parse_field(err, "seq", parse_int, line["seq"], minimum=0)
        message = parse_field(
            err,
            "message",
            clean_text,
            line.get("message"),
            max_length=MAX_LOG_MESSAGE,
            required=False,
        )
        if line.get("message") is None:
            err["message"] = ["This field is required."]
        level = line.get("level") or "INFO"
        if not isinstance(level, str):
            err["level"] = ["A string is required."]
        else:
            level = _LEVEL_ALIASES.get(level.upper(), level.upper())
            if level not in LogLevel.values:
                err["level"] = [
                    f'"{line["level"]}" is not a valid level; one of {", ".join(LogLevel.values)}.'
                ]
        time = parse_field(err, "time", parse_time, line.get("time"), default=now)
        if err:
            errors[str(index)] = err
            continue
        cleaned.setdefault(seq, (time, level, message))
    if errors:
        raise InvalidInput({"lines": errors})
    return cleaned


def logs_ingest(*, job, lines):
    """Store log lines whose `seq` is new for the job; known seqs are ignored (retries).

    Returns the number of lines stored.
    """
    cleaned = _clean_lines(lines)
    if not cleaned:
        return 0
    with transaction.atomic():
        # The job row first (docs/concurrency.md): the known seqs are read and only the
        # new lines stored, counted and pushed, so batches of one job take turns; else
        # two writers sending the same seqs would both report and push them.
        Job.objects.select_for_update(no_key=True).values_list("pk").get(pk=job.pk)
        known = set(
            LogEntry.objects.filter(job_id=job.pk, seq__in=list(cleaned)).values_list(
                "seq", flat=True
            )
        )
        rows = [
            LogEntry(job_id=job.pk, seq=seq, time=time, level=level, message=message)
            for seq, (time, level, message) in sorted(cleaned.items())
            if seq not in known
        ]
        LogEntry.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        Job.objects.filter(pk=job.pk).update(last_heartbeat=timezone.now())
        if rows:
            broadcast_after_commit([events.job_group(job.uid)], events.logs_message(job.uid, rows))
    return len(rows)


# --- job metadata ------------------------------------------------------------------
