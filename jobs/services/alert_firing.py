"""Firing alert rules where the data arrives, and the rule set each process keeps.

Metric and event conditions are checked on the ingest path, after the batch committed
(`alert_rules_on_metrics`, `alert_rules_on_status`, `alert_rules_on_findings`): each
process keeps the active rules in memory, indexed by metric key and event, and reads them
again only when the rules' version number moved (`alert_rules_changed`), so a batch no
rule watches costs one primary-key read. The alert watcher checks the time conditions
(`jobs.diagnostics.alerts`) and calls `alert_fire` / `alert_resolve` too.

`alert_fire` holds the job's row while it decides (docs/concurrency.md: job row first),
so two evaluators of one job take turns; the episode key, derived from the data, is
unique per rule and job, so the same data never fires twice, whoever evaluates it.
"""

import logging
import math
import secrets
import threading
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from jobs import events
from jobs.accounts.permissions import readable_project_ids
from jobs.core.push import broadcast_after_commit
from jobs.models import (
    AlertDelivery,
    AlertRule,
    AlertRulesVersion,
    ConditionType,
    DeliveryEvent,
    FiredAlert,
    Job,
    JobStatus,
    MetricPoint,
    RuleAction,
    condition_words,
)
from jobs.models.rules import METRIC_CONDITIONS

from .audit import JOB_STOP, audit_record
from .broadcast import job_broadcast

logger = logging.getLogger("jobs.alerts")

OPERATORS = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
EVENTS = {"started": JobStatus.RUNNING, "completed": JobStatus.COMPLETED}
EVENTS.update(failed=JobStatus.FAILED, cancelled=JobStatus.CANCELLED)
STATUS_EVENT = {status: event for event, status in EVENTS.items()}
MAX_KEY_LENGTH = 128
# Conditions that hold for a while and clear: one open episode at a time, a "resolved"
# message when it clears, and the cooldown between episodes.
EPISODIC = (*METRIC_CONDITIONS, ConditionType.STALL, ConditionType.THROUGHPUT)


def alert_rules_changed():
    """Tell every process to read the active rules again (before its next batch).

    Called inside the transaction that changed a rule, so whoever reads the new number
    also sees the new rules. The number is random, not a counter: a counter rolled back
    (a failed transaction, a test) could come round to a value a process still holds.
    """
    number = secrets.randbits(62)
    if not AlertRulesVersion.objects.filter(pk=1).update(number=number):
        AlertRulesVersion.objects.update_or_create(pk=1, defaults={"number": number})
    _cache.forget()


# --- the rule set each process keeps -------------------------------------------------------


class RuleIndex:
    """The active rules, by what they watch."""

    def __init__(self, rules):
        self.by_key = {}
        self.by_event = {}
        self.findings = []
        for rule in rules:
            kind = rule.condition_type
            if kind in METRIC_CONDITIONS:
                self.by_key.setdefault(rule.condition["key"], []).append(rule)
            elif kind == ConditionType.EVENT:
                for event in rule.condition["events"]:
                    self.by_event.setdefault(event, []).append(rule)
            elif kind == ConditionType.FINDING:
                self.findings.append(rule)


class _RuleCache:
    def __init__(self):
        self.lock = threading.Lock()
        self.version = None
        self.index = RuleIndex([])

    def forget(self):
        self.version = None

    def get(self):
        number = AlertRulesVersion.objects.filter(pk=1).values_list("number", flat=True).first()
        number = number or 0
        with self.lock:
            if number == self.version:
                return self.index
        rules = AlertRule.objects.filter(active=True).select_related("scope_job")
        index = RuleIndex(list(rules))
        with self.lock:
            self.version, self.index = number, index
        return index


_cache = _RuleCache()


def alert_rules_active():
    """The active rules, indexed by metric key and event (kept per process)."""
    return _cache.get()


def rule_in_scope(rule, job):
    """Whether `job` is in the rule's scope (the owner's access is checked on firing)."""
    if rule.scope_job_id is not None and rule.scope_job_id != job.pk:
        return False
    if rule.project_id is not None and rule.project_id != job.project_id:
        return False
    if rule.scope_tag and rule.scope_tag not in (job.tags or []):
        return False
    return not (rule.scope_model and rule.scope_model != job.base_model)


# --- firing --------------------------------------------------------------------------------


def _may_read_project(user_id, project_id):
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    readable = readable_project_ids(user)
    return readable is None or project_id in readable


def _owner_may_see(rule, job):
    """A project rule fires on its project's jobs only; a personal rule on the jobs its
    owner may still see."""
    if rule.project_id is not None:
        return rule.project_id == job.project_id
    return _may_read_project(rule.owner_id, job.project_id)


def _channels_for(rule, job):
    """The rule's channels whose owners may see `job`: a member who left the project
    (or a deactivated user) hears nothing more of its jobs."""
    channels = list(rule.channels.all())
    allowed = {
        owner: _may_read_project(owner, job.project_id) for owner in {c.owner_id for c in channels}
    }
    return [c for c in channels if allowed[c.owner_id]]


def _format(value):
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


def alert_message(rule, job, *, value=None, step=None, detail=""):
    """What a firing says: the condition, the value and where, the job."""
    text = condition_words(rule.condition)
    if value is not None:
        text += f": {_format(value)}"
    if step is not None:
        text += f" at step {step}"
    text += f" on {job.name}"
    if detail:
        text += f" — {detail}"
    return text[:1000]


def alert_fire(*, rule, job, episode, message, value=None, now=None):
    """Record that `rule` fired on `job` in `episode`, queue a delivery per channel,
    apply the rule's action and push it; returns the `FiredAlert`, or None when this
    episode was already recorded, another is still open, or the cooldown holds."""
    now = now or timezone.now()
    episodic = rule.condition_type in EPISODIC
    if not _owner_may_see(rule, job):
        return None
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        previous = FiredAlert.objects.filter(rule=rule, job=job).order_by("-fired_at").first()
        if episodic and previous is not None:
            if previous.resolved_at is None:
                return None
            cooldown = rule.cooldown_minutes * 60
            if (now - previous.fired_at).total_seconds() < cooldown:
                return None
        if FiredAlert.objects.filter(rule=rule, job=job, episode=episode[:100]).exists():
            return None
        try:
            with transaction.atomic():
                fired = FiredAlert.objects.create(
                    rule=rule,
                    job=job,
                    episode=episode[:100],
                    # NaN is stored as NULL, as metric points store it.
                    value=None if value is None or math.isnan(value) else value,
                    message=message[:1000],
                    fired_at=now,
                )
        except IntegrityError:
            # The job's row lock makes evaluators take turns; the unique episode is the
            # last word should one ever get past it.
            return None
        AlertDelivery.objects.bulk_create(
            [
                AlertDelivery(alert=fired, channel=channel, next_attempt_at=now, created_at=now)
                for channel in _channels_for(rule, job)
            ]
        )
        if rule.action == RuleAction.STOP and not job.is_finished and not job.stop_requested_at:
            job.stop_requested_at = now
            job.save(update_fields=["stop_requested_at"])
            detail = {"status": job.status, "step": job.current_step, "rule": rule.name}
            audit_record(action=JOB_STOP, job=job, detail=detail)
            job_broadcast(job)
        fired.rule, fired.job = rule, job
        _push(fired)
    return fired


def alert_resolve(*, rule, job, message="", now=None):
    """Close the open episode of `rule` on `job`, if any, and queue a "resolved" message
    to each channel; returns the `FiredAlert` resolved, or None."""
    now = now or timezone.now()
    if not FiredAlert.objects.filter(rule=rule, job=job, resolved_at=None).exists():
        return None
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        fired = (
            FiredAlert.objects.select_for_update()
            .filter(rule=rule, job=job, resolved_at=None)
            .first()
        )
        if fired is None:
            return None
        fired.resolved_at = now
        if message:
            fired.message = f"{fired.message} · resolved: {message}"[:1000]
        fired.save(update_fields=["resolved_at", "message"])
        AlertDelivery.objects.bulk_create(
            [
                AlertDelivery(
                    alert=fired,
                    channel=channel,
                    event=DeliveryEvent.RESOLVED,
                    next_attempt_at=now,
                    created_at=now,
                )
                for channel in _channels_for(rule, job)
            ],
            ignore_conflicts=True,
        )
        fired.rule, fired.job = rule, job
        _push(fired)
    return fired


def _push(fired):
    message = events.alert_fired_message(fired)
    broadcast_after_commit([events.job_group(fired.job.uid)], message)
    broadcast_after_commit([events.dashboard_group(fired.job.project_id)], message)


def alert_delivery_claim(*, delivery_id, now, lease_seconds=120):
    """Take `delivery_id` for sending: True for the one deliverer whose conditional
    UPDATE matched (not delivered, not claimed by a live lease), False for any other."""
    taken = (
        AlertDelivery.objects.filter(pk=delivery_id, delivered_at=None)
        .filter(Q(claimed_until=None) | Q(claimed_until__lt=now))
        .update(
            claimed_until=now + timedelta(seconds=lease_seconds),
            attempts=F("attempts") + 1,
        )
    )
    return taken == 1


def alert_delivery_result(*, delivery_id, ok, error="", now):
    """Record the outcome of a claimed send: delivered, or retried with backoff."""
    if ok:
        AlertDelivery.objects.filter(pk=delivery_id).update(
            delivered_at=now, last_error="", claimed_until=None
        )
        return
    attempts = AlertDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True)
    count = attempts.first() or 1
    AlertDelivery.objects.filter(pk=delivery_id).update(
        last_error=error[:500],
        claimed_until=None,
        next_attempt_at=now + timedelta(seconds=min(3600, 30 * 2 ** (count - 1))),
    )


# --- evaluation where the data arrives -----------------------------------------------------


def _safe(function):
    """Evaluation runs after the data committed: a failure is logged, never raised into
    the write that triggered it."""

    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception:
            logger.exception("Evaluating alert rules failed")
            return []

    wrapper.__doc__, wrapper.__name__ = function.__doc__, function.__name__
    return wrapper


def _threshold_holds(condition):
    op, limit = OPERATORS[condition["op"]], condition["value"]

    def holds(value):
        return value is not None and not math.isnan(value) and op(value, limit)

    return holds


def _nan_holds(value):
    return value is None or not math.isfinite(value)


def _stored_before(job, key, step, count, condition):
    """The `count` points of `key` just before `step`, oldest first (NaN read as None)."""
    points = MetricPoint.objects.filter(job=job, key=key, step__lt=step)
    if condition.get("min_step") is not None:
        points = points.filter(step__gte=condition["min_step"])
    rows = list(points.order_by("-step").values_list("step", "value")[:count])
    return [(s, math.nan if v is None else v) for s, v in reversed(rows)]


def _in_window(condition, step):
    low, high = condition.get("min_step"), condition.get("max_step")
    return (low is None or step >= low) and (high is None or step <= high)


def _evaluate_run(rule, job, series, holds, needed):
    """Walk a key's new points (with the points before them) counting how many in a row
    the condition holds: it fires when the run reaches `needed`, clears when it breaks."""
    condition = rule.condition
    series = [(s, v) for s, v, *_ in series if _in_window(condition, s)]
    if not series:
        return []
    run = 0
    if needed > 1:
        for _, value in _stored_before(job, condition["key"], series[0][0], needed - 1, condition):
            run = run + 1 if holds(value) else 0
    fired, checked_clear = [], False
    for step, value in series:
        if holds(value):
            run += 1
            if run == needed:
                message = alert_message(rule, job, value=value, step=step)
                alert = alert_fire(
                    rule=rule, job=job, episode=f"step:{step}", message=message, value=value
                )
                if alert is not None:
                    fired.append(alert)
                checked_clear = False
        else:
            if run >= needed or not checked_clear:
                alert_resolve(rule=rule, job=job, message=f"{_format(value)} at step {step}")
                checked_clear = True
            run = 0
    return fired


def _evaluate_no_improvement(rule, job, series):
    condition = rule.condition
    key, needed = condition["key"], condition["evaluations"]
    finite = MetricPoint.objects.filter(
        job=job, key=key, value__isnull=False, value__lt=math.inf, value__gt=-math.inf
    )
    order = "value" if condition.get("mode", "min") == "min" else "-value"
    best = finite.order_by(order, "step").values_list("step", "value").first()
    if best is None:
        return []
    best_step, best_value = best
    since = MetricPoint.objects.filter(job=job, key=key, step__gt=best_step).count()
    if since >= needed:
        last_step, last_value = series[-1][0], series[-1][1]
        detail = f"best {_format(best_value)} at step {best_step}"
        message = alert_message(rule, job, value=last_value, step=last_step, detail=detail)
        alert = alert_fire(
            rule=rule, job=job, episode=f"best:{best_step}", message=message, value=last_value
        )
        return [alert] if alert else []
    if any(step == best_step for step, *_ in series):
        alert_resolve(rule=rule, job=job, message=f"new best {_format(best_value)}")
    return []


@_safe
def alert_rules_on_metrics(*, job, by_key):
    """Check the metric rules watching the keys of a committed batch
    (`{key: [(step, value, epoch, time), ...]}` sorted by step); returns what fired."""
    index = alert_rules_active()
    if not index.by_key:
        return []
    watched = [(key, rule) for key in by_key for rule in index.by_key.get(key, ())]
    fired = []
    for key, rule in watched:
        if not rule_in_scope(rule, job):
            continue
        series = by_key[key]
        kind = rule.condition_type
        if kind == ConditionType.THRESHOLD:
            holds = _threshold_holds(rule.condition)
            fired += _evaluate_run(rule, job, series, holds, rule.condition["for_points"])
        elif kind == ConditionType.NAN:
            fired += _evaluate_run(rule, job, series, _nan_holds, 1)
        elif kind == ConditionType.NO_IMPROVEMENT:
            fired += _evaluate_no_improvement(rule, job, series)
    return fired


@_safe
def alert_rules_on_status(*, job, old_status):
    """Check the event rules after a job's status moved from `old_status`."""
    event = STATUS_EVENT.get(job.status)
    if event is None or job.status == old_status:
        return []
    rules = alert_rules_active().by_event.get(event, ())
    fired = []
    for rule in rules:
        if not rule_in_scope(rule, job):
            continue
        message = f"Job {event}: {job.name}"
        if event == "failed":
            error = f"{job.error_type + ': ' if job.error_type else ''}{job.error_message}"
            message += f" — {error}"
        alert = alert_fire(rule=rule, job=job, episode=event, message=message)
        if alert is not None:
            fired.append(alert)
    return fired


@_safe
def alert_rules_on_findings(*, job, findings):
    """Check the finding rules for diagnostic findings newly raised on `job` (objects
    with `code` and `title`)."""
    rules = alert_rules_active().findings
    fired = []
    for finding in findings:
        for rule in rules:
            if finding.code not in rule.condition["kinds"] or not rule_in_scope(rule, job):
                continue
            message = alert_message(rule, job, detail=finding.title)
            alert = alert_fire(
                rule=rule, job=job, episode=f"finding:{finding.code}"[:100], message=message
            )
            if alert is not None:
                fired.append(alert)
    return fired
