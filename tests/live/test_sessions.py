"""Sockets end with the sign-in that opened them: sign-out and deactivation close them."""

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from jobs.live.routing import websocket_urlpatterns
from jobs.models import JobStatus
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db(transaction=True)

# The stack config/asgi.py serves sockets with: the session cookie names the user.
APP = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))
PATHS = ["/ws/jobs/watched-job/", "/ws/dashboard/"]


@pytest.fixture
async def job():
    return await database_sync_to_async(make_job)(uid="watched-job", status=JobStatus.RUNNING)


async def signed_in(user):
    """A browser (Django's test client) signed in as `user`: its own session."""
    client = Client()
    await sync_to_async(client.force_login)(user)
    return client


async def open_socket(client, path):
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    communicator = WebsocketCommunicator(APP, path, headers=[(b"cookie", cookie.encode())])
    connected, code = await communicator.connect(timeout=3)
    return communicator, connected, code


async def closed_with(communicator):
    """The close code the server sent (fails if the socket stays open)."""
    output = await communicator.receive_output(timeout=3)
    assert output["type"] == "websocket.close", output
    return output["code"]


async def still_open(communicator):
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}


@pytest.mark.parametrize("path", PATHS)
async def test_signing_out_closes_that_sessions_sockets_and_no_other(job, path):
    user = await database_sync_to_async(make_user)("leaving")
    browser, other_browser = await signed_in(user), await signed_in(user)
    socket, connected, _ = await open_socket(browser, path)
    assert connected
    other, connected, _ = await open_socket(other_browser, path)
    assert connected

    response = await sync_to_async(browser.post)("/logout/")
    assert response.status_code == 302

    assert await closed_with(socket) == 4403
    await still_open(other)  # the same user, signed in elsewhere
    await other.disconnect()
    # The page reconnects: the flushed session names nobody, so it is refused.
    _, connected, code = await open_socket(browser, path)
    assert (connected, code) == (False, 4403)


@pytest.mark.parametrize("path", PATHS)
async def test_deactivating_a_user_closes_every_socket_of_theirs(job, path):
    user = await database_sync_to_async(make_user)("deactivated")
    bystander = await database_sync_to_async(make_user)("bystander")
    browsers = [await signed_in(user), await signed_in(user)]
    sockets = []
    for browser in browsers:
        socket, connected, _ = await open_socket(browser, path)
        assert connected
        sockets.append(socket)
    watcher, connected, _ = await open_socket(await signed_in(bystander), path)
    assert connected

    user.is_active = False
    await database_sync_to_async(user.save)()

    for socket in sockets:
        assert await closed_with(socket) == 4403
    await still_open(watcher)
    await watcher.disconnect()
    _, connected, code = await open_socket(browsers[0], path)
    assert (connected, code) == (False, 4403)


async def test_deleting_a_user_closes_their_sockets(job):
    user = await database_sync_to_async(make_user)("deleted")
    socket, connected, _ = await open_socket(await signed_in(user), "/ws/jobs/watched-job/")
    assert connected

    await database_sync_to_async(user.delete)()

    assert await closed_with(socket) == 4403


async def test_saving_an_active_user_leaves_their_sockets_open(job):
    user = await database_sync_to_async(make_user)("renamed")
    socket, connected, _ = await open_socket(await signed_in(user), "/ws/dashboard/")
    assert connected

    user.first_name = "Renamed"
    await database_sync_to_async(user.save)()

    await still_open(socket)
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


async def test_a_deactivation_rolled_back_closes_nothing(job):
    from django.db import transaction

    user = await database_sync_to_async(make_user)("kept")
    socket, connected, _ = await open_socket(await signed_in(user), "/ws/dashboard/")
    assert connected

    def deactivate_then_roll_back():
        with transaction.atomic():
            user.is_active = False
            user.save()
            transaction.set_rollback(True)

    await database_sync_to_async(deactivate_then_roll_back)()

    await still_open(socket)
    await socket.disconnect()
