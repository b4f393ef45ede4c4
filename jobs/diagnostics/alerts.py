"""Raising diagnostic findings as alerts, and the time conditions of users' rules.

`alerts_evaluate()` runs the diagnostic rules over running and recently failed jobs and
records what they find (through `services.alerts_sync`); `delivery.alerts_deliver()`
posts each new alert once to the webhook. `rules_evaluate_time()` checks the rules that
only time can trigger (no heartbeat for N minutes, throughput below X steps/s), and
`delivery.rule_deliveries_send()` sends what users' rules fired to their channels.
`alerts_pass()` does all of it: one pass of the alert watcher (`manage.py
watch_alerts`, or the server's embedded daemon).
"""

import logging
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from jobs import services
from jobs.accounts.permissions import readable_project_ids
from jobs.core.values import isoformat
from jobs.models import AlertRule, ConditionType, FiredAlert, Job, JobStatus, MetricPoint
from jobs.services.alert_firing import alert_message

from .delivery import alerts_deliver, rule_deliveries_send
from .rules import job_findings

logger = logging.getLogger("jobs.alerts")

# Throughput is measured on the steps of the loss, as the job page's step rate is.
THROUGHPUT_KEY = "train/loss"

RECENT_FAILURES = timedelta(hours=6)


def alerts_evaluate(now=None):
    """Run the rules over running jobs and jobs that failed recently; returns new alerts."""
    now = now or timezone.now()
    jobs = Job.objects.filter(
        Q(status=JobStatus.RUNNING)
        | Q(status=JobStatus.FAILED, finished_at__gte=now - RECENT_FAILURES),
        deleted_at__isnull=True,
    ).prefetch_related("stages")
    created = []
    for job in jobs:
        created += services.alerts_sync(job=job, findings=job_findings(job, now=now), now=now)
    return created


def _rule_jobs(rule):
    """The running jobs in the rule's scope: of its project (a project rule), or that its
    owner may see (a personal rule)."""
    jobs = Job.objects.filter(status=JobStatus.RUNNING, deleted_at__isnull=True)
    if rule.scope_job_id:
        jobs = jobs.filter(pk=rule.scope_job_id)
    if rule.scope_tag:
        jobs = jobs.filter(tags_text__contains=f",{rule.scope_tag},")
    if rule.scope_model:
        jobs = jobs.filter(base_model=rule.scope_model)
    if rule.project_id:
        # A project rule watches its project's jobs, whoever made it.
        return jobs.filter(project_id=rule.project_id)
    readable = readable_project_ids(rule.owner)
    if readable is not None:
        jobs = jobs.filter(project_id__in=readable)
    return jobs


def _stall(rule, job, now):
    """(holds, episode, value) of a stall condition: minutes since the last heartbeat."""
    last = job.last_heartbeat or job.started_at or job.created_at
    minutes = (now - last).total_seconds() / 60
    return minutes >= rule.condition["minutes"], f"heartbeat:{isoformat(last)}", minutes


def _throughput(rule, job, now):
    """(holds, episode, value): steps/s of the loss over the last N minutes."""
    window = timedelta(minutes=rule.condition["minutes"])
    since = now - window
    if job.started_at is None or job.started_at > since:
        return False, "", None
    points = MetricPoint.objects.filter(job=job, key=THROUGHPUT_KEY)
    newest = points.order_by("-step").values_list("step", flat=True).first()
    before = points.filter(wall_time__lte=since).order_by("-step")
    start = before.values_list("step", flat=True).first()
    if newest is None:
        return False, "", None
    rate = (newest - (start or 0)) / window.total_seconds()
    # One episode per window length: evaluators in the same window name it alike.
    bucket = int(now.timestamp() // window.total_seconds())
    return rate < rule.condition["below"], f"window:{bucket}", rate


TIME_CHECKS = {ConditionType.STALL: _stall, ConditionType.THROUGHPUT: _throughput}


def rules_evaluate_time(now=None):
    """Check the stall and throughput rules on running jobs: fire where the condition
    holds, resolve open episodes where it cleared (or the job stopped running).
    Returns the fired alerts created."""
    now = now or timezone.now()
    rules = AlertRule.objects.filter(active=True, condition_type__in=list(TIME_CHECKS))
    rules = list(rules.select_related("owner"))
    if not rules:
        return []
    open_pairs = set(
        FiredAlert.objects.filter(rule__in=rules, resolved_at=None).values_list("rule_id", "job_id")
    )
    fired = []
    for rule in rules:
        check = TIME_CHECKS[rule.condition_type]
        seen = set()
        for job in _rule_jobs(rule):
            seen.add(job.pk)
            holds, episode, value = check(rule, job, now)
            if holds:
                message = alert_message(rule, job, value=value)
                alert = services.alert_fire(
                    rule=rule, job=job, episode=episode, message=message, value=value, now=now
                )
                if alert is not None:
                    fired.append(alert)
            elif (rule.pk, job.pk) in open_pairs:
                services.alert_resolve(rule=rule, job=job, message="reporting again", now=now)
        for rule_id, job_id in open_pairs:
            if rule_id == rule.pk and job_id not in seen:
                job = Job.objects.filter(pk=job_id).first()
                if job is not None:
                    services.alert_resolve(rule=rule, job=job, message=f"job {job.status}", now=now)
    return fired


def alerts_pass(now=None):
    """One pass of the alert watcher: evaluate findings and time rules, then deliver
    what is due; returns the alerts created."""
    created = alerts_evaluate(now=now)
    fired = rules_evaluate_time(now=now)
    alerts_deliver(now=now)
    sent = rule_deliveries_send(now=now)
    logger.debug(
        "Alert watcher pass: %d finding(s), %d rule alert(s) fired, %d sent",
        len(created),
        len(fired),
        sent,
    )
    return created
