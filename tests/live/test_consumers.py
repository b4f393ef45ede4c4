"""The WebSocket consumers: who may connect, and what reaches a connected page."""

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from jobs import services
from jobs.live.routing import websocket_urlpatterns
from jobs.models import JobStatus
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db(transaction=True)


async def connect(path, user):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    connected, code = await communicator.connect(timeout=3)
    return communicator, connected, code


async def test_a_metric_batch_reaches_a_connected_job_socket():
    user = await database_sync_to_async(make_user)()
    job = await database_sync_to_async(make_job)(uid="live-job", status=JobStatus.RUNNING)
    communicator, connected, _ = await connect("/ws/jobs/live-job/", user)
    assert connected

    await database_sync_to_async(services.metrics_ingest)(
        job=job,
        points=[
            {"key": "train/loss", "step": 10, "value": 0.5, "epoch": 0.1},
            {"key": "train/loss", "step": 20, "value": "NaN"},
        ],
    )

    message = await communicator.receive_json_from(timeout=3)
    assert message["type"] == "metrics"
    assert message["series"]["train/loss"] == [[10, 0.5, 0.1], [20, "NaN", None]]
    await communicator.disconnect()


async def test_a_log_line_and_a_stage_move_reach_a_connected_job_socket():
    user = await database_sync_to_async(make_user)()
    job = await database_sync_to_async(make_job)(uid="logging-job", status=JobStatus.RUNNING)
    communicator, connected, _ = await connect("/ws/jobs/logging-job/", user)
    assert connected

    await database_sync_to_async(services.logs_ingest)(
        job=job, lines=[{"seq": 1, "message": "step 10 loss=0.5", "level": "INFO"}]
    )
    logs = await communicator.receive_json_from(timeout=3)
    assert logs["type"] == "logs"
    assert [line["message"] for line in logs["lines"]] == ["step 10 loss=0.5"]

    await database_sync_to_async(services.stage_move)(job=job, stage="validation", status="active")
    types = {(await communicator.receive_json_from(timeout=3))["type"] for _ in range(2)}
    assert types == {"stage", "status"}
    await communicator.disconnect()


async def test_the_dashboard_socket_receives_new_jobs():
    user = await database_sync_to_async(make_user)()
    communicator, connected, _ = await connect("/ws/dashboard/", user)
    assert connected

    await database_sync_to_async(make_job)(uid="brand-new", name="Brand new")

    message = await communicator.receive_json_from(timeout=3)
    assert message["type"] == "job"
    assert message["job"]["uid"] == "brand-new"
    assert message["job"]["status"] == "queued"
    await communicator.disconnect()


async def test_a_ping_is_answered_with_a_pong():
    user = await database_sync_to_async(make_user)()
    communicator, connected, _ = await connect("/ws/dashboard/", user)
    assert connected
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}
    await communicator.disconnect()


@pytest.mark.parametrize("path", ["/ws/jobs/some-job/", "/ws/dashboard/"])
async def test_anonymous_sockets_are_refused(path):
    await database_sync_to_async(make_job)(uid="some-job")
    _, connected, code = await connect(path, AnonymousUser())
    assert not connected
    assert code == 4403


async def test_anonymous_sockets_are_accepted_with_public_read(settings):
    settings.TUNEBOARD_PUBLIC_READ = True
    await database_sync_to_async(make_job)(uid="open-job")
    communicator, connected, _ = await connect("/ws/jobs/open-job/", AnonymousUser())
    assert connected
    await communicator.disconnect()


async def test_a_socket_for_an_unknown_job_is_refused():
    user = await database_sync_to_async(make_user)()
    _, connected, code = await connect("/ws/jobs/no-such-job/", user)
    assert not connected
    assert code == 4403


async def test_a_mention_rings_the_mentioned_users_bell_on_their_dashboard_socket_only():
    author = await database_sync_to_async(make_user)("writer")
    mentioned = await database_sync_to_async(make_user)("reader")
    bystander = await database_sync_to_async(make_user)("bystander")
    job = await database_sync_to_async(make_job)(uid="bell-job", status=JobStatus.RUNNING)
    theirs, connected, _ = await connect("/ws/dashboard/", mentioned)
    assert connected
    others, connected, _ = await connect("/ws/dashboard/", bystander)
    assert connected

    await database_sync_to_async(services.comment_create)(
        job=job, author=author, body="@reader the loss spiked"
    )

    message = await theirs.receive_json_from(timeout=3)
    assert message["type"] == "notification" and message["kind"] == "mention"
    assert await others.receive_nothing(timeout=0.3)
    await theirs.disconnect()
    await others.disconnect()


async def test_an_archived_job_leaves_open_dashboards_and_stays_live_on_its_page():
    user = await database_sync_to_async(make_user)(is_superuser=True)
    job = await database_sync_to_async(make_job)(uid="to-archive", status=JobStatus.RUNNING)
    dashboard, connected, _ = await connect("/ws/dashboard/", user)
    assert connected
    page, connected, _ = await connect("/ws/jobs/to-archive/", user)
    assert connected

    await database_sync_to_async(services.jobs_bulk)(jobs=[job], action="archive", actor=user)
    # Dashboards list no archived job: the card is dropped, not redrawn.
    assert await dashboard.receive_json_from(timeout=3) == {
        "type": "job_deleted",
        "uid": "to-archive",
    }
    message = await page.receive_json_from(timeout=3)
    assert message["type"] == "status" and message["job"]["uid"] == "to-archive"

    await database_sync_to_async(services.jobs_bulk)(jobs=[job], action="unarchive", actor=user)
    message = await dashboard.receive_json_from(timeout=3)
    assert message["type"] == "job" and message["job"]["uid"] == "to-archive"
    await dashboard.disconnect()
    await page.disconnect()
