"""A viewer that stops reading costs the server bounded memory and slows no one else."""

import asyncio
import base64
import json
import os
import socket
import time

import psutil
import pytest
from websockets.asyncio.client import connect

from jobs.live.consumers import push_parts
from tests.reliability.servers import receive_until

WARM_UP = 4
# Through Redis the channel layer's client buffers keep growing for the first dozen
# 1.9 MB pushes (RSS +42 MB over 30 batches after 4 warm-up ones, with no stalled viewer).
WARM_UP_REDIS = 14
BATCHES = 60
LINES_PER_BATCH = 100
LINE_CHARS = 19_000  # each batch pushes about 1.8 MiB to every viewer of the job


def stalled_viewer(server, path):
    """A WebSocket handshake over a raw socket that then never reads (a frozen tab)."""
    sock = socket.socket()
    # A tiny receive window, so the kernel cannot hide the backlog from the server.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {server.url}\r\nCookie: sessionid={server.site.session}\r\n\r\n"
    )
    sock.sendall(handshake.encode())
    reply = b""
    while b"\r\n\r\n" not in reply:
        reply += sock.recv(1)
    assert reply.startswith(b"HTTP/1.1 101"), reply
    return sock


def log_batch(batch):
    return {
        "lines": [
            {"seq": batch * LINES_PER_BATCH + i, "message": f"{batch}:{i} " + "x" * LINE_CHARS}
            for i in range(LINES_PER_BATCH)
        ]
    }


@pytest.mark.processes
async def test_a_stalled_viewer_is_cut_off_without_memory_growth_or_delaying_others(site):
    server = await asyncio.to_thread(site.daphne)
    response = await asyncio.to_thread(
        server.request, "POST", "/api/jobs", {"uid": "watched", "name": "watched"}
    )
    assert response.status == 201
    path = "/ws/jobs/watched/"
    process = psutil.Process(server.process.pid)

    async with connect(
        server.ws_url(path), additional_headers=server.ws_headers(), max_size=2**24
    ) as reader:
        await reader.send('{"type": "ping"}')
        await receive_until(reader, lambda p: p.get("type") == "pong", timeout=10)

        async def post_and_read(batch):
            posted = await asyncio.to_thread(
                server.request, "POST", "/api/jobs/watched/logs", log_batch(batch)
            )
            assert posted.status == 200, posted.raw
            sent = time.perf_counter()
            seqs = []
            while len(seqs) < LINES_PER_BATCH:  # a 1.9 MB push arrives in parts
                pushed = await receive_until(reader, lambda p: p.get("type") == "logs", timeout=10)
                seqs += [line["seq"] for line in pushed["lines"]]
            assert seqs == [batch * LINES_PER_BATCH + i for i in range(LINES_PER_BATCH)]
            return time.perf_counter() - sent

        # Warm up first: the memory a request of this size needs is reused afterwards.
        warm_up = WARM_UP_REDIS if site.env.get("REDIS_URL") else WARM_UP
        for batch in range(warm_up):
            await post_and_read(batch)
        stalled = await asyncio.to_thread(stalled_viewer, server, path)
        baseline = process.memory_info().rss

        delays = []
        for batch in range(warm_up, warm_up + BATCHES):
            delays.append(await post_and_read(batch))
        growth_mb = (process.memory_info().rss - baseline) / 2**20
        stalled.close()

    pushed_mb = BATCHES * LINES_PER_BATCH * LINE_CHARS / 2**20
    print(f"RSS grew {growth_mb:.1f} MB while {pushed_mb:.1f} MB were pushed")
    # Unbounded, the stalled socket's buffer holds every push (~109 MB: RSS grows about
    # as much); bounded, at most TUNEBOARD_WS_MAX_BACKLOG_BYTES (4 MiB) before the server
    # drops it, plus what parsing 1.9 MB requests leaves behind (17-22 MB, up to ~52 MB
    # on a loaded machine). Sixty batches keep the two far apart.
    assert growth_mb < pushed_mb * 0.75, f"RSS grew {growth_mb:.1f} MB, {pushed_mb:.1f} MB pushed"
    assert max(delays) < 2.0, f"the reading viewer waited {max(delays):.2f}s for a push"
    assert "Dropping a WebSocket viewer of job.watched" in server.log_text()


@pytest.mark.parametrize("kind", ["logs", "metrics"])
def test_a_push_too_big_for_one_websocket_message_goes_out_whole_in_parts(kind):
    if kind == "logs":
        payload = {
            "type": "logs",
            "job": "j",
            "lines": [{"seq": i, "message": "m" * 900} for i in range(500)],
        }
    else:
        series = {f"k{k}": [[s, 0.5, None] for s in range(4000)] for k in range(3)}
        payload = {"type": "metrics", "job": "j", "series": series}
    parts = [json.loads(t) for t in push_parts(payload, json.dumps(payload), limit=64 * 1024)]
    assert len(parts) > 1
    assert all(len(json.dumps(p)) <= 64 * 1024 for p in parts)
    assert {p["type"] for p in parts} == {kind}
    if kind == "logs":
        assert [line for p in parts for line in p["lines"]] == payload["lines"]
    else:
        merged = {}
        for part in parts:
            for key, points in part["series"].items():
                merged.setdefault(key, []).extend(points)
        assert merged == payload["series"]
