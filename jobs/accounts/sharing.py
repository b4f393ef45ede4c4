"""Looking up the share link a URL presents (`/s/<secret>/…`, `/ws/s/<secret>/`)."""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from .models import ShareLink, token_hash

# As for tokens: a link's last use is recorded at most once a minute.
LAST_USED_EVERY_SECONDS = 60


def share_link_lookup(secret):
    """The active share link for `secret`, or None (unknown, expired and revoked links
    look the same: their pages answer 404)."""
    if not secret:
        return None
    link = (
        ShareLink.objects.select_related("job")
        .filter(key_hash=token_hash(secret), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    return link


def share_link_touch(link, *, now=None):
    """Record that `link` was used, at most once every `LAST_USED_EVERY_SECONDS`."""
    now = now or timezone.now()
    last = link.last_used_at
    if last and (now - last).total_seconds() <= LAST_USED_EVERY_SECONDS:
        return
    cutoff = now - timedelta(seconds=LAST_USED_EVERY_SECONDS)
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=cutoff)
    if ShareLink.objects.filter(stale, pk=link.pk).update(last_used_at=now):
        link.last_used_at = now


def share_link_path(secret):
    """The page a share link opens."""
    return f"/s/{secret}/"
