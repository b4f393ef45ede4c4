"""The audit trail: who changed status, notes, tags, names, members, tokens and share links,
and who archived, moved, deleted, restored a job (and when the trash purged it).

Services call `audit_record` inside the transaction of the change they record, so the
trail holds exactly the changes that were stored.
"""

from jobs.accounts.permissions import is_token
from jobs.models import AuditEvent

# Actions, as the settings page and the admin show them.
JOB_STATUS = "job.status"
JOB_STOP = "job.stop"
JOB_NOTES = "job.notes"
JOB_TAGS = "job.tags"
JOB_RENAME = "job.rename"
JOB_DESCRIPTION = "job.description"
JOB_ARCHIVE = "job.archive"
JOB_UNARCHIVE = "job.unarchive"
JOB_MOVE = "job.move"
JOB_DELETE = "job.delete"
JOB_RESTORE = "job.restore"
JOB_PURGE = "job.purge"
PROJECT_CREATE = "project.create"
MEMBER_SET = "member.set"
MEMBER_REMOVE = "member.remove"
TOKEN_CREATE = "token.create"  # noqa: S105 (an action name)
TOKEN_REVOKE = "token.revoke"  # noqa: S105
SHARE_CREATE = "share_link.create"
SHARE_REVOKE = "share_link.revoke"
COMMENT_DELETE = "comment.delete"


def audit_record(*, action, project=None, job=None, actor=None, token=None, detail=None):
    """Store one audit event. `actor` is the user who acted (None: the system), `token`
    the API token they acted through; the job's project is used when none is given."""
    if token is not None and not is_token(token):
        token = None
    if actor is None and token is not None:
        actor = token.user
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    if project is None and job is not None:
        project_id = job.project_id
    else:
        project_id = project.pk if project is not None else None
    return AuditEvent.objects.create(
        action=action,
        project_id=project_id,
        job=job,
        job_uid=job.uid if job is not None else "",
        actor=actor,
        token=token,
        detail=detail or {},
    )
