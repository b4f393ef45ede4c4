"""Limits: write throttling, request body size, WebSocket message size."""

import io
import json

import pytest
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle

from jobs.api.http import JSONBodyParser, PayloadTooLarge
from jobs.live.consumers import CLOSE_INVALID, CLOSE_TOO_BIG, CLOSE_UNSUPPORTED
from jobs.live.routing import websocket_urlpatterns
from jobs.models import JobStatus, MetricPoint
from tests.factories import add_logs, make_job, make_user, points, sample

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    return make_job(uid="limited", status=JobStatus.RUNNING)


def write_requests(uid):
    """(path, body) of every write endpoint, each valid on its own."""
    return [
        ("/api/jobs", {"name": "throttled job"}),
        (f"/api/jobs/{uid}/metrics", {"points": points(2)}),
        (f"/api/jobs/{uid}/logs", {"lines": [{"seq": 0, "message": "hello"}]}),
        (f"/api/jobs/{uid}/status", {"status": "running", "step": 3}),
        (f"/api/jobs/{uid}/stages", {"stage": "training", "status": "active"}),
        ("/api/resources", {"host": "gpu-1", "samples": [sample()]}),
    ]


# --- throttling -----------------------------------------------------------------------


@pytest.fixture
def ingest_rate(monkeypatch):
    """Set the `ingest` rate; DRF copied the settings' rates into the class at import."""

    def set_rate(rate):
        monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"ingest": rate})

    return set_rate


@pytest.mark.parametrize("index", range(6), ids=lambda i: write_requests("u")[i][0])
def test_writes_over_the_ingest_rate_get_429_with_retry_after(
    token_client, job, ingest_rate, index
):
    ingest_rate("2/min")
    path, body = write_requests(job.uid)[index]
    for _ in range(2):
        assert token_client.post(path, body, format="json").status_code < 400
    response = token_client.post(path, body, format="json")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert "throttled" in response.json()["detail"].lower()


def test_a_throttled_batch_is_not_stored(token_client, job, ingest_rate):
    ingest_rate("1/min")
    metrics = f"/api/jobs/{job.uid}/metrics"
    assert token_client.post(metrics, {"points": points(2)}, format="json").status_code == 200
    response = token_client.post(metrics, {"points": points(5, start=10)}, format="json")
    assert response.status_code == 429
    assert MetricPoint.objects.filter(job=job).count() == 2


def test_reads_are_not_throttled(token_client, job, ingest_rate):
    ingest_rate("1/min")
    for _ in range(5):
        assert token_client.get(f"/api/jobs/{job.uid}/metrics").status_code == 200


def test_each_token_owner_has_its_own_allowance(token_client, api_client, job, ingest_rate):
    from tests.factories import make_token

    ingest_rate("1/min")
    metrics = f"/api/jobs/{job.uid}/metrics"
    assert token_client.post(metrics, {"points": points(1)}, format="json").status_code == 200
    assert token_client.post(metrics, {"points": points(1)}, format="json").status_code == 429
    _, raw = make_token(make_user("bob"))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api_client.post(metrics, {"points": points(1)}, format="json").status_code == 200


# --- request bodies -------------------------------------------------------------------


def oversize_json():
    """A syntactically valid JSON body one byte over the upload limit."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    head, tail = '{"points": [], "pad": "', '"}'
    return (head + "x" * (limit + 1 - len(head) - len(tail)) + tail).encode()


@pytest.mark.parametrize("index", range(6), ids=lambda i: write_requests("u")[i][0])
def test_a_body_over_the_limit_gets_413_json_on_every_write(token_client, job, index):
    path, _ = write_requests(job.uid)[index]
    body = oversize_json()
    assert len(body) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1
    response = token_client.generic("POST", path, body, content_type="application/json")
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_a_body_at_the_limit_is_read(token_client, job):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    head, tail = '{"points": [{"key": "k", "step": 1, "value": 1}], "pad": "', '"}'
    body = (head + "x" * (limit - len(head) - len(tail)) + tail).encode()
    response = token_client.generic(
        "POST", f"/api/jobs/{job.uid}/metrics", body, content_type="application/json"
    )
    assert response.status_code == 200


class _Request:
    """What the parser reads of a request: a body with no declared length (streamed)."""

    META = {}


def test_a_streamed_body_is_cut_at_the_limit_with_413():
    # A body with no Content-Length (or one longer than it says) reaches the parser as a
    # stream: reading stops one byte past the limit and the request gets exactly 413.
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    context = {"request": _Request()}
    over = io.BytesIO(oversize_json())
    with pytest.raises(PayloadTooLarge) as refused:
        JSONBodyParser().parse(over, parser_context=context)
    assert refused.value.status_code == 413
    assert over.tell() == limit + 1, "the parser read past the limit"
    head, tail = '{"points": [], "pad": "', '"}'
    at = (head + "x" * (limit - len(head) - len(tail)) + tail).encode()
    assert JSONBodyParser().parse(io.BytesIO(at), parser_context=context)["points"] == []


def test_a_body_longer_than_its_content_length_says_is_read_only_that_far(token_client, job):
    # A client that lies about the length gets what it declared read, nothing more:
    # here 10 bytes of JSON, a parse error; nothing is stored.
    body = oversize_json()
    response = token_client.generic(
        "POST",
        f"/api/jobs/{job.uid}/metrics",
        body,
        content_type="application/json",
        CONTENT_LENGTH="10",
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "JSON parse error" in response.json()["detail"]
    assert MetricPoint.objects.filter(job=job).count() == 0


def test_an_oversize_form_post_to_a_page_is_refused_cleanly(client, user):
    response = client.post(
        "/login/", {"username": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "password": "p"}
    )
    assert response.status_code == 400


# --- pages of reads ------------------------------------------------------------------


def test_a_log_page_holds_at_most_5000_lines_whatever_limit_asks(token_client, job):
    add_logs(job, 5000)
    add_logs(job, 2, start=5000)
    for query in ("limit=999999", "limit=5001", "limit=5001&tail=true"):
        page = token_client.get(f"/api/jobs/{job.uid}/logs?{query}")
        assert page.status_code == 200
        assert len(page.json()["lines"]) == 5000, query
    first = token_client.get(f"/api/jobs/{job.uid}/logs?limit=999999").json()
    assert first["next_after_seq"] == 4999
    rest = token_client.get(f"/api/jobs/{job.uid}/logs?limit=999999&after_seq=4999").json()
    assert [line["seq"] for line in rest["lines"]] == [5000, 5001]
    assert rest["next_after_seq"] is None


# --- WebSocket messages ---------------------------------------------------------------


async def _socket(user):
    communicator = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/jobs/limited/")
    communicator.scope["user"] = user
    connected, _ = await communicator.connect(timeout=3)
    assert connected
    return communicator


async def _close_code(communicator):
    message = await communicator.receive_output(timeout=3)
    assert message["type"] == "websocket.close"
    return message.get("code")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("in_memory_channel_layer")
async def test_a_websocket_text_message_over_the_limit_closes_the_socket():
    user = await database_sync_to_async(make_user)()
    await database_sync_to_async(make_job)(uid="limited")
    communicator = await _socket(user)
    # Within the limit a ping is answered...
    ping = json.dumps({"type": "ping", "pad": "x" * (settings.TUNEBOARD_WS_MAX_MESSAGE_BYTES - 40)})
    await communicator.send_to(text_data=ping)
    assert await communicator.receive_json_from(timeout=3) == {"type": "pong"}
    # ...one byte over, the socket closes with 4009 (message too big).
    big = json.dumps({"type": "ping", "pad": "x" * settings.TUNEBOARD_WS_MAX_MESSAGE_BYTES})
    await communicator.send_to(text_data=big)
    assert await _close_code(communicator) == CLOSE_TOO_BIG


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("in_memory_channel_layer")
@pytest.mark.parametrize(
    ("frame", "code"),
    [({"bytes_data": b"\x00\x01"}, CLOSE_UNSUPPORTED), ({"text_data": "{not json"}, CLOSE_INVALID)],
    ids=["binary", "not-json"],
)
async def test_a_binary_or_malformed_websocket_message_closes_the_socket_cleanly(frame, code):
    user = await database_sync_to_async(make_user)()
    await database_sync_to_async(make_job)(uid="limited")
    communicator = await _socket(user)
    await communicator.send_to(**frame)
    assert await _close_code(communicator) == code
