"""Alerts people write: channels they are sent to, rules, each firing and its deliveries.

A user sets up `AlertChannel`s (email, Slack-compatible webhook, signed JSON webhook)
and `AlertRule`s (a scope, a condition, channels, a cooldown). When a rule's condition
holds on a job it fires: one `FiredAlert` per (rule, job, episode), so a retried batch,
two servers or a restart never fire it twice, and one `AlertDelivery` per channel that
the deliverer claims before sending (at least once, with backoff).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone

from .job import Job


class ChannelKind(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack webhook"
    WEBHOOK = "webhook", "JSON webhook"


class AlertChannel(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_channels"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=ChannelKind.choices)
    # An email address or an http(s) URL, checked when saved and again when sent.
    target = models.CharField(max_length=500)
    # The HMAC-SHA256 key of a JSON webhook. The server signs with it, so it is kept
    # (a hash could not sign); it is shown once, when the channel is created.
    secret = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return f"{self.name} ({self.kind})"


class RuleAction(models.TextChoices):
    NOTIFY = "notify", "Notify"
    STOP = "stop", "Notify and stop the job"


class ConditionType(models.TextChoices):
    EVENT = "event", "Job event"
    THRESHOLD = "threshold", "Metric threshold"
    STALL = "stall", "No heartbeat"
    NO_IMPROVEMENT = "no_improvement", "No improvement"
    NAN = "nan", "NaN or infinite value"
    THROUGHPUT = "throughput", "Low throughput"
    FINDING = "finding", "Diagnostic finding"


# Conditions checked where the data arrives (ingest), and by the alert watcher (time).
METRIC_CONDITIONS = (ConditionType.THRESHOLD, ConditionType.NAN, ConditionType.NO_IMPROVEMENT)
TIME_CONDITIONS = (ConditionType.STALL, ConditionType.THROUGHPUT)


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


class AlertRule(models.Model):
    # Who made it: the one who sees and edits a personal rule.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_rules"
    )
    # A project rule (shared): it watches that project's jobs only; the project's members
    # see it and its alerts, its editors and admins change it. None: a personal rule.
    project = models.ForeignKey(
        "jobs.Project", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    name = models.CharField(max_length=100)
    # Scope: all the owner's jobs, narrowed by any of one job, a tag, a base model.
    scope_job = models.ForeignKey(
        Job, on_delete=models.CASCADE, null=True, blank=True, related_name="alert_rules"
    )
    scope_tag = models.CharField(max_length=64, blank=True)
    scope_model = models.CharField(max_length=200, blank=True)
    # {"type": ..., ...}: validated by `services.alert_rule_create` (SPEC "Alerts").
    condition = models.JSONField()
    # Denormalised from `condition` so the ingest path picks rules by key cheaply.
    condition_type = models.CharField(max_length=16, choices=ConditionType.choices)
    channels = models.ManyToManyField(AlertChannel, blank=True, related_name="rules")
    cooldown_minutes = models.PositiveIntegerField(default=0)
    action = models.CharField(max_length=8, choices=RuleAction.choices, default="notify")
    # How loud its alerts are on the dashboard's cards and the job page's badge.
    severity = models.CharField(max_length=8, choices=Severity.choices, default="warning")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The watcher's pass: WHERE active AND condition_type IN ('stall', 'throughput').
            models.Index(fields=["condition_type", "active"], name="alertrule_type_idx"),
        ]

    def __str__(self):
        return self.name

    @property
    def shared(self):
        return self.project_id is not None

    @property
    def scope(self):
        scope = {}
        if self.scope_job_id:
            scope["job"] = self.scope_job.uid
        if self.scope_tag:
            scope["tag"] = self.scope_tag
        if self.scope_model:
            scope["model"] = self.scope_model
        return scope

    def describe(self):
        """The condition in words: "val/loss > 2 for 3 points"."""
        return condition_words(self.condition)


def _number(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def condition_words(condition):
    """A rule's condition as a reader says it (the settings page, messages, the API)."""
    kind = condition.get("type")
    if kind == ConditionType.EVENT:
        return "job " + " or ".join(condition.get("events", []))
    if kind == ConditionType.THRESHOLD:
        points = condition.get("for_points", 1)
        text = f"{condition['key']} {condition['op']} {_number(condition['value'])}"
        if points > 1:
            text += f" for {points} points"
        if condition.get("min_step") is not None or condition.get("max_step") is not None:
            low, high = condition.get("min_step"), condition.get("max_step")
            text += f" (steps {'' if low is None else low}–{'' if high is None else high})"
        return text
    if kind == ConditionType.STALL:
        return f"no heartbeat for {condition['minutes']} min"
    if kind == ConditionType.NO_IMPROVEMENT:
        word = "lower" if condition.get("mode", "min") == "min" else "higher"
        return (
            f"{condition['key']} not {word} than its best for "
            f"{condition['evaluations']} evaluations"
        )
    if kind == ConditionType.NAN:
        return f"{condition['key']} is NaN or infinite"
    if kind == ConditionType.THROUGHPUT:
        return (
            f"throughput below {_number(condition['below'])} steps/s for {condition['minutes']} min"
        )
    if kind == ConditionType.FINDING:
        return "finding: " + ", ".join(condition.get("kinds", []))
    return str(condition)


class AlertRulesVersion(models.Model):
    """One row whose number changes (to a random value) whenever a rule changes: each
    process keeps the active rules in memory and reads them again only when it moved."""

    number = models.BigIntegerField(default=0)

    def __str__(self):
        return f"alert rules v{self.number}"


class FiredAlertQuerySet(models.QuerySet):
    def visible_to(self, user, projects):
        """What `user` sees: their personal rules' alerts, and the alerts of the rules
        shared with `projects` (None: every project), on jobs of `projects` only (none
        of a job in the trash)."""
        shared = ~models.Q(rule__project=None)
        if projects is not None:
            shared &= models.Q(rule__project_id__in=projects)
        fired = self.filter(models.Q(rule__project=None, rule__owner=user) | shared)
        fired = fired.filter(job__deleted_at__isnull=True)
        if projects is not None:
            fired = fired.filter(job__project_id__in=projects)
        return fired


class FiredAlert(models.Model):
    """One episode of a rule holding on a job, from firing to resolving."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="fired")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="fired_alerts")
    # What makes this episode itself, derived from the data so that every evaluator of
    # the same data names it alike: "failed", "step:120", "heartbeat:<time>".
    episode = models.CharField(max_length=100)
    value = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=1000)
    fired_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = FiredAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-fired_at", "-id"]
        constraints = [
            # Retries, two servers and restarts evaluate the same data to the same episode.
            models.UniqueConstraint(
                fields=["rule", "job", "episode"], name="firedalert_unique_episode"
            ),
        ]
        indexes = [
            # The open episode of a rule on a job, and its cooldown: WHERE rule, job
            # ORDER BY fired_at DESC.
            models.Index(fields=["rule", "job", "-fired_at"], name="firedalert_rule_job_idx"),
            # The cards' badges: WHERE resolved_at IS NULL AND job_id IN (…).
            models.Index(fields=["resolved_at", "job"], name="firedalert_open_idx"),
        ]

    def __str__(self):
        return f"{self.rule_id}:{self.job_id}:{self.episode}"


class FiredAlertRead(models.Model):
    """One reader has seen one fired alert (the bell's unread count): a project rule's
    alert is read or unread for each member on their own."""

    alert = models.ForeignKey(FiredAlert, on_delete=models.CASCADE, related_name="reads")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["alert", "user"], name="firedalertread_unique"),
        ]

    def __str__(self):
        return f"{self.alert_id} read by {self.user_id}"


class DeliveryEvent(models.TextChoices):
    FIRED = "fired", "Fired"
    RESOLVED = "resolved", "Resolved"


class AlertDelivery(models.Model):
    """One message (fired or resolved) of a fired alert to one channel."""

    alert = models.ForeignKey(FiredAlert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=8, choices=DeliveryEvent.choices, default="fired")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A deliverer owns the row until then (set by its claim); another skips it.
    claimed_until = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "channel", "event"], name="alertdelivery_unique"
            ),
        ]
        indexes = [
            # The deliverer's pass: WHERE delivered_at IS NULL ORDER BY next_attempt_at.
            models.Index(fields=["delivered_at", "next_attempt_at"], name="alertdelivery_due_idx"),
        ]

    def __str__(self):
        return f"{self.alert_id}→{self.channel_id} {self.event}"
