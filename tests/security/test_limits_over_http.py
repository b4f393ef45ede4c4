"""Limits as a real daphne enforces them: under ASGI Django does not cap the body that
DRF reads, so the API's own parser must; and WebSocket frames go through daphne."""

import http.client
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from jobs.live.consumers import CLOSE_TOO_BIG
from tests.reliability.servers import receive_until

pytestmark = pytest.mark.processes

LIMIT = 64 * 1024  # TUNEBOARD_MAX_BODY_BYTES for these servers: quick to exceed


@pytest.fixture
def server(site):
    server = site.daphne(env={"TUNEBOARD_MAX_BODY_BYTES": str(LIMIT)})
    assert server.request("POST", "/api/jobs", {"uid": "capped", "name": "capped"}).status == 201
    return server


def padded(size):
    head, tail = '{"points": [{"key": "k", "step": 1, "value": 1}], "pad": "', '"}'
    return (head + "x" * (size - len(head) - len(tail)) + tail).encode()


def test_a_body_one_byte_over_the_limit_gets_413_json_and_one_at_the_limit_is_stored(server):
    over = server.request("POST", "/api/jobs/capped/metrics", raw=padded(LIMIT + 1))
    assert over.status == 413
    assert "limit is 65536 bytes" in over.json()["detail"]
    at = server.request("POST", "/api/jobs/capped/metrics", raw=padded(LIMIT))
    assert at.status == 200
    assert at.json() == {"accepted": 1}


def test_a_chunked_body_without_a_length_is_refused_cleanly(server, site):
    # DRF reads no body without a Content-Length: the batch is refused, nothing stored.
    body = padded(4 * LIMIT)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(
        "POST",
        "/api/jobs/capped/metrics",
        body=(body[i : i + 8192] for i in range(0, len(body), 8192)),
        headers={
            "Authorization": f"Bearer {server.site.token}",
            "Content-Type": "application/json",
        },
        encode_chunked=True,
    )
    response = conn.getresponse()
    payload = json.loads(response.read())
    conn.close()
    assert response.status == 400
    assert "points" in payload
    assert site.point_count("capped") == 0


async def test_a_websocket_message_over_the_limit_closes_the_socket_with_4009(server):
    async with connect(
        server.ws_url("/ws/jobs/capped/"), additional_headers=server.ws_headers()
    ) as socket:
        await socket.send('{"type": "ping"}')
        await receive_until(socket, lambda p: p.get("type") == "pong", timeout=10)
        await socket.send(json.dumps({"type": "ping", "pad": "x" * 8192}))
        with pytest.raises(ConnectionClosed):
            await receive_until(socket, lambda p: False, timeout=10)
    assert socket.close_code == CLOSE_TOO_BIG
