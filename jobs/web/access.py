"""Who may see the pages, and which projects' jobs they show.

Pages need a signed-in user (anyone when TUNEBOARD_PUBLIC_READ is on) and show only the
jobs of projects the user may access (`jobs.accounts.permissions`); another project's
job answers 404. The project switcher in the top bar keeps the chosen project in the
session; "All projects" shows every project the user may access.
"""

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login

from jobs.accounts.permissions import project_roles, readable_project_ids
from jobs.models import Project, Role

SESSION_KEY = "tuneboard_project"


def page_access(view):
    """Pages need a signed-in user unless TUNEBOARD_PUBLIC_READ opens them to anyone."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if settings.TUNEBOARD_PUBLIC_READ or request.user.is_authenticated:
            return view(request, *args, **kwargs)
        return redirect_to_login(request.get_full_path())

    return wrapper


def page_projects(request):
    """The ids of every project whose jobs the signed-in user may see (None: all)."""
    return readable_project_ids(request.user)


def current_project(request):
    """The project chosen in the switcher (`?project=slug` chooses, `?project=` clears),
    or None for all the user's projects. A project the user may not see is never chosen."""
    if "project" in request.GET:
        slug = request.GET["project"].strip()
        if hasattr(request, "session"):
            request.session[SESSION_KEY] = slug
    else:
        slug = request.session.get(SESSION_KEY, "") if hasattr(request, "session") else ""
    if not slug:
        return None
    project = Project.objects.filter(slug=slug).first()
    readable = page_projects(request)
    if project is None or (readable is not None and project.pk not in readable):
        return None
    return project


def shown_projects(request):
    """The project ids a list page shows: the chosen project, else all the user's."""
    project = current_project(request)
    return {project.pk} if project else page_projects(request)


def project_menu(request):
    """Template context for the top bar's switcher: the user's projects with their role."""
    if not getattr(request, "user", None) or not (
        request.user.is_authenticated or settings.TUNEBOARD_PUBLIC_READ
    ):
        return {}
    roles = project_roles(request.user)
    projects = Project.objects.all() if roles is None else Project.objects.filter(pk__in=roles)
    items = [{"project": p, "role": "admin" if roles is None else roles[p.pk]} for p in projects]
    return {"project_menu": items, "current_project": current_project(request)}


def move_targets(request):
    """The projects the signed-in user may move jobs into (editor or admin there)."""
    if not request.user.is_authenticated:
        return []
    roles = project_roles(request.user)
    if roles is None:
        return list(Project.objects.order_by("name"))
    ids = [pk for pk, role in roles.items() if role in (Role.EDITOR, Role.ADMIN)]
    return list(Project.objects.filter(pk__in=ids).order_by("name"))
