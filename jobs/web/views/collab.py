"""Working together on the pages: the job page's comments and share links, the bell's
"mark all read", a project's settings (members and audit trail)."""

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from jobs import selectors, services
from jobs.accounts.permissions import may, readable_project_ids, role_in_project
from jobs.models import Membership, Project, Role

from ..access import page_access


def collaboration_context(request, job):
    """The job page's comments thread and share-link list, for a signed-in member."""
    user = request.user
    role = role_in_project(user, job.project_id) if user.is_authenticated else None
    may_edit = may(user, job.project_id, Role.EDITOR) if role else False
    return {
        "comments_boot": {
            "uid": job.uid,
            "me": user.get_username() if user.is_authenticated else None,
            "mayComment": may_edit,
            "isAdmin": may(user, job.project_id, Role.ADMIN) if role else False,
            "comments": selectors.comment_list(job),
        },
        "may_share": may_edit,
        # Editors stop a job that has not ended (the header's Stop button).
        "may_stop": may_edit and not job.is_finished,
        "may_rename": may_edit,
        "share_links": selectors.share_link_list(job) if may_edit else [],
    }


# --- the bell ----------------------------------------------------------------------------


@require_POST
def notifications_read(request):
    """The bell's "Mark all read" (a form, when scripts do not run): mentions and fired
    alerts alike; then back to the page it was sent from."""
    if not request.user.is_authenticated:
        return redirect("jobs:login")
    services.notifications_mark_read(user=request.user)
    services.fired_alerts_mark_read(owner=request.user)
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


def notification_menu(request):
    """Template context for the top bar's bell: its one unread count (alerts and
    mentions), drawn before any script runs; static/js/lib/bell.js lists the items.
    No bell on share-link pages."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated) or request.path.startswith("/s/"):
        return {}
    return {"bell": {"unread": selectors.bell_unread(user, readable_project_ids(user))}}


# --- project settings --------------------------------------------------------------------


@page_access
def project_settings(request, slug):
    """A project's members and audit trail; project admins only (404 for non-members,
    403 for other members)."""
    project = Project.objects.filter(slug=slug).first()
    role = role_in_project(request.user, project.pk) if project else None
    if role is None:
        raise Http404
    if not may(request.user, project.pk, Role.ADMIN):
        return render(
            request,
            "jobs/project_settings.html",
            {"page": "settings", "project": project, "forbidden": True},
            status=403,
        )
    members = Membership.objects.filter(project=project).select_related("user")
    return render(
        request,
        "jobs/project_settings.html",
        {
            "page": "settings",
            "project": project,
            "members": members,
            "events": selectors.audit_list(project),
        },
    )
