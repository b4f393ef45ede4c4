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
_layer_state = threading.Lock()
# Threads that are not the server's request workers (the daemons run inside the server by
# `jobs.embedded`) send on the server's event loop: the in-memory channel layer lives
# there, and a second loop in another thread could not wake its sockets.
_thread = threading.local()


def bind_thread_to_loop(loop):
    """Make this thread's pushes run on `loop` (the server's event loop)."""
    _thread.loop = loop


def _send(layer, group, message):
    loop = getattr(_thread, "loop", None)
    if loop is not None:
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(10)
    else:
        async_to_sync(layer.group_send)(group, message)


def group_send(group, payload):
    """Send `payload` to every socket in `group` now; log (once) instead of raising."""
    global _layer_failing
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "tb.event", "payload": payload}
    try:
        try:
            _send(layer, group, message)
        except Exception:
            # After Redis restarts, a connection the layer pooled before fails once and is
            # dropped; the second try takes a fresh one (a viewer ignores a repeated push).
            # When Redis is down both fail at once: connection refused.
            _send(layer, group, message)
    except Exception:
        with _layer_state:  # request threads and the daemons push at the same time
            first, _layer_failing = not _layer_failing, True
        if first:
            logger.exception("Live update to %s failed; writes continue without push", group)
    else:
        with _layer_state:
            recovered, _layer_failing = _layer_failing, False
        if recovered:
            logger.warning("Live updates are flowing again")


def broadcast_after_commit(groups, payload):
    """Send `payload` to each group once the current transaction commits."""

    def send():
        for group in groups:
            group_send(group, payload)

    transaction.on_commit(send)
