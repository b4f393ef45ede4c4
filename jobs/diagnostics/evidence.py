"""What the diagnostic rules read about a job, and what they raise.

`Evidence` is a bounded, lazily loaded bundle of one job's facts — its error, its recent
warning/error log lines, windows of its metric series and its recent resource samples.
`Finding` is what a rule returns. The helpers read the job's config the way the rules'
suggested fixes need.
"""

import math
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from jobs.core.values import isoformat
from jobs.models import LogEntry, MetricPoint

SERIES_WINDOW = 2000
LOG_WINDOW = 400


@dataclass
class Finding:
    """One diagnosis: its kind (`code`), what it means and what to change.

    `doc` links the documentation page that explains the fixes; `evidence` carries the
    failure point (stage, step, the log line that shows it) and, for a failure recognised
    from its message, the catalogue signature and where that message comes from.
    """

    code: str
    severity: str  # "critical" | "warning"
    title: str
    summary: str
    evidence: dict = field(default_factory=dict)
    suggested_fixes: list = field(default_factory=list)
    doc: str = ""

    @property
    def kind(self):
        return self.code

    def as_dict(self):
        """The finding as stored with alerts, sent to the webhook, shown on the pages and in
        `GET /api/jobs/{uid}`: the API contract's `kind`/`stage`/`step`/`fixes`, and the
        older `code`/`suggested_fixes` names the live alerts panel reads."""
        return {
            "kind": self.code,
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "summary": self.summary,
            "stage": self.evidence.get("stage"),
            "step": self.evidence.get("step"),
            "evidence": self.evidence,
            "fixes": list(self.suggested_fixes),
            "suggested_fixes": list(self.suggested_fixes),
            "doc": self.doc,
        }


class Evidence:
    """Bounded, lazily loaded facts about one job that the rules read."""

    def __init__(self, job, now=None):
        self.job = job
        self.now = now or timezone.now()
        self.config = job.config or {}
        # "type: message" first, as Python prints it, so a rule can anchor on both.
        head = ": ".join(part for part in (job.error_type, job.error_message) if part)
        self.error_text = "\n".join(part for part in (head, job.error_traceback) if part)
        self._series = {}
        self._logs = None
        self._samples = None

    def series(self, key):
        """The last SERIES_WINDOW points of `key`, ascending: [(step, value)]."""
        if key not in self._series:
            rows = list(
                MetricPoint.objects.filter(job=self.job, key=key)
                .order_by("-step")
                .values_list("step", "value")[:SERIES_WINDOW]
            )
            rows.reverse()
            self._series[key] = [(s, math.nan if v is None else v) for s, v in rows]
        return self._series[key]

    def first_non_finite(self, key):
        """The first point of `key` that is NaN or ±inf, or None (one indexed query)."""
        from django.db.models import Q

        return (
            MetricPoint.objects.filter(job=self.job, key=key)
            .filter(Q(value__isnull=True) | Q(value=math.inf) | Q(value=-math.inf))
            .order_by("step")
            .values_list("step", "value")
            .first()
        )

    def logs(self):
        """Recent WARNING+ log lines, oldest first."""
        if self._logs is None:
            rows = list(
                LogEntry.objects.filter(
                    job=self.job, level__in=["WARNING", "ERROR", "CRITICAL"]
                ).order_by("-seq")[:LOG_WINDOW]
            )
            rows.reverse()
            self._logs = rows
        return self._logs

    def error_logs(self):
        """Recent ERROR/CRITICAL log lines, oldest first (a subset of `logs()`)."""
        return [entry for entry in self.logs() if entry.level in ("ERROR", "CRITICAL")]

    def samples(self, minutes=None):
        if self._samples is None:
            from monitoring.models import ResourceSample

            rows = list(ResourceSample.objects.filter(job=self.job).order_by("-time")[:240])
            rows.reverse()
            self._samples = rows
        if minutes is None:
            return self._samples
        newest = self._samples[-1].time if self._samples else self.now
        return [s for s in self._samples if s.time >= newest - timedelta(minutes=minutes)]

    def search(self, pattern):
        """First match of `pattern` in the error, else in WARNING+ logs: (text, log)."""
        regex = re.compile(pattern, re.IGNORECASE)
        match = regex.search(self.error_text)
        if match:
            return match, None
        for entry in self.logs():
            match = regex.search(entry.message)
            if match:
                return match, entry
        return None, None

    def failure_point(self):
        job = self.job
        return {
            "stage": job.error_stage or None,
            "step": job.error_step,
            "time": isoformat(job.finished_at),
        }


def log_evidence(entry):
    """A log line as finding evidence (message cut to 500 characters), or None."""
    if entry is None:
        return None
    return {
        "seq": entry.seq,
        "level": entry.level,
        "message": entry.message[:500],
        "time": isoformat(entry.time),
    }


def config_value(config, *names, default=None):
    """The first of `names` set (not None) in `config`, else `default`."""
    for name in names:
        if name in config and config[name] is not None:
            return config[name]
    return default


def is_lora(config):
    """Whether the config trains LoRA adapters rather than all weights."""
    return any(k in config for k in ("lora_r", "lora_alpha", "peft", "lora")) or bool(
        config.get("use_peft")
    )
