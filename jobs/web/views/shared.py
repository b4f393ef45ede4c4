"""The read-only pages a share link opens (`/s/<secret>/`).

They read no session: the secret in the path is the credential, and an unknown, expired
or revoked one answers 404. They show the one job (or the one comparison) the link
names, without navigation or edit controls, and their scripts read through
`/s/<secret>/api/…` (jobs/api/views/shared.py) and `/ws/s/<secret>/`.
"""

import math

from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from jobs import selectors
from jobs.accounts.sharing import share_link_lookup, share_link_path, share_link_touch

from ..presenters import details_payload
from .compare import compare_context
from .job import job_page_context


def _shared_link(secret):
    link = share_link_lookup(secret)
    if link is None:
        raise Http404
    share_link_touch(link)
    return link


def share_context(link, secret):
    # A link made for 7 days reads "expires in 7 days"; on its last day, "today".
    left = (link.expires_at - timezone.now()).total_seconds()
    days = math.ceil(left / 86400) if left > 86400 else 0
    return {
        "shared": True,
        "share_base": share_link_path(secret).rstrip("/"),
        "share_days": days,
        "share_expires_at": link.expires_at,
    }


@require_GET
def shared_page(request, secret):
    """The page a share link opens: its job's live page, or its comparison, read-only."""
    link = _shared_link(secret)
    context = share_context(link, secret)
    if link.is_comparison:
        jobs = selectors.job_by_uids(link.uids, projects=None)
        if any(uid not in jobs for uid in link.uids):
            raise Http404
        context.update(compare_context([jobs[uid] for uid in link.uids], shared=True))
        return render(request, "jobs/shared_compare.html", context)
    job = selectors.job_by_uid(link.job.uid, with_stages=True, projects=None)
    context.update(job_page_context(request, job, projects=set(), shared=True))
    boot = context["boot"]
    if boot.get("firstUrl"):
        boot["firstUrl"] = context["share_base"] + boot["firstUrl"]
    return render(request, "jobs/shared_job.html", context)


@require_GET
def shared_details(request, secret):
    """The notes and tags of a share link's job (its page re-reads them on a push)."""
    link = _shared_link(secret)
    if link.is_comparison:
        raise Http404
    return JsonResponse(details_payload(link.job))
