"""Bodies and answers of the comments, notifications, share-link and audit APIs.

The inputs document the bodies; the services validate them (one set of messages)."""

from rest_framework import serializers


class CommentInput(serializers.Serializer):
    body = serializers.CharField(help_text="Markdown (the notes' subset); `@username` mentions.")
    step = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, help_text="The training step it is about."
    )


class CommentOutput(serializers.Serializer):
    id = serializers.IntegerField()
    job = serializers.CharField()
    author = serializers.CharField(allow_null=True)
    body = serializers.CharField()
    html = serializers.CharField(help_text="The body rendered as safe HTML.")
    step = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)


class NotificationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.CharField()
    job = serializers.CharField()
    job_name = serializers.CharField()
    comment = serializers.IntegerField(allow_null=True)
    actor = serializers.CharField(allow_null=True)
    excerpt = serializers.CharField()
    url = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class NotificationListOutput(serializers.Serializer):
    unread = serializers.IntegerField()
    results = NotificationOutput(many=True)


class NotificationsReadInput(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="Absent: all."
    )


class MarkedOutput(serializers.Serializer):
    marked = serializers.IntegerField()


class ShareLinkInput(serializers.Serializer):
    expires_in_days = serializers.IntegerField(required=False, min_value=1, max_value=365)


class CompareShareLinkInput(ShareLinkInput):
    compare = serializers.ListField(child=serializers.CharField(), min_length=2, max_length=8)


class ShareLinkOutput(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="Absolute path /s/<secret>/ (only in the 201).")
    expires_at = serializers.DateTimeField()
    uids = serializers.ListField(child=serializers.CharField())


class ShareLinkListOutput(serializers.Serializer):
    id = serializers.IntegerField()
    uids = serializers.ListField(child=serializers.CharField())
    created_by = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    active = serializers.BooleanField()


class AuditEventOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.CharField(allow_null=True)
    token = serializers.CharField(allow_null=True, help_text="Token name, when one was used.")
    job = serializers.CharField(allow_null=True)
    detail = serializers.DictField()
