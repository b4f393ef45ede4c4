"""Bulk actions on jobs chosen in the runs table: add or remove a tag, move to another
project, archive or unarchive, delete (to the trash).

One call is one transaction: every job changes, or (an `InvalidInput` naming the field)
none does. Who may do what to which job is the caller's check (the API asks
`jobs.accounts.permissions` per job before calling).
"""

from django.db import transaction
from django.utils import timezone

from jobs import events
from jobs.core.push import broadcast_after_commit
from jobs.core.validation import InvalidInput
from jobs.models import Job

from .audit import (
    JOB_ARCHIVE,
    JOB_DELETE,
    JOB_MOVE,
    JOB_TAGS,
    JOB_UNARCHIVE,
    audit_record,
)
from .jobs import job_broadcast, tags_clean
from .trash import trash_broadcast

BULK_ACTIONS = ("add_tag", "remove_tag", "move", "archive", "unarchive", "delete")
# Jobs one bulk action may change (a query matching more answers 400).
BULK_MAX = 5000


def bulk_clean(*, action, tag=None, project=None):
    """Validate a bulk action's arguments; `InvalidInput` naming `action`, `tag` or
    `project`. Returns the cleaned tag (or None)."""
    errors = {}
    if action not in BULK_ACTIONS:
        errors["action"] = [f"Unknown action {action!r}; one of {', '.join(BULK_ACTIONS)}."]
    if action in ("add_tag", "remove_tag"):
        if not isinstance(tag, str) or not tag.strip():
            errors["tag"] = ["Name the tag to add or remove."]
        else:
            try:
                tag = tags_clean([tag])[0]
            except ValueError as exc:
                errors["tag"] = [str(exc)]
    if action == "move" and project is None:
        errors["project"] = ["Name the project to move the jobs to."]
    if errors:
        raise InvalidInput(errors)
    return tag


def jobs_bulk(*, jobs, action, tag=None, project=None, actor=None, token=None, now=None):
    """Apply `action` to `jobs` (an iterable of jobs) in one transaction, each change
    recorded in the audit trail and pushed after commit. Returns the number of jobs that
    changed (a job already in the wanted state is left as it is)."""
    tag = bulk_clean(action=action, tag=tag, project=project)
    ids = sorted({job.pk for job in jobs})
    if len(ids) > BULK_MAX:
        raise InvalidInput({"uids": [f"At most {BULK_MAX} jobs at once; narrow the query."]})
    now = now or timezone.now()
    changed = 0
    with transaction.atomic():
        # Locked in id order, as every multi-job write does (docs/concurrency.md).
        locked = list(
            Job.objects.select_for_update()
            .filter(pk__in=ids, deleted_at__isnull=True)
            .order_by("pk")
        )
        for job in locked:
            if _apply(job, action, tag=tag, project=project, actor=actor, token=token, now=now):
                changed += 1
    return changed


def _apply(job, action, *, tag, project, actor, token, now):
    record = {"actor": actor, "token": token, "job": job}
    if action in ("add_tag", "remove_tag"):
        before = list(job.tags or [])
        if action == "add_tag":
            after = before if tag in before else [*before, tag]
        else:
            after = [t for t in before if t != tag]
        if after == before:
            return False
        if len(after) > 32:
            raise InvalidInput({"tag": [f"Job {job.uid} has 32 tags already: at most 32."]})
        job.tags = after
        job.save(update_fields=["tags", "tags_text"])
        audit_record(action=JOB_TAGS, detail={"from": before, "to": after}, **record)
        job_broadcast(job)
        return True
    if action in ("archive", "unarchive"):
        wanted = action == "archive"
        if job.archived == wanted:
            return False
        job.archived = wanted
        job.save(update_fields=["archived"])
        audit_record(action=JOB_ARCHIVE if wanted else JOB_UNARCHIVE, **record)
        job_broadcast(job)
        return True
    if action == "move":
        if job.project_id == project.pk:
            return False
        old = job.project_id
        audit_record(
            action=JOB_MOVE,
            detail={"from": old, "to": project.pk, "to_slug": project.slug},
            **record,
        )
        job.project = project
        job.save(update_fields=["project"])
        # The card leaves the old project's dashboards and joins the new one's.
        broadcast_after_commit([events.dashboard_group(old)], events.job_deleted_message(job.uid))
        job_broadcast(job)
        return True
    # delete
    job.deleted_at = now
    job.save(update_fields=["deleted_at"])
    audit_record(action=JOB_DELETE, **record)
    trash_broadcast(job)
    return True
