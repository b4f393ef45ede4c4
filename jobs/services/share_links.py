"""Read-only share links to one job or one comparison: created and revoked.

Project editors and admins create them (the API checks the role in every job's project
first); the raw secret is returned once and only its SHA-256 is stored.
"""

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from jobs import events
from jobs.accounts.models import ShareLink, token_hash
from jobs.core.push import broadcast_after_commit
from jobs.core.validation import InvalidInput, parse_field, parse_int

from .audit import SHARE_CREATE, SHARE_REVOKE, audit_record

DEFAULT_EXPIRY_DAYS = 7
MAX_EXPIRY_DAYS = 365
COMPARE_MIN_JOBS = 2
COMPARE_MAX_JOBS = 8


def share_link_create(*, jobs, created_by=None, expires_in_days=None, token=None, compare=False):
    """A link to `jobs[0]` (or, with `compare`, to the comparison of `jobs`) valid for
    `expires_in_days` (default 7). Returns `(link, secret)`."""
    errors = {}
    days = DEFAULT_EXPIRY_DAYS
    if expires_in_days is not None:
        days = parse_field(errors, "expires_in_days", parse_int, expires_in_days, minimum=1)
        if days is not None and days > MAX_EXPIRY_DAYS:
            errors["expires_in_days"] = [f"At most {MAX_EXPIRY_DAYS} days."]
    if compare and not COMPARE_MIN_JOBS <= len(jobs) <= COMPARE_MAX_JOBS:
        errors["compare"] = [f"Name {COMPARE_MIN_JOBS} to {COMPARE_MAX_JOBS} distinct job uids."]
    if errors:
        raise InvalidInput(errors)
    secret = secrets.token_urlsafe(24)
    first = jobs[0]
    with transaction.atomic():
        link = ShareLink.objects.create(
            key_hash=token_hash(secret),
            project_id=first.project_id,
            job=None if compare else first,
            uids=[job.uid for job in jobs],
            created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit_record(
            action=SHARE_CREATE,
            project=first.project,
            job=None if compare else first,
            actor=created_by,
            token=token,
            detail={"link": link.pk, "uids": link.uids, "expires_in_days": days},
        )
    return link, secret


def share_link_revoke(*, link, actor=None, token=None):
    """Revoke `link`: its pages and data answer 404 from now on and its sockets close."""
    with transaction.atomic():
        link = ShareLink.objects.select_for_update().get(pk=link.pk)
        if link.revoked_at is None:
            link.revoked_at = timezone.now()
            link.save(update_fields=["revoked_at"])
            audit_record(
                action=SHARE_REVOKE,
                project=link.project,
                job=link.job,
                actor=actor,
                token=token,
                detail={"link": link.pk, "uids": link.uids},
            )
            broadcast_after_commit(
                [events.share_link_group(link.pk)], events.share_revoked_message(link.pk)
            )
    return link
