"""WebSocket consumers: one Channels group per job, one for the dashboard."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from .live import DASHBOARD_GROUP, job_group
from .models import Job


class _GroupConsumer(AsyncJsonWebsocketConsumer):
    group = None

    def may_read(self):
        user = self.scope.get("user")
        return settings.TUNEBOARD_PUBLIC_READ or bool(user and user.is_authenticated)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The socket is push-only; a ping lets clients measure liveness.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def tb_event(self, event):
        await self.send_json(event["payload"])


class JobConsumer(_GroupConsumer):
    """Pushes `metrics`, `logs`, `stage`, `status` and `resources` of one job."""

    async def connect(self):
        uid = self.scope["url_route"]["kwargs"]["uid"]
        if not self.may_read() or not await self._job_exists(uid):
            await self.close(code=4403)
            return
        self.group = job_group(uid)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    @database_sync_to_async
    def _job_exists(self, uid):
        return Job.objects.filter(uid=uid).exists()


class DashboardConsumer(_GroupConsumer):
    """Pushes job status, progress and loss changes to the dashboard."""

    async def connect(self):
        if not self.may_read():
            await self.close(code=4403)
            return
        self.group = DASHBOARD_GROUP
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
