"""Working together on jobs: comments, the notifications they raise, and the audit trail."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from jobs.accounts.models import ApiToken, Project

from .job import Job


class Comment(models.Model):
    """A markdown comment on a job, optionally at a training step (a chart marker)."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    step = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # A job's thread: WHERE job_id = ? ORDER BY created_at, id.
            models.Index(fields=["job", "created_at", "id"], name="comment_job_idx"),
        ]

    def __str__(self):
        return f"Comment {self.pk} on {self.job_id}"


class NotificationKind(models.TextChoices):
    MENTION = "mention", "Mention"


class Notification(models.Model):
    """Something a user should see in the bell: someone mentioned them in a comment."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="+")
    comment = models.ForeignKey(
        Comment, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One mention per user and comment, however often an edit repeats it.
            models.UniqueConstraint(
                fields=["user", "comment", "kind"], name="notification_unique_comment"
            ),
        ]
        indexes = [
            # The bell: WHERE user_id = ? [AND read_at IS NULL] ORDER BY created_at DESC.
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_user_idx"),
        ]

    def __str__(self):
        return f"{self.kind} for {self.user_id} on {self.job_id}"


class AuditEvent(models.Model):
    """Who changed what and when: status, notes, tags, members, tokens, share links.

    The actor is a signed-in user, a token (and its user), or nobody (the system: the
    simulator, a command). Job and project keep their names in `detail` so the trail
    survives their deletion.
    """

    at = models.DateTimeField(default=timezone.now)
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    job_uid = models.CharField(max_length=128, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=48)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The project settings page: WHERE project_id = ? ORDER BY at DESC.
            models.Index(fields=["project", "-at"], name="audit_project_idx"),
        ]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.action}"
