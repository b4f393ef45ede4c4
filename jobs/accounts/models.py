"""Projects, their members and roles, and API tokens: who may see and change which jobs.

Defined here, in the accounts room, and registered under the `jobs` app (tables
`jobs_project`, `jobs_membership`, `jobs_apitoken`); `jobs.models` imports them so Django
finds them.
"""

import hashlib

from django.conf import settings
from django.db import models
from django.utils import timezone


class Role(models.TextChoices):
    """What a member may do in a project; each role includes the ones before it."""

    VIEWER = "viewer", "Viewer"  # read jobs, pages, exports
    EDITOR = "editor", "Editor"  # write jobs (reporting tokens), comment, edit notes and tags
    ADMIN = "admin", "Admin"  # members, tokens, share links, delete


ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}
DEFAULT_PROJECT_SLUG = "default"


def role_at_least(role, minimum):
    """Whether `role` (or None) grants what `minimum` needs."""
    return bool(role) and ROLE_RANK[role] >= ROLE_RANK[minimum]


class Project(models.Model):
    """A group of jobs with its own members. Every job belongs to exactly one project."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A role every signed-in user has here without being a member (blank: members only).
    # The default project of an installation is open to everyone as editor, as Tuneboard
    # was before projects existed; new projects are for their members.
    everyone_role = models.CharField(max_length=16, choices=Role.choices, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["project", "user"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique"),
        ]

    def __str__(self):
        return f"{self.user} in {self.project} ({self.role})"


def default_project():
    """The installation's default project (created on first use): where jobs reported
    without a project go."""
    project, _ = Project.objects.get_or_create(
        slug=DEFAULT_PROJECT_SLUG, defaults={"name": "Default", "everyone_role": Role.EDITOR}
    )
    return project


def default_project_id():
    """The default project's id: a callable default, so every way of making a job gets
    one (a query each time: pass the project when it is known)."""
    return default_project().pk


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
    # The projects the token acts in (none: every project its user may access), and the
    # most it may do there; its user's own role caps it.
    projects = models.ManyToManyField(Project, blank=True, related_name="tokens")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.EDITOR)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self):
        if self.revoked_at:
            return False
        return not (self.expires_at and self.expires_at <= timezone.now())


class ShareLink(models.Model):
    """A read-only link to one job or one comparison, for people without an account.

    Only the SHA-256 of the secret is stored (like tokens). The link opens its page and
    the data endpoints that page reads (`/s/<secret>/…`), nothing else; expired or
    revoked, it answers 404.
    """

    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="share_links")
    # The job of a job link (None for a comparison); `uids` lists every job the link shows.
    job = models.ForeignKey(
        "jobs.Job", null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    uids = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        target = f"job {self.uids[0]}" if self.job_id else f"comparison of {', '.join(self.uids)}"
        return f"Share link {self.pk} ({target})"

    @property
    def is_comparison(self):
        return self.job_id is None

    @property
    def is_active(self):
        return self.revoked_at is None and self.expires_at > timezone.now()


class SignInIdentity(models.Model):
    """An account's identity at an OpenID Connect provider (single sign-on).

    The provider's `sub` claim names a person for good (an email address or a username
    may change, or be reused); the account is found by issuer and subject, never by a
    matching name, so a provider cannot sign anyone into an existing local account.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sign_in_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["issuer", "subject"]
        constraints = [
            # Sign-in: WHERE issuer = ? AND subject = ? (the unique index serves it).
            models.UniqueConstraint(fields=["issuer", "subject"], name="sign_in_identity_unique"),
        ]

    def __str__(self):
        return f"{self.subject} at {self.issuer}"
