"""The trash page: the deleted jobs of the reader's projects, each with the day it is
purged and, for the project's admins, a Restore button (POST /api/jobs/{uid}/restore)."""

from datetime import timedelta

from django.shortcuts import render

from jobs import selectors
from jobs.accounts.permissions import may
from jobs.models import TRASH_DAYS, Role

from ..access import page_access, shown_projects

TRASH_PAGE_MAX = 500


@page_access
def trash(request):
    jobs = list(selectors.jobs_in_trash(shown_projects(request))[:TRASH_PAGE_MAX])
    rows = [
        {
            "job": job,
            "purge_at": job.deleted_at + timedelta(days=TRASH_DAYS),
            "may_restore": may(request.user, job.project_id, Role.ADMIN),
        }
        for job in jobs
    ]
    return render(
        request,
        "jobs/trash.html",
        {"page": "trash", "rows": rows, "trash_days": TRASH_DAYS, "limit": TRASH_PAGE_MAX},
    )
