"""Who may read and who may write through the API (the rules live in `jobs.accounts`)."""

from rest_framework import permissions

from jobs.accounts.permissions import is_token, token_may_write, user_may_read


class ReadOrTokenWrite(permissions.BasePermission):
    """Reads: a signed-in user or a token (or anyone with TUNEBOARD_PUBLIC_READ=1).

    Writes: a token only, and for an existing job only a token whose scope covers it.
    """

    message = "Writes need an API token: Authorization: Bearer <token>."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return user_may_read(request.user)
        return is_token(request.auth)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        return token_may_write(request.auth, obj)


class ReadOrSignedInWrite(permissions.BasePermission):
    """Reads as `ReadOrTokenWrite`; writes by a signed-in user (a session with its CSRF
    token, or a token): the view checks the role the write needs in the job's project."""

    message = "Sign in or send an API token."

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return user_may_read(request.user)
        return bool(request.user and request.user.is_authenticated)
