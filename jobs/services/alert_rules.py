"""Alert rules people write and the channels they send to (firing them: alert_firing).

Channels and rules are validated whole (`InvalidInput` names each bad field, nothing is
saved half); every change moves the rules' version number, so each process reads the
active rules again before its next batch.
"""

import math
import secrets

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from jobs.accounts.models import Project, Role
from jobs.accounts.permissions import may, readable_project_ids
from jobs.core.outbound import outbound_url_check
from jobs.core.validation import InvalidInput, clean_text
from jobs.models import (
    AlertChannel,
    AlertRule,
    ChannelKind,
    ConditionType,
    FiredAlert,
    FiredAlertRead,
    Job,
    RuleAction,
    Severity,
)

from .alert_firing import EVENTS, MAX_KEY_LENGTH, OPERATORS, alert_rules_changed

MAX_CHANNELS_PER_RULE = 10

# --- channels ------------------------------------------------------------------------------


def _clean_name(raw, errors):
    try:
        return clean_text(raw, max_length=100, required=True)
    except ValueError as exc:
        errors["name"] = [str(exc)]
        return None


def alert_channel_create(*, owner, name, kind, target):
    """A channel of `owner`; returns `(channel, secret)`, the secret (JSON webhooks only)
    to show once. Email targets must be addresses; webhook and Slack targets public
    http(s) URLs (unless TUNEBOARD_ALERT_ALLOW_PRIVATE)."""
    errors = {}
    name = _clean_name(name, errors)
    if kind not in ChannelKind.values:
        errors["kind"] = [f"Unknown kind {kind!r}; one of {', '.join(ChannelKind.values)}."]
    if not isinstance(target, str) or not target.strip():
        errors["target"] = ["An email address or URL is required."]
    elif len(target) > 500:
        errors["target"] = ["At most 500 characters."]
    elif kind == ChannelKind.EMAIL:
        try:
            validate_email(target.strip())
        except ValidationError:
            errors["target"] = ["Enter a valid email address."]
    elif kind in ChannelKind.values:
        try:
            outbound_url_check(target.strip())
        except ValueError as exc:
            errors["target"] = [str(exc)]
    if errors:
        raise InvalidInput(errors)
    secret = secrets.token_hex(24) if kind == ChannelKind.WEBHOOK else ""
    channel = AlertChannel.objects.create(
        owner=owner, name=name, kind=kind, target=target.strip(), secret=secret
    )
    return channel, secret or None


def alert_channel_delete(*, owner, channel_id):
    """Delete one of `owner`'s channels; False when they have no such channel."""
    deleted, _ = AlertChannel.objects.filter(owner=owner, pk=channel_id).delete()
    return bool(deleted)


# --- rules ---------------------------------------------------------------------------------


def _key(condition, errors):
    key = condition.get("key")
    if not isinstance(key, str) or not key.strip():
        errors["key"] = ["A metric key (a non-empty string) is required."]
        return None
    if len(key) > MAX_KEY_LENGTH or "\x00" in key:
        errors["key"] = [f"At most {MAX_KEY_LENGTH} characters, no NUL."]
        return None
    return key


def _number(condition, field, errors, *, minimum=None, integer=False, required=True):
    raw = condition.get(field)
    if raw is None:
        if required:
            errors[field] = ["This field is required."]
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
        errors[field] = ["An integer is required." if integer else "A number is required."]
        return None
    if integer and not float(raw).is_integer():
        errors[field] = ["An integer is required."]
        return None
    if minimum is not None and raw < minimum:
        errors[field] = [f"Ensure this value is greater than or equal to {minimum}."]
        return None
    return int(raw) if integer else raw


def _string_list(condition, field, errors, allowed=None):
    raw = condition.get(field)
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
        errors[field] = ["A non-empty list of strings is required."]
        return None
    if allowed is not None and (unknown := [x for x in raw if x not in allowed]):
        errors[field] = [f"Unknown {', '.join(map(repr, unknown))}; one of {', '.join(allowed)}."]
        return None
    return list(dict.fromkeys(raw))


def condition_clean(raw):
    """The validated condition (SPEC "Alerts"), or `InvalidInput({"condition": {...}})`."""
    if not isinstance(raw, dict):
        raise InvalidInput({"condition": ["An object with a type is required."]})
    kind = raw.get("type")
    errors = {}
    cleaned = {"type": kind}
    if kind == ConditionType.EVENT:
        cleaned["events"] = _string_list(raw, "events", errors, list(EVENTS))
    elif kind == ConditionType.THRESHOLD:
        cleaned["key"] = _key(raw, errors)
        op = raw.get("op")
        if op not in OPERATORS:
            errors["op"] = [f"Unknown operator {op!r}; one of {' '.join(OPERATORS)}."]
        cleaned["op"] = op
        cleaned["value"] = _number(raw, "value", errors)
        points = _number(raw, "for_points", errors, minimum=1, integer=True, required=False)
        cleaned["for_points"] = points or 1
        for field in ("min_step", "max_step"):
            step = _number(raw, field, errors, minimum=0, integer=True, required=False)
            if step is not None:
                cleaned[field] = step
    elif kind == ConditionType.STALL:
        cleaned["minutes"] = _number(raw, "minutes", errors, minimum=1, integer=True)
    elif kind == ConditionType.NO_IMPROVEMENT:
        cleaned["key"] = _key(raw, errors)
        cleaned["evaluations"] = _number(raw, "evaluations", errors, minimum=1, integer=True)
        mode = raw.get("mode", "min")
        if mode not in ("min", "max"):
            errors["mode"] = ["One of min (lower is better) or max."]
        cleaned["mode"] = mode
    elif kind == ConditionType.NAN:
        cleaned["key"] = _key(raw, errors)
    elif kind == ConditionType.THROUGHPUT:
        cleaned["below"] = _number(raw, "below", errors, minimum=0)
        cleaned["minutes"] = _number(raw, "minutes", errors, minimum=1, integer=True)
    elif kind == ConditionType.FINDING:
        cleaned["kinds"] = _string_list(raw, "kinds", errors)
    else:
        errors["type"] = [f"Unknown type {kind!r}; one of {', '.join(ConditionType.values)}."]
    if errors:
        raise InvalidInput({"condition": errors})
    return cleaned


def _scope_clean(raw, owner, errors, project=None):
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        errors["scope"] = ["An object with job, tag or model is required."]
        return {}
    sub, scope = {}, {}
    if unknown := set(raw) - {"job", "tag", "model"}:
        sub["non_field_errors"] = [f"Unknown {', '.join(sorted(unknown))}; use job, tag, model."]
    for field, limit in (("job", 64), ("tag", 64), ("model", 200)):
        value = raw.get(field)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or len(value) > limit:
            sub[field] = [f"A string of at most {limit} characters is required."]
            continue
        scope[field] = value.strip()
    if "job" in scope:
        readable = readable_project_ids(owner)
        jobs = Job.objects.filter(uid=scope["job"])
        if readable is not None:
            jobs = jobs.filter(project_id__in=readable)
        if project is not None:
            # A project rule watches that project's jobs only.
            jobs = jobs.filter(project=project)
        scope["job"] = jobs.first()
        if scope["job"] is None:
            where = f" in project {project.slug!r}" if project is not None else ""
            sub["job"] = [f"No job with uid {raw['job']!r}{where}."]
    if sub:
        errors["scope"] = sub
    return scope


def _project_clean(raw, user, errors, token=None):
    """The project a shared rule belongs to (by slug), one `user` may edit; None for a
    personal rule."""
    if raw in (None, ""):
        return None
    project = Project.objects.filter(slug=raw).first() if isinstance(raw, str) else None
    if project is None or not may(user, project.pk, Role.EDITOR, token):
        # An unknown project reads the same as one the user may not edit.
        errors["project"] = [f"No project {raw!r} whose rules you may edit."]
        return None
    return project


def _channels_clean(channels, user, errors):
    """`user`'s own channels among the ids `channels` (never another user's)."""
    if channels is None or isinstance(channels, tuple):
        channels = list(channels or ())
    if not isinstance(channels, list) or not all(
        isinstance(c, int) and not isinstance(c, bool) for c in channels
    ):
        errors["channels"] = ["A list of channel ids is required."]
        return []
    if len(channels) > MAX_CHANNELS_PER_RULE:
        errors["channels"] = [f"At most {MAX_CHANNELS_PER_RULE} channels."]
        return []
    found = {c.pk: c for c in AlertChannel.objects.filter(owner=user, pk__in=channels)}
    if missing := [c for c in channels if c not in found]:
        errors["channels"] = [f"Unknown channel {', '.join(map(str, missing))}."]
    return list(found.values())


def _cooldown_clean(cooldown_minutes, errors):
    if cooldown_minutes is None:
        return 0
    if (
        isinstance(cooldown_minutes, bool)
        or not isinstance(cooldown_minutes, int)
        or not 0 <= cooldown_minutes <= 7 * 24 * 60
    ):
        errors["cooldown_minutes"] = ["A whole number of minutes, 0 to 10080, is required."]
    return cooldown_minutes


def _choice_clean(field, value, choices, errors):
    if value not in choices.values:
        errors[field] = [f"Unknown {field} {value!r}; one of {', '.join(choices.values)}."]
    return value


def alert_rule_create(
    *,
    owner,
    name,
    condition,
    scope=None,
    channels=(),
    cooldown_minutes=0,
    action="notify",
    severity="warning",
    project=None,
    token=None,
):
    """A rule of `owner`, validated whole: name, scope (`{"job"?, "tag"?, "model"?}`, the
    job one `owner` may see), condition, channels (ids of `owner`'s channels), cooldown
    (minutes between two episodes on one job), action ("notify" or "stop"), severity
    ("info", "warning", "critical") and `project` (a slug: a rule shared with that
    project, watching its jobs only; `owner`, through `token` if the request came with
    one, must be an editor or admin there)."""
    errors = {}
    name = _clean_name(name, errors)
    try:
        condition = condition_clean(condition)
    except InvalidInput as exc:
        errors.update(exc.detail)
    project = _project_clean(project, owner, errors, token)
    if "project" not in errors:
        scope = _scope_clean(scope, owner, errors, project)
    chosen = _channels_clean(channels, owner, errors)
    cooldown_minutes = _cooldown_clean(cooldown_minutes, errors)
    _choice_clean("action", action, RuleAction, errors)
    _choice_clean("severity", severity, Severity, errors)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        rule = AlertRule.objects.create(
            owner=owner,
            project=project,
            name=name,
            scope_job=scope.get("job"),
            scope_tag=scope.get("tag", ""),
            scope_model=scope.get("model", ""),
            condition=condition,
            condition_type=condition["type"],
            cooldown_minutes=cooldown_minutes,
            action=action,
            severity=severity,
        )
        rule.channels.set(chosen)
        alert_rules_changed()
    return rule


def rule_may_edit(user, rule, token=None):
    """Whether `user` may change or delete `rule`: its owner (a personal rule), an
    editor or admin of its project (a project rule)."""
    if rule.project_id is None:
        return rule.owner_id == user.pk
    return may(user, rule.project_id, Role.EDITOR, token)


def _editable_rule(user, rule_id, token=None):
    """`rule_id` when `user` may see it (`NotFound`-worthy None otherwise), and whether
    they may change it."""
    rule = AlertRule.objects.filter(pk=rule_id).first()
    if rule is None:
        return None, False
    if rule.project_id is None:
        return (rule, True) if rule.owner_id == user.pk else (None, False)
    readable = readable_project_ids(user, token)
    if readable is not None and rule.project_id not in readable:
        return None, False
    return rule, rule_may_edit(user, rule, token)


EDITABLE_FIELDS = ("name", "condition", "cooldown_minutes", "action", "severity", "active")


def alert_rule_update(*, user, rule_id, changes, token=None):
    """Change a rule `user` may edit (`changes`: any of name, condition, cooldown_minutes,
    action, severity, active, channels), validated whole. `channels` sets the caller's own
    channels on the rule and leaves other members' channels as they are: any member who
    sees a project rule may do that much (a viewer too: it changes nothing for others).
    Returns the rule; None when `user` may not see it; raises `PermissionError` when they
    may see but not change it (a viewer of a project rule changing more than their
    channels)."""
    rule, editable = _editable_rule(user, rule_id, token)
    if rule is None:
        return None
    if not isinstance(changes, dict):
        raise InvalidInput({"non_field_errors": ["An object of the fields to change."]})
    if not editable and set(changes) - {"channels"}:
        raise PermissionError("Only the project's editors and admins change its rules.")
    errors = {}
    if unknown := set(changes) - {*EDITABLE_FIELDS, "channels"}:
        errors["non_field_errors"] = [f"Cannot change {', '.join(sorted(unknown))}."]
    fields = {}
    if "name" in changes:
        fields["name"] = _clean_name(changes["name"], errors)
    if "condition" in changes:
        try:
            fields["condition"] = condition_clean(changes["condition"])
            fields["condition_type"] = fields["condition"]["type"]
        except InvalidInput as exc:
            errors.update(exc.detail)
    if "cooldown_minutes" in changes:
        fields["cooldown_minutes"] = _cooldown_clean(changes["cooldown_minutes"], errors)
    if "action" in changes:
        fields["action"] = _choice_clean("action", changes["action"], RuleAction, errors)
    if "severity" in changes:
        fields["severity"] = _choice_clean("severity", changes["severity"], Severity, errors)
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            errors["active"] = ["true or false."]
        fields["active"] = changes["active"]
    chosen = None
    if "channels" in changes:
        chosen = _channels_clean(changes["channels"], user, errors)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
        for field, value in fields.items():
            setattr(rule, field, value)
        if fields:
            rule.save(update_fields=list(fields))
        if chosen is not None:
            others = [c for c in rule.channels.all() if c.owner_id != user.pk]
            rule.channels.set([*others, *chosen])
        alert_rules_changed()
    return rule


def alert_rule_delete(*, owner, rule_id, as_admin=False, token=None):
    """Delete a rule `owner` may edit (their own, or a project rule of a project where
    they are an editor or admin; any rule `as_admin`, the Django admin); its fired alerts
    go with it. False when `owner` may not see it; `PermissionError` when they may see
    but not change it (a viewer of a project rule)."""
    if as_admin:
        rule, editable = AlertRule.objects.filter(pk=rule_id).first(), True
    else:
        rule, editable = _editable_rule(owner, rule_id, token)
    if rule is None:
        return False
    if not editable:
        raise PermissionError("Only the project's editors and admins change its rules.")
    with transaction.atomic():
        deleted, _ = AlertRule.objects.filter(pk=rule.pk).delete()
        if deleted:
            alert_rules_changed()
    return bool(deleted)


def fired_alerts_mark_read(*, owner, ids=None, now=None, projects=None):
    """Mark fired alerts `owner` sees (their rules', and their projects' rules' on jobs of
    `projects`, None: all) read for them (all when `ids` is None); returns how many."""
    now = now or timezone.now()
    if projects is None:
        projects = readable_project_ids(owner)
    fired = FiredAlert.objects.visible_to(owner, projects).exclude(reads__user=owner)
    if ids is not None:
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise InvalidInput({"ids": ["A list of alert ids is required."]})
        fired = fired.filter(pk__in=ids)
    ids = list(fired.values_list("pk", flat=True))
    marks = [FiredAlertRead(alert_id=pk, user=owner, read_at=now) for pk in ids]
    FiredAlertRead.objects.bulk_create(marks, ignore_conflicts=True)
    return len(marks)
