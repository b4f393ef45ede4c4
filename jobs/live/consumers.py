"""WebSocket consumers: one Channels group per job, one for the dashboard.

Limits (docs/security.md): a socket carries small JSON control messages inbound (a
ping), so a text frame over `TUNEBOARD_WS_MAX_MESSAGE_BYTES`, a binary frame or text
that is not JSON closes it. Outbound, a browser that stops reading must not make the
server buffer pushes without end: under daphne each socket registers a push producer
on its transport, and once the transport's buffer is full every further push counts
against `TUNEBOARD_WS_MAX_BACKLOG_BYTES`; past it the socket is dropped and its buffer
freed. The page reconnects and fetches what it missed, as after any outage.

A socket lives as long as the sign-in that opened it: signing out or being deactivated
closes it (`jobs/live/sessions.py`).
"""

import functools
import json
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from jobs.accounts.models import default_project_id
from jobs.accounts.permissions import readable_project_ids, user_may_read
from jobs.accounts.sharing import share_link_lookup, share_link_touch
from jobs.events import (
    SHARE_REVOKED,
    dashboard_group,
    job_comments_group,
    job_group,
    share_link_group,
    user_group,
)
from jobs.live.sessions import socket_groups
from jobs.models import Project
from jobs.selectors import jobs_in

logger = logging.getLogger(__name__)

# Close codes: daphne (autobahn) lets an application send only 1000 and 3000-4999, so
# these are RFC 6455's 1003 unsupported data, 1007 invalid payload and 1009 too big
# moved to 4xxx, and 4008 for a viewer too far behind (it reconnects and catches up).
CLOSE_UNSUPPORTED = 4003
CLOSE_INVALID = 4007
CLOSE_TOO_SLOW = 4008
CLOSE_TOO_BIG = 4009
# daphne refuses to send a message over 1 MiB (its --websocket_max_message_size) and
# fails the socket; a big log or metric push goes out in parts below that. Characters,
# not bytes: 4 bytes per character at most keeps the parts under the limit.
PUSH_PART_CHARS = 256 * 1024


def push_parts(payload, text, limit=PUSH_PART_CHARS):
    """`payload` as JSON texts of at most `limit` characters where it can be split.

    `logs` split by line and `metrics` by point, keeping their shapes (a page applies
    each part as it would a small push); other payloads are small and go whole.
    """
    if len(text) <= limit:
        return [text]
    if payload.get("type") == "logs" and len(payload["lines"]) > 1:
        lines = payload["lines"]
        halves = [lines[: len(lines) // 2], lines[len(lines) // 2 :]]
        parts = [{**payload, "lines": half} for half in halves]
    elif payload.get("type") == "metrics":
        points = [(key, p) for key, series in payload["series"].items() for p in series]
        if len(points) < 2:
            return [text]
        parts = []
        for half in (points[: len(points) // 2], points[len(points) // 2 :]):
            series = {}
            for key, point in half:
                series.setdefault(key, []).append(point)
            parts.append({**payload, "series": series})
    else:
        return [text]
    return [t for part in parts for t in push_parts(part, json.dumps(part), limit)]


def server_socket(send):
    """daphne's WebSocket protocol behind an ASGI `send`, or None under another server.

    daphne hands the application `partial(server.handle_reply, protocol)`; Channels'
    session middleware keeps that callable as `real_send`. Nothing else exposes the
    transport, and without it the outbound guard simply stays off.
    """
    for _ in range(8):
        if isinstance(send, functools.partial):
            return next((a for a in send.args if hasattr(a, "registerProducer")), None)
        send = getattr(getattr(send, "__self__", None), "real_send", None)
        if send is None:
            return None
    return None


class OutboundBacklog:
    """A Twisted push producer that learns when a socket's transport buffer is full.

    Twisted pauses the producer once more than its buffer size (64 KiB) waits to be
    written and resumes it when the buffer has drained. `add` counts the bytes pushed
    while paused and says when they pass the limit. The producer registered before
    (twisted.web's HTTP channel, which the WebSocket upgrade leaves in place) is told
    everything too, so it still stops reading from a client that does not read.
    """

    def __init__(self, limit, previous=None):
        self.limit = limit
        self.previous = previous
        self.paused = False
        self.pending = 0

    def pauseProducing(self):  # Twisted calls these three
        self.paused = True
        if self.previous is not None:
            self.previous.pauseProducing()

    def resumeProducing(self):
        self.paused = False
        self.pending = 0
        if self.previous is not None:
            self.previous.resumeProducing()

    def stopProducing(self):
        self.paused = False
        if self.previous is not None:
            self.previous.stopProducing()

    def add(self, size):
        """Count `size` bytes about to be written; True once the backlog is too big."""
        if self.paused:
            self.pending += size
        return self.pending > self.limit


class _GroupConsumer(AsyncJsonWebsocketConsumer):
    group = None
    followed = ()
    backlog = None
    protocol = None
    sign_in_groups = ()

    def may_read(self):
        return user_may_read(self.scope.get("user"))

    @database_sync_to_async
    def readable_projects(self):
        """The ids of the projects whose jobs the viewer may see (None: all)."""
        return readable_project_ids(self.scope.get("user"))

    async def join(self, *groups):
        """Follow `groups`' pushes, and close when the viewer's sign-in ends (sessions.py)."""
        self.group = groups[0] if groups else None
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            groups = (*groups, user_group(user.pk))  # the bell's own pushes
        self.followed = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.sign_in_groups = socket_groups(self.scope)
        for name in self.sign_in_groups:
            await self.channel_layer.group_add(name, self.channel_name)

    async def disconnect(self, code):
        for name in (*self.followed, *self.sign_in_groups):
            if name:
                await self.channel_layer.group_discard(name, self.channel_name)

    async def tb_close(self, event):
        """The viewer signed out or was deactivated: close (the page's reconnect is refused)."""
        await self.close(code=event["code"])

    async def accept(self, subprotocol=None, headers=None):
        await super().accept(subprotocol, headers)
        protocol = server_socket(self.base_send)
        transport = getattr(protocol, "transport", None)
        if transport is None or not hasattr(transport, "registerProducer"):
            return
        previous = getattr(transport, "producer", None)
        if previous is not None and not getattr(transport, "streamingProducer", True):
            return  # a pull producer is driving this transport: leave it alone
        if previous is not None:
            transport.unregisterProducer()
        backlog = OutboundBacklog(settings.TUNEBOARD_WS_MAX_BACKLOG_BYTES, previous)
        transport.registerProducer(backlog, True)
        self.protocol, self.backlog = protocol, backlog

    async def websocket_receive(self, message):
        text = message.get("text")
        if text is None:
            await self.close(code=CLOSE_UNSUPPORTED)
            return
        if len(text.encode("utf-8", "surrogatepass")) > settings.TUNEBOARD_WS_MAX_MESSAGE_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        try:
            content = json.loads(text)
        except ValueError:
            await self.close(code=CLOSE_INVALID)
            return
        await self.receive_json(content)

    async def receive_json(self, content, **kwargs):
        # The socket is push-only; a ping lets clients measure liveness.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def tb_event(self, event):
        payload = event["payload"]
        for text in push_parts(payload, await self.encode_json(payload)):
            if not await self._send_bounded(text):
                return

    async def _send_bounded(self, text):
        """Send `text` unless the viewer is too far behind; then drop it and say False."""
        if self.backlog is not None and self.backlog.add(len(text)):
            logger.warning(
                "Dropping a WebSocket viewer of %s: %d bytes behind",
                self.group,
                self.backlog.pending,
            )
            self.backlog = None
            await self.close(code=CLOSE_TOO_SLOW)
            # The close frame would wait behind the unread backlog; free it now.
            self.protocol.dropConnection(abort=True)
            return False
        await self.send(text_data=text)
        return True


class JobConsumer(_GroupConsumer):
    """Pushes `metrics`, `logs`, `stage`, `status`, `alerts` and `resources` of one job."""

    async def connect(self):
        uid = self.scope["url_route"]["kwargs"]["uid"]
        if not self.may_read() or not await self._job_visible(uid):
            await self.close(code=4403)
            return
        # Comments go to members only: a share link's socket joins `job_group` alone.
        await self.join(job_group(uid), job_comments_group(uid))
        await self.accept()

    @database_sync_to_async
    def _job_visible(self, uid):
        projects = readable_project_ids(self.scope.get("user"))
        return jobs_in(projects).filter(uid=uid).exists()


class DashboardConsumer(_GroupConsumer):
    """Pushes status, progress and loss changes of the jobs of every project the viewer
    may see (one group per project; a project created later is followed after the page
    reconnects)."""

    async def connect(self):
        if not self.may_read():
            await self.close(code=4403)
            return
        await self.join(*[dashboard_group(p) for p in sorted(await self._project_ids())])
        await self.accept()

    @database_sync_to_async
    def _project_ids(self):
        default_project_id()  # a fresh installation's first jobs go there: follow it too
        projects = readable_project_ids(self.scope.get("user"))
        return set(Project.objects.values_list("pk", flat=True)) if projects is None else projects


class SharedJobConsumer(_GroupConsumer):
    """A share link's live job page (`/ws/s/<secret>/`): the job's pushes, no comments.

    The secret is the credential (no session is read); an unknown, expired or revoked
    link, or a comparison's, is refused; revoking the link closes the socket."""

    async def connect(self):
        secret = self.scope["url_route"]["kwargs"]["secret"]
        link = await self._link(secret)
        if link is None:
            await self.close(code=4404)
            return
        self.followed = (job_group(link["uid"]), share_link_group(link["id"]))
        self.group = self.followed[0]
        for group in self.followed:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    @database_sync_to_async
    def _link(self, secret):
        link = share_link_lookup(secret)
        if link is None or link.is_comparison:
            return None
        share_link_touch(link)
        return {"id": link.pk, "uid": link.job.uid}

    async def tb_event(self, event):
        if event["payload"].get("type") == SHARE_REVOKED:
            await self.close(code=4404)
            return
        await super().tb_event(event)
