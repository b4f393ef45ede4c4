"""The push of a job's card after a change: to its project's dashboards and its page."""

from jobs import events
from jobs.core.push import broadcast_after_commit


def job_broadcast(job, stages=None, *, extra=None):
    """Push `job`'s card, once the transaction commits, to the dashboards of its project
    and to the viewers of its page (`extra`: more fields for the page's status push).
    Dashboards list no archived job: for one, they are told to drop its card."""
    card = events.job_card(job, stages)
    dashboard = events.job_deleted_message(job.uid) if job.archived else events.job_message(card)
    broadcast_after_commit([events.dashboard_group(job.project_id)], dashboard)
    broadcast_after_commit([events.job_group(job.uid)], events.status_message(card, extra))
