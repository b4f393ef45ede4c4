"""Comments on jobs and the mentions they notify; pushed live to the job's members.

Who may do what (the API checks it with `comment_may_*` before calling): editors of the
job's project comment; authors edit and delete their own comments; project admins
delete any.
"""

import re

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from jobs import events
from jobs.accounts.permissions import may, role_in_project
from jobs.core.push import broadcast_after_commit
from jobs.core.validation import InvalidInput, clean_text, parse_field, parse_int
from jobs.models import Comment, Notification, NotificationKind, Role

from .audit import COMMENT_DELETE, audit_record

COMMENT_MAX_CHARS = 10_000
MAX_MENTIONS = 20
# `@name` not preceded by a word character or @ (so e-mail addresses are not mentions).
MENTION_RE = re.compile(r"(?<![\w@])@([\w.+-]+)")


def comment_may_write(user, job, token=None):
    return may(user, job.project_id, Role.EDITOR, token)


def comment_may_edit(user, comment, token=None):
    """Authors edit their own comments while they may still comment on the job."""
    return (
        user is not None
        and comment.author_id == user.pk
        and comment_may_write(user, comment.job, token)
    )


def comment_may_delete(user, comment, token=None):
    """Authors delete their own comments; project admins delete any."""
    return comment_may_edit(user, comment, token) or may(
        user, comment.job.project_id, Role.ADMIN, token
    )


def _clean(errors, body, step, *, partial=False):
    if body is not None or not partial:
        body = parse_field(
            errors, "body", clean_text, body, max_length=COMMENT_MAX_CHARS, required=True
        )
    if step is not None:
        step = parse_field(errors, "step", parse_int, step, minimum=0)
    return body, step


def mentioned_users(job, body, author):
    """The users `@named` in `body` who may read `job` (never the author)."""
    names = []
    for match in MENTION_RE.finditer(body or ""):
        name = match.group(1).rstrip(".-+")
        if name and name not in names:
            names.append(name)
    users = get_user_model().objects.filter(username__in=names[:MAX_MENTIONS], is_active=True)
    return [
        u
        for u in users
        if (author is None or u.pk != author.pk) and role_in_project(u, job.project_id)
    ]


def _notify_mentions(comment):
    for user in mentioned_users(comment.job, comment.body, comment.author):
        notification, created = Notification.objects.get_or_create(
            user=user,
            comment=comment,
            kind=NotificationKind.MENTION,
            defaults={"job": comment.job, "actor": comment.author},
        )
        if created:
            broadcast_after_commit(
                [events.user_group(user.pk)], events.notification_message(notification)
            )


def _push(comment):
    broadcast_after_commit(
        [events.job_comments_group(comment.job.uid)],
        events.comment_message(events.comment_payload(comment)),
    )


def comment_create(*, job, author, body, step=None):
    """Add a comment (markdown `body`, optional training `step`) to `job`; members it
    `@mentions` get a notification. Returns the comment."""
    errors = {}
    body, step = _clean(errors, body, step)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        comment = Comment.objects.create(job=job, author=author, body=body, step=step)
        _notify_mentions(comment)
        _push(comment)
    return comment


def comment_edit(*, comment, body=None, step=None, clear_step=False):
    """Change a comment's body and/or step (`clear_step` removes the step)."""
    errors = {}
    if body is None and step is None and not clear_step:
        raise InvalidInput({"body": ["Send body and/or step."]})
    body, step = _clean(errors, body, step, partial=True)
    if errors:
        raise InvalidInput(errors)
    with transaction.atomic():
        if body is not None:
            comment.body = body
        if step is not None or clear_step:
            comment.step = step
        comment.edited_at = timezone.now()
        comment.save(update_fields=["body", "step", "edited_at"])
        _notify_mentions(comment)
        _push(comment)
    return comment


def comment_delete(*, comment, actor=None, token=None):
    """Delete a comment (and its notifications); a deletion by someone other than the
    author is recorded in the audit trail."""
    job, comment_id = comment.job, comment.pk
    with transaction.atomic():
        if actor is not None and comment.author_id != actor.pk:
            audit_record(
                action=COMMENT_DELETE,
                job=job,
                actor=actor,
                token=token,
                detail={"comment": comment_id, "author_id": comment.author_id},
            )
        comment.delete()
        broadcast_after_commit(
            [events.job_comments_group(job.uid)],
            events.comment_deleted_message(job.uid, comment_id),
        )


def notifications_mark_read(*, user, ids=None):
    """Mark `user`'s notifications read (the given ids, or all); returns how many."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())
