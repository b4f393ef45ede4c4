"""The push of a job's card after a change: to its project's dashboards and its page."""

from jobs import events
from jobs.core.push import broadcast_after_commit


def job_broadcast(job, stages=None, *, extra=None):
    """Push `job`'s card, once the transaction commits, to the dashboards of its project
    and to the viewers of its page (`extra`: more fields for the page's status push)."""
    card = events.job_card(job, stages)
    broadcast_after_commit([events.dashboard_group(job.project_id)], events.job_message(card))
    broadcast_after_commit([events.job_group(job.uid)], events.status_message(card, extra))
