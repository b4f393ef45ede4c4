"""Who may read and who may change which job.

A user's role in a project comes from their membership, or from the project's
`everyone_role` (the default project is open to every signed-in user); superusers are
admins everywhere. A token acts in its projects (all of its user's when it names none),
with its own role capped by its user's. Jobs outside what a reader may see answer 404
everywhere, so their existence does not leak.

Roles are read once per request and kept on the user object.
"""

from django.conf import settings
from django.db.models import FilteredRelation, Q

from .models import (
    DEFAULT_PROJECT_SLUG,
    ROLE_RANK,
    ApiToken,
    Project,
    Role,
    default_project,
    role_at_least,
)

_CACHE = "_tuneboard_project_roles"


def user_may_read(user):
    """Pages and read APIs: a signed-in user (anyone with TUNEBOARD_PUBLIC_READ=1)."""
    return settings.TUNEBOARD_PUBLIC_READ or bool(user and user.is_authenticated)


def is_token(auth):
    """Whether a request authenticated with an API token (writes need one)."""
    return isinstance(auth, ApiToken)


def project_roles(user):
    """`{project_id: role}` of every project `user` may access; None means all (as admin)."""
    if user is None or not user.is_authenticated:
        if settings.TUNEBOARD_PUBLIC_READ:
            return dict.fromkeys(Project.objects.values_list("pk", flat=True), Role.VIEWER)
        return {}
    if user.is_superuser:
        return None
    cached = getattr(user, _CACHE, None)
    if cached is not None:
        return cached
    # One query: every project open to everyone or with a membership of the user.
    mine = FilteredRelation("memberships", condition=Q(memberships__user=user))
    rows = (
        Project.objects.annotate(mine=mine)
        .filter(~Q(everyone_role="") | Q(mine__isnull=False))
        .values_list("pk", "everyone_role", "mine__role")
    )
    roles = {}
    for project_id, everyone, member in rows:
        roles[project_id] = max((r for r in (everyone, member) if r), key=ROLE_RANK.__getitem__)
    setattr(user, _CACHE, roles)
    return roles


def forget_roles(user):
    """Drop the roles kept on `user` (after a membership changed in this request)."""
    if user is not None and hasattr(user, _CACHE):
        delattr(user, _CACHE)


def _capped(role, cap):
    if not role:
        return None
    return role if role_at_least(cap, role) else cap


def _names_projects(token):
    """Whether `token` may be limited to named projects: False without a query when
    `token_lookup` counted none (most tokens), True when it did not count them."""
    return token is not None and getattr(token, "project_count", None) != 0


def access_roles(user, token=None):
    """`{project_id: role}` for a request by `user` (through `token`, if any); None = all."""
    roles = project_roles(user)
    if token is None:
        return roles
    named = getattr(token, _CACHE, None)
    if named is None:
        if not _names_projects(token):
            named = set()
        else:
            named = set(token.projects.values_list("pk", flat=True))
        setattr(token, _CACHE, named)
    if roles is None:
        ids = named or set(Project.objects.values_list("pk", flat=True))
        return dict.fromkeys(ids, token.role)
    return {
        pk: _capped(role, token.role)
        for pk, role in roles.items()
        if (not named or pk in named) and _capped(role, token.role)
    }


def readable_project_ids(user, token=None):
    """The ids of the projects whose jobs the request may see; None means all."""
    roles = access_roles(user, token)
    return None if roles is None else set(roles)


def role_in_project(user, project_id, token=None):
    roles = access_roles(user, token)
    if roles is None:
        return Role.ADMIN
    return roles.get(project_id)


def may(user, project_id, minimum, token=None):
    """Whether the request may act in the project with at least the `minimum` role."""
    return role_at_least(role_in_project(user, project_id, token), minimum)


def token_may_write(token, job):
    """Whether a (possibly scoped) token may write to `job`: editor in its project, and
    the job in its job or tag scope when it has one."""
    if not may(token.user, job.project_id, Role.EDITOR, token):
        return False
    if not token.job_scope and not token.tag_prefixes:
        return True
    if job.uid in token.job_scope:
        return True
    return any(tag.startswith(prefix) for tag in job.tags for prefix in token.tag_prefixes)


def project_for_new_job(user, token, slug=None):
    """The project a new job reported through `token` goes to: the one named by `slug`,
    else the token's only project, else the default project. Raises `ValueError` (the
    message for the `project` field) when the token may not create jobs there; an unknown
    project reads the same as a forbidden one."""
    if slug is None:
        named = list(token.projects.all()[:2]) if _names_projects(token) else []
        project = named[0] if len(named) == 1 else default_project()
    else:
        project = Project.objects.filter(slug=slug).first()
        if project is None:
            raise ValueError(f"No project '{slug}' that this token may write to.")
    if not may(user, project.pk, Role.EDITOR, token):
        if slug is None and project.slug == DEFAULT_PROJECT_SLUG:
            raise ValueError("Name the project this job belongs to.")
        raise ValueError(f"No project '{project.slug}' that this token may write to.")
    return project
