"""Looking up the API token a request presents."""

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from .models import ApiToken, token_hash

# Bounded write amplification: a token's last use is recorded at most once a minute.
LAST_USED_EVERY_SECONDS = 60


class TokenRejected(Exception):
    """The presented token cannot authenticate; `message` says why."""

    def __init__(self, message):
        self.message = message
        super().__init__(message)


def token_lookup(raw):
    """The active token for `raw`, or raise `TokenRejected`."""
    try:
        token = (
            ApiToken.objects.select_related("user")
            .annotate(project_count=Count("projects"))
            .get(key_hash=token_hash(raw))
        )
    except ApiToken.DoesNotExist:
        raise TokenRejected("Invalid token.") from None
    if token.revoked_at:
        raise TokenRejected("Token has been revoked.")
    if token.expires_at and token.expires_at <= timezone.now():
        raise TokenRejected("Token has expired.")
    if not token.user.is_active:
        raise TokenRejected("User inactive or deleted.")
    return token


def token_touch(token, *, now=None):
    """Record that `token` was used, at most once every `LAST_USED_EVERY_SECONDS`.

    One conditional UPDATE decided by the stored value, not by `token` (read before
    other requests may have recorded theirs): requests racing on several servers write
    it once a minute between them, and never move it back.
    """
    now = now or timezone.now()
    last = token.last_used_at
    if last and (now - last).total_seconds() <= LAST_USED_EVERY_SECONDS:
        return  # known recent from the copy in hand: no query at all
    cutoff = now - timedelta(seconds=LAST_USED_EVERY_SECONDS)
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=cutoff)
    if ApiToken.objects.filter(stale, pk=token.pk).update(last_used_at=now):
        token.last_used_at = now
