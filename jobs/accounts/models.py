"""API tokens: who reports to Tuneboard, and where they may write.

Defined here, in the accounts room, and registered under the `jobs` app (the table stays
`jobs_apitoken`); `jobs.models` imports it so Django finds it.
"""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


def token_hash(raw_token):
    return hashlib.sha256(raw_token.encode()).hexdigest()


class ApiToken(models.Model):
    """A bearer token for the ingest API. Only the SHA-256 of the token is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, help_text="First characters, to recognise a token.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Empty lists mean "any job". Otherwise the token may write only to these job uids,
    # or to jobs carrying a tag that starts with one of the prefixes.
    job_scope = models.JSONField(default=list, blank=True)
    tag_prefixes = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        if self.revoked_at:
            return False
        return not (self.expires_at and self.expires_at <= timezone.now())
