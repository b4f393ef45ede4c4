"""Who may read and who may write through the API."""

from django.conf import settings
from rest_framework import permissions

from .models import ApiToken


def token_may_write(token, job):
    """Whether a (possibly scoped) token may write to `job`."""
    if not token.job_scope and not token.tag_prefixes:
        return True
    if job.uid in token.job_scope:
        return True
    return any(tag.startswith(prefix) for tag in job.tags for prefix in token.tag_prefixes)


class ReadOrTokenWrite(permissions.BasePermission):
    """Reads: a signed-in user or a token (or anyone with TUNEBOARD_PUBLIC_READ=1).

    Writes: a token only, and for an existing job only a token whose scope covers it.
    """

    message = "Writes need an API token: Authorization: Bearer <token>."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return settings.TUNEBOARD_PUBLIC_READ or bool(
                request.user and request.user.is_authenticated
            )
        return isinstance(request.auth, ApiToken)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return token_may_write(request.auth, obj)
