"""API tokens: created (the raw token is shown once, its hash stored) and revoked."""

import secrets

from django.utils import timezone

from jobs.accounts.models import ApiToken, Project, Role, token_hash
from jobs.core.validation import InvalidInput, clean_text, parse_field

from .audit import TOKEN_CREATE, TOKEN_REVOKE, audit_record
from .jobs import UID_RE


def token_create(
    *,
    user,
    name,
    job_scope=None,
    tag_prefixes=None,
    expires_at=None,
    projects=None,
    role=Role.EDITOR,
    actor=None,
):
    """Create an API token; returns `(token, raw)`. The raw token is never stored.

    `projects` (slugs) limits the token to those projects, `role` to what it may do there
    (its user's own role caps it); without projects it acts in every project its user
    may access.
    """
    errors = {}
    chosen = []
    if projects:
        chosen = list(Project.objects.filter(slug__in=projects))
        missing = sorted(set(projects) - {p.slug for p in chosen})
        if missing:
            errors["projects"] = [f"No project {', '.join(repr(m) for m in missing)}."]
    if role not in Role.values:
        errors["role"] = [f'"{role}" is not a valid role; one of {", ".join(Role.values)}.']
    name = parse_field(errors, "name", clean_text, name, max_length=100, required=True)
    if job_scope is not None and not (
        isinstance(job_scope, list)
        and all(isinstance(u, str) and UID_RE.match(u) for u in job_scope)
    ):
        errors["job_scope"] = ["Expected a list of job uids."]
    if tag_prefixes is not None and not (
        isinstance(tag_prefixes, list) and all(isinstance(t, str) and t for t in tag_prefixes)
    ):
        errors["tag_prefixes"] = ["Expected a list of non-empty tag prefixes."]
    if errors:
        raise InvalidInput(errors)
    raw = "tb_" + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[:10],
        key_hash=token_hash(raw),
        job_scope=job_scope or [],
        tag_prefixes=tag_prefixes or [],
        expires_at=expires_at,
        role=role,
    )
    if chosen:
        token.projects.set(chosen)
    _audit(TOKEN_CREATE, token, actor, chosen)
    return token, raw


def _audit(action, token, actor, projects):
    """One event per project the token is limited to (one without a project otherwise:
    the admin shows it)."""
    detail = {"token": token.pk, "name": token.name, "prefix": token.prefix, "role": token.role}
    for project in projects or [None]:
        audit_record(action=action, project=project, actor=actor, detail=detail)


def token_revoke(*, token, actor=None):
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _audit(TOKEN_REVOKE, token, actor, list(token.projects.all()))
    return token


# --- alerts ------------------------------------------------------------------------
