"""`/settings/alerts`: the signed-in user's alert channels, rules and recent alerts.

Plain forms posted to the page itself (CSRF), so every action works without scripts:
create a channel (a JSON webhook's secret is shown once, in the answer), send a test,
create a rule (errors inline, the form kept as typed), delete either. `?job=<uid>` (the
job page's "Notify me…") opens the rule form with that job as its scope.
"""

import contextlib

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from jobs import selectors, services
from jobs.accounts.models import Project, Role, role_at_least
from jobs.accounts.permissions import project_roles
from jobs.core.validation import InvalidInput
from jobs.diagnostics.delivery import channel_test
from jobs.models import AlertChannel, ChannelKind, ConditionType, RuleAction, Severity
from jobs.services.alert_rules import EVENTS, OPERATORS, rule_may_edit

from ..access import page_projects

# Form inputs of the rule form that feed the condition, per condition type.
CONDITION_INPUTS = {
    ConditionType.EVENT: ("events",),
    ConditionType.THRESHOLD: ("key", "op", "value", "for_points"),
    ConditionType.STALL: ("minutes",),
    ConditionType.NO_IMPROVEMENT: ("key", "evaluations", "mode"),
    ConditionType.NAN: ("key",),
    ConditionType.THROUGHPUT: ("below", "minutes"),
    ConditionType.FINDING: ("kinds",),
}
NUMBER_INPUTS = {"value", "below"}
INTEGER_INPUTS = {"for_points", "minutes", "evaluations", "cooldown_minutes"}


def _typed(name, raw):
    """A form string as the JSON value the API would get; unparseable text is passed on
    as it is, so that the service names the field."""
    raw = raw.strip()
    if raw == "":
        return None
    try:
        if name in INTEGER_INPUTS:
            return int(raw)
        if name in NUMBER_INPUTS:
            return float(raw)
    except ValueError:
        return raw
    return raw


def rule_from_form(post):
    """The `alert_rule_create` arguments a posted rule form stands for."""
    kind = post.get("type", "")
    condition = {"type": kind}
    for name in CONDITION_INPUTS.get(kind, ()):
        if name == "events":
            condition["events"] = post.getlist("events")
        elif name == "kinds":
            condition["kinds"] = [k.strip() for k in post.get("kinds", "").split(",") if k.strip()]
        else:
            value = _typed(name, post.get(name, ""))
            if value is not None:
                condition[name] = value
    scope = {f: post.get(f"scope_{f}", "").strip() for f in ("job", "tag", "model")}
    channels = []
    for raw in post.getlist("channels"):
        channels.append(int(raw) if raw.isdigit() else raw)
    cooldown = _typed("cooldown_minutes", post.get("cooldown_minutes", ""))
    return {
        "name": post.get("name", ""),
        "scope": {k: v for k, v in scope.items() if v},
        "condition": condition,
        "channels": channels,
        "cooldown_minutes": 0 if cooldown is None else cooldown,
        "action": post.get("action_kind", RuleAction.NOTIFY),
        "severity": post.get("severity", Severity.WARNING),
        "project": post.get("project", "").strip() or None,
    }


def form_errors(detail):
    """`InvalidInput.detail` flattened to the form's input names: `{"key": "…"}`."""
    flat = {}
    for field, value in detail.items():
        if isinstance(value, dict):
            for sub, messages in value.items():
                name = f"scope_{sub}" if field == "scope" else sub
                flat[name] = " ".join(messages) if isinstance(messages, list) else str(messages)
        else:
            name = "action_kind" if field == "action" else field
            flat[name] = " ".join(value) if isinstance(value, list) else str(value)
    return flat


def _editable_projects(user):
    """The projects whose rules `user` may change (editor or admin): the form's choices."""
    roles = project_roles(user)
    projects = Project.objects.all()
    if roles is not None:
        editable = [pk for pk, role in roles.items() if role_at_least(role, Role.EDITOR)]
        projects = projects.filter(pk__in=editable)
    return list(projects)


def _rules(user, projects):
    """The rules the user sees, each with their own channels on it and whether they may
    change it (another member's channels are never shown)."""
    rules = selectors.alert_rules_of(user, projects)
    for rule in rules:
        rule.my_channels = [c for c in rule.channels.all() if c.owner_id == user.pk]
        rule.editable = rule_may_edit(user, rule)
    return rules


def _context(request, **extra):
    user = request.user
    channels = selectors.alert_channels_of(user)
    projects = page_projects(request)
    context = {
        "page": "alerts",
        "channels": channels,
        "rules": _rules(user, projects),
        "editable_projects": _editable_projects(user),
        "severities": Severity.choices,
        "fired": selectors.fired_alerts_page(user, projects, limit=20)["results"],
        "channel_kinds": ChannelKind.choices,
        "condition_types": ConditionType.choices,
        "operators": list(OPERATORS),
        "events": list(EVENTS),
        "form": {
            "type": "threshold",
            "op": ">",
            "for_points": "1",
            "cooldown_minutes": "0",
            "severity": "warning",
        },
        "channel_form": {"kind": "email"},
        "errors": {},
        "channel_errors": {},
    }
    context.update(extra)
    return context


@login_required
def alert_settings(request):
    if request.method != "POST":
        context = _context(request)
        if job := request.GET.get("job", "").strip():
            context["form"]["scope_job"] = job
            context["open_form"] = True
        context["done"] = request.GET.get("done", "")
        return render(request, "jobs/alert_settings.html", context)

    action, post, user = request.POST.get("do", ""), request.POST, request.user
    if action == "channel":
        try:
            channel, secret = services.alert_channel_create(
                owner=user,
                name=post.get("name", ""),
                kind=post.get("kind", ""),
                target=post.get("target", ""),
            )
        except InvalidInput as error:
            context = _context(
                request, channel_form=post.dict(), channel_errors=form_errors(error.detail)
            )
            return render(request, "jobs/alert_settings.html", context, status=400)
        if secret:
            # Shown once: rendered into this answer, never stored in a URL or the session.
            context = _context(request, new_secret={"channel": channel, "secret": secret})
            return render(request, "jobs/alert_settings.html", context)
        return redirect("/settings/alerts?done=channel")
    if action == "test":
        channel = AlertChannel.objects.filter(owner=user, pk=post.get("channel", "")).first()
        if channel is None:
            return redirect("/settings/alerts")
        ok, detail = channel_test(channel)
        context = _context(request, test={"channel": channel.pk, "ok": ok, "detail": detail})
        return render(request, "jobs/alert_settings.html", context)
    if action == "rule":
        try:
            services.alert_rule_create(owner=user, **rule_from_form(post))
        except InvalidInput as error:
            form = post.dict()
            form["events"] = post.getlist("events")
            form["channels"] = post.getlist("channels")
            context = _context(request, form=form, errors=form_errors(error.detail), open_form=True)
            return render(request, "jobs/alert_settings.html", context, status=400)
        return redirect("/settings/alerts?done=rule")
    if action == "rule-channels" and post.get("rule", "").isdigit():
        # A member's own channels on a shared rule (any member, a viewer too).
        chosen = [int(c) for c in post.getlist("channels") if c.isdigit()]
        with contextlib.suppress(InvalidInput, PermissionError):
            services.alert_rule_update(
                user=user, rule_id=int(post["rule"]), changes={"channels": chosen}
            )
        return redirect("/settings/alerts?done=channels")
    if action == "delete-channel" and post.get("channel", "").isdigit():
        services.alert_channel_delete(owner=user, channel_id=int(post["channel"]))
    if action == "delete-rule" and post.get("rule", "").isdigit():
        # A viewer's page shows no delete button; a forged post changes nothing.
        with contextlib.suppress(PermissionError):
            services.alert_rule_delete(owner=user, rule_id=int(post["rule"]))
    return redirect("/settings/alerts")
