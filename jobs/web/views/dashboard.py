"""The dashboard: the first page of job cards, statistics and the list's filters."""

from django.shortcuts import render

from jobs import selectors
from jobs.models import JobStatus

from ..access import page_access, page_projects, shown_projects
from ..presenters import card_context

# Cards the dashboard paints; more come from /api/jobs pages of this size on demand.
DASHBOARD_PAGE_SIZE = 48
# Dashboard sort choices: the `ordering` values of /api/jobs, so a URL means the same
# list whether the server or the page's script renders it.
ORDERINGS = [
    ("-created_at", "Newest"),
    ("created_at", "Oldest"),
    ("-started_at", "Recently started"),
    ("-progress", "Progress"),
    ("name", "Name"),
]
STATUS_FILTERS = [
    ("", "All"),
    (JobStatus.RUNNING, "Running"),
    (JobStatus.QUEUED, "Queued"),
    (JobStatus.COMPLETED, "Completed"),
    (JobStatus.FAILED, "Failed"),
]


@page_access
def dashboard(request):
    params = request.GET.copy()
    ordering = params.get("ordering") or ORDERINGS[0][0]
    if ordering not in dict(ORDERINGS):
        ordering = ORDERINGS[0][0]
    params["ordering"] = ordering
    projects = shown_projects(request)
    # The first page only: the script loads the rest from /api/jobs on demand.
    total, jobs = selectors.job_list_page(
        params=params, limit=DASHBOARD_PAGE_SIZE, projects=projects
    )
    filters = {
        "status": params.get("status", ""),
        "model": params.get("model", ""),
        "tag": params.get("tag", ""),
        "q": params.get("q", "").strip(),
        "signature": params.get("signature", ""),
        "ordering": ordering,
    }
    models, all_tags = selectors.job_filter_options(projects)
    cards = [card_context(job) for job in jobs]
    if request.user.is_authenticated:
        # Each card's badge: the alert rules the reader sees firing on it.
        firing = selectors.firing_by_job(
            request.user, page_projects(request), [card["uid"] for card in cards]
        )
        for card in cards:
            card["firing"] = firing.get(card["uid"])
    return render(
        request,
        "jobs/dashboard.html",
        {
            "page": "dashboard",
            "cards": cards,
            "total": total,
            "page_size": DASHBOARD_PAGE_SIZE,
            "stats": selectors.job_statistics(per_day=False, projects=projects),
            "top_failures": selectors.failure_top_signatures(jobs=selectors.jobs_in(projects)),
            "top_failure_days": selectors.TOP_FAILURE_DAYS,
            "filters": filters,
            "status_filters": STATUS_FILTERS,
            "models": models,
            "tags": all_tags,
            "orderings": ORDERINGS,
            "saved_views": (
                selectors.saved_views_of(request.user) if request.user.is_authenticated else []
            ),
            "filtered": any(filters[k] for k in ("status", "model", "tag", "q", "signature")),
        },
    )
