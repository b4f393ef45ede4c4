"""Who may read and who may write which job."""

from django.conf import settings

from .models import ApiToken


def user_may_read(user):
    """Pages and read APIs: a signed-in user (anyone with TUNEBOARD_PUBLIC_READ=1)."""
    return settings.TUNEBOARD_PUBLIC_READ or bool(user and user.is_authenticated)


def is_token(auth):
    """Whether a request authenticated with an API token (writes need one)."""
    return isinstance(auth, ApiToken)


def token_may_write(token, job):
    """Whether a (possibly scoped) token may write to `job`."""
    if not token.job_scope and not token.tag_prefixes:
        return True
    if job.uid in token.job_scope:
        return True
    return any(tag.startswith(prefix) for tag in job.tags for prefix in token.tag_prefixes)
