"""The compare page: 2–8 jobs' shared metrics, config diff and final metrics."""

from django.shortcuts import render

from jobs import selectors
from jobs.layout import (
    COMPARE_KEYS,
    COMPARE_MAX_JOBS,
    COMPARE_MIN_JOBS,
    VAL_LOSS_KEY,
    compare_final_rows,
    compare_groupings,
    compare_uids,
    config_diff,
    shared_metric_keys,
)

from ..access import page_access, page_projects


@page_access
def compare(request):
    """`/compare?jobs=a,b,c`: 2–8 jobs' shared metrics, config diff and final metrics.

    Fewer than two or more than eight uids answer 400, unknown uids 404, each with the
    page explaining what to do; the charts read their series from the JSON API.
    """
    uids = compare_uids(request.GET.get("jobs"))
    context = {"page": "compare", "uids": uids, "min_jobs": COMPARE_MIN_JOBS}
    if not COMPARE_MIN_JOBS <= len(uids) <= COMPARE_MAX_JOBS:
        context["problem"] = (
            f"Pick {COMPARE_MIN_JOBS} to {COMPARE_MAX_JOBS} jobs to compare "
            f"({len(uids)} given). Select them with the checkboxes on the dashboard."
        )
        return render(request, "jobs/compare.html", context, status=400)
    found = selectors.job_by_uids(uids, projects=page_projects(request))
    unknown = [uid for uid in uids if uid not in found]
    if unknown:
        context["unknown"] = unknown
        return render(request, "jobs/compare.html", context, status=404)
    context.update(compare_context([found[uid] for uid in uids]))
    return render(request, "jobs/compare.html", context)


def compare_context(jobs, *, shared=False):
    """The compare page's context for `jobs` (`shared`: a share link's view, whose jobs
    do not link to their pages)."""
    keys = shared_metric_keys(jobs)
    best = {job.pk: selectors.metric_best_point(job=job, key=VAL_LOSS_KEY) for job in jobs}
    final_rows = compare_final_rows(jobs, best)
    key_columns = [
        (index, label)
        for index, (_, label) in enumerate(COMPARE_KEYS)
        if any(row["values"][index] is not None for row in final_rows)
    ]
    for row in final_rows:
        row["shown_values"] = [row["values"][index] for index, _ in key_columns]
    diff = config_diff([job.config or {} for job in jobs])
    boot = {
        "jobs": [
            {
                "uid": job.uid,
                "name": job.name,
                "status": job.status,
                "url": None if shared else f"/job/{job.uid}",
            }
            for job in jobs
        ],
        "keys": keys,
        "groupings": compare_groupings(jobs, diff),
        "clocks": {job.uid: selectors.metric_step_clock(job) for job in jobs},
    }
    return {
        "page": "compare",
        "jobs": jobs,
        "keys": keys,
        "diff_rows": diff,
        "diff_count": sum(row["differs"] for row in diff),
        "final_rows": final_rows,
        "key_columns": [label for _, label in key_columns],
        "boot": boot,
        "groupings": list(boot["groupings"]),
    }
