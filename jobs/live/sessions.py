"""Sockets follow the sign-in that opened them: sign-out and deactivation close them.

A socket is authenticated once, when it connects. So that it does not outlive the
sign-in, every socket of a signed-in viewer also joins two groups: one per session
(hashed: the session key never leaves the server in clear) and one per user. Signing
out sends a close to the session's group (that browser's sockets; the user's other
sessions stay open); deactivating or deleting a user, once the change commits, sends a
close to the user's group. The consumer closes with 4403, the code of a socket refused
at connect; the page reconnects, and the new socket is refused the same way (channels'
`AuthMiddleware` gives an inactive user or a flushed session no user).

This costs two group memberships per socket and one group send per sign-out or
deactivation, nothing per push. The sends go through the channel layer, so with Redis
they reach the sockets of every server process, and a sign-out in one worker closes the
session's sockets on the others; with the in-memory layer they reach the sockets of the
process that made the change (the admin and the sign-out page run in the server).
"""

import hashlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

logger = logging.getLogger(__name__)

# The close code of a socket whose sign-in ended (as of one refused at connect).
CLOSE_SIGNED_OUT = 4403
CLOSE_MESSAGE_TYPE = "tb.close"


def session_group(session_key):
    digest = hashlib.sha256(session_key.encode()).hexdigest()[:40]
    return f"session.{digest}"


def user_group(user_pk):
    return f"user.{user_pk}"


def socket_groups(scope):
    """The sign-in groups a socket with this ASGI `scope` joins (none when anonymous)."""
    user = scope.get("user")
    if not (user and user.is_authenticated):
        return []
    groups = [user_group(user.pk)]
    session = scope.get("session")
    session_key = getattr(session, "session_key", None)
    if session_key:
        groups.append(session_group(session_key))
    return groups


def close_group(group):
    """Close every socket in `group`; log instead of raising (a sign-out must not fail)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            group, {"type": CLOSE_MESSAGE_TYPE, "code": CLOSE_SIGNED_OUT}
        )
    except Exception:
        logger.exception("Could not close the WebSockets of %s", group)


@receiver(user_logged_out, dispatch_uid="tuneboard-live-close-on-logout")
def close_on_logout(sender, request, user, **kwargs):
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if session_key:
        close_group(session_group(session_key))


@receiver(post_save, sender=get_user_model(), dispatch_uid="tuneboard-live-close-on-deactivate")
def close_on_deactivate(sender, instance, **kwargs):
    if not instance.is_active:
        group = user_group(instance.pk)
        transaction.on_commit(lambda: close_group(group))


@receiver(post_delete, sender=get_user_model(), dispatch_uid="tuneboard-live-close-on-delete")
def close_on_delete(sender, instance, **kwargs):
    group = user_group(instance.pk)
    transaction.on_commit(lambda: close_group(group))
