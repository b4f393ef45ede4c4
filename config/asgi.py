"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import asyncio
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs Django set up)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import get_resolver  # noqa: E402

from config import daemons  # noqa: E402
from jobs.live.routing import websocket_urlpatterns  # noqa: E402

# Start-up objects live until exit: keep full collections from walking them. A long
# series read allocates ~80 000 small containers; with start-up objects in the heap its
# p95 was 129 ms against a p50 of 41 ms, frozen 69 ms (bench/results/profile-series.md).
# The URL patterns are resolved first, so that every view module Django would import on
# the first request is among the frozen objects too.
get_resolver().url_patterns  # noqa: B018  (imports every view)
gc.freeze()


class HttpConcurrencyLimit:
    """At most `limit` HTTP requests of this process inside Django at once.

    Django runs each request's sync code in a thread of its own, so a burst of writers
    made dozens of threads that took turns at the GIL with the event loop: the loop that
    reads the channel layer and writes to WebSockets, so live pushes fell tens of seconds
    behind (B8). A request waits here, on the loop, for a slot; its slot is freed when its
    response starts, so a long streamed export does not hold one.
    """

    def __init__(self, app, limit):
        self.app = app
        self.slots = asyncio.Semaphore(limit)

    async def __call__(self, scope, receive, send):
        await self.slots.acquire()
        held = True

        def release():
            nonlocal held
            if held:
                held = False
                self.slots.release()

        async def send_releasing(message):
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            return await self.app(scope, receive, send_releasing)
        finally:
            release()


router = ProtocolTypeRouter(
    {
        "http": HttpConcurrencyLimit(django_asgi_app, settings.TUNEBOARD_HTTP_CONCURRENCY),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
        ),
    }
)


async def application(scope, receive, send):
    # Daphne has no start-up hook: the first connection starts the embedded daemons on
    # the server's event loop (`scripts/run` makes one right after start).
    if settings.TUNEBOARD_EMBEDDED_DAEMONS:
        daemons.start(asyncio.get_running_loop())
    return await router(scope, receive, send)
