"""Reads of comments, notifications, share links and the audit trail (bounded)."""

from django.db.models import Count

from jobs.events import comment_payload
from jobs.models import AuditEvent, Comment, FiredAlert, Notification, ShareLink

COMMENTS_MAX = 500
NOTIFICATIONS_SHOWN = 20
SHARE_LINKS_SHOWN = 50
AUDIT_SHOWN = 200


def comment_list(job):
    """The job's thread, oldest first (at most `COMMENTS_MAX`: the newest ones)."""
    rows = Comment.objects.filter(job=job).select_related("author", "job")
    newest = list(rows.order_by("-created_at", "-id")[:COMMENTS_MAX])
    return [comment_payload(c) for c in reversed(newest)]


def comment_steps(job):
    """`{step: count}` of the job's comments made at a training step (chart markers)."""
    rows = (
        Comment.objects.filter(job=job, step__isnull=False)
        .values("step")
        .annotate(n=Count("id"))
        .order_by("step")[:COMMENTS_MAX]
    )
    return {row["step"]: row["n"] for row in rows}


def notification_payload(note):
    first_line = (note.comment.body.strip().splitlines() or [""])[0] if note.comment else ""
    anchor = f"#comment-{note.comment_id}" if note.comment_id else ""
    return {
        "id": note.pk,
        "kind": note.kind,
        "job": note.job.uid,
        "job_name": note.job.name,
        "comment": note.comment_id,
        "actor": note.actor.get_username() if note.actor else None,
        "excerpt": first_line[:140],
        "url": f"/job/{note.job.uid}{anchor}",
        "created_at": note.created_at,
        "read_at": note.read_at,
    }


def notification_list(user, readable=None, limit=NOTIFICATIONS_SHOWN):
    """`(unread count, newest notifications)` of `user`, only for jobs of the projects
    they may still read (`readable`: project ids, None for all)."""
    rows = Notification.objects.filter(user=user)
    if readable is not None:
        rows = rows.filter(job__project_id__in=readable)
    unread = rows.filter(read_at__isnull=True).count()
    shown = rows.select_related("job", "comment", "actor")[:limit]
    return unread, [notification_payload(n) for n in shown]


def bell_unread(user, readable=None):
    """The bell's one unread count: `user`'s unread notifications and the fired alerts
    they see (their rules and their projects' shared rules) not yet read by them, on
    jobs of the projects they may still read (`readable`: project ids, None for all)."""
    notes = Notification.objects.filter(user=user, read_at__isnull=True)
    if readable is not None:
        notes = notes.filter(job__project_id__in=readable)
    fired = FiredAlert.objects.visible_to(user, readable).exclude(reads__user=user)
    return notes.count() + fired.count()


def share_link_list(job):
    """The links to `job` (its comparisons' links are listed by the API that made them)."""
    rows = ShareLink.objects.filter(job=job).select_related("created_by")
    return list(rows[:SHARE_LINKS_SHOWN])


def audit_list(project, limit=AUDIT_SHOWN):
    return list(AuditEvent.objects.filter(project=project).select_related("actor", "token")[:limit])
