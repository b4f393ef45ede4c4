"""Bodies and answers of the alerts API (channels, rules, fired alerts).

Inputs are checked here for shape only; `services.alert_channel_create` and
`services.alert_rule_create` validate the content and name each bad field.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field(OpenApiTypes.OBJECT)
class AnyJSON(serializers.JSONField):
    pass


class ChannelInput(serializers.Serializer):
    name = serializers.JSONField(help_text="Shown in lists.")
    kind = serializers.JSONField(help_text="email, slack or webhook.")
    target = serializers.JSONField(help_text="An email address, or the webhook's URL.")


class ChannelOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["email", "slack", "webhook"])
    target = serializers.CharField()
    created_at = serializers.DateTimeField()
    secret = serializers.CharField(
        required=False,
        help_text="Webhooks only, in the answer to their creation only: the HMAC-SHA256 key "
        "of the X-Tuneboard-Signature header.",
    )


class ChannelTestOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()


class RuleInput(serializers.Serializer):
    name = serializers.JSONField()
    scope = AnyJSON(required=False, help_text='{"job"?, "tag"?, "model"?}; absent: all jobs.')
    condition = AnyJSON(
        help_text='{"type": "event"|"threshold"|"stall"|"no_improvement"|"nan"|"throughput"'
        '|"finding", …} (docs/alerts.md).'
    )
    channels = AnyJSON(required=False, help_text="Ids of your channels.")
    cooldown_minutes = serializers.JSONField(required=False)
    action = serializers.JSONField(required=False, help_text='"notify" (default) or "stop".')
    severity = serializers.JSONField(
        required=False, help_text='"info", "warning" (default) or "critical".'
    )
    project = serializers.JSONField(
        required=False,
        help_text="A project's slug: the rule is shared with that project (its members see "
        "it, its editors and admins change it) and watches its jobs only. Absent: yours.",
    )


class RuleChangeInput(serializers.Serializer):
    name = serializers.JSONField(required=False)
    condition = AnyJSON(required=False)
    cooldown_minutes = serializers.JSONField(required=False)
    action = serializers.JSONField(required=False)
    severity = serializers.JSONField(required=False)
    active = serializers.JSONField(required=False)
    channels = AnyJSON(
        required=False,
        help_text="Ids of your channels on the rule; other members' channels stay as they are.",
    )


class RuleOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    scope = AnyJSON()
    condition = AnyJSON()
    condition_text = serializers.CharField(help_text='In words: "val/loss > 2 for 3 points".')
    project = serializers.CharField(allow_null=True, help_text="Shared with; null: yours.")
    owner = serializers.CharField(help_text="Who made it.")
    editable = serializers.BooleanField(help_text="Whether you may change or delete it.")
    channels = serializers.ListField(
        child=serializers.IntegerField(), help_text="Your channels on it (only yours)."
    )
    cooldown_minutes = serializers.IntegerField()
    action = serializers.CharField()
    severity = serializers.CharField()
    active = serializers.BooleanField()
    last_fired_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class FiredAlertListOutput(serializers.Serializer):
    unread = serializers.IntegerField()
    results = serializers.ListField(child=AnyJSON())


class FiringOutput(serializers.Serializer):
    jobs = serializers.DictField(
        child=AnyJSON(),
        help_text='{uid: {"count", "severity", "rules"}}: the rules you see firing per job.',
    )


class MarkReadInput(serializers.Serializer):
    ids = AnyJSON(required=False, help_text="Alert ids; absent: all.")
