"""Pushing stored changes to the browsers watching them.

Service functions call `broadcast_after_commit`; the message is sent to the Channels
group only once the transaction that stored the data has committed, so a browser never
sees data that could still roll back. A channel layer that is down never fails a write:
the error is logged once per outage and the write stands.
"""

import asyncio
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

_layer_failing = False
# Threads that are not the server's request workers (the daemons run inside the server by
# `jobs.embedded`) send on the server's event loop: the in-memory channel layer lives
# there, and a second loop in another thread could not wake its sockets.
_thread = threading.local()


def bind_thread_to_loop(loop):
    """Make this thread's pushes run on `loop` (the server's event loop)."""
    _thread.loop = loop


def group_send(group, payload):
    """Send `payload` to every socket in `group` now; log (once) instead of raising."""
    global _layer_failing
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        message = {"type": "tb.event", "payload": payload}
        loop = getattr(_thread, "loop", None)
        if loop is not None:
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(10)
        else:
            async_to_sync(layer.group_send)(group, message)
    except Exception:
        if not _layer_failing:
            logger.exception("Live update to %s failed; writes continue without push", group)
        _layer_failing = True
    else:
        if _layer_failing:
            logger.warning("Live updates are flowing again")
        _layer_failing = False


def broadcast_after_commit(groups, payload):
    """Send `payload` to each group once the current transaction commits."""

    def send():
        for group in groups:
            group_send(group, payload)

    transaction.on_commit(send)
