"""Nothing reported is lost: concurrent writers, a killed server, Redis outages, two servers.

Each test runs real daphne processes (and Redis where needed) on loopback and talks to
them over HTTP and WebSockets exactly as training scripts and browsers do.
"""

import asyncio
import multiprocessing
import os
import shutil
import time
import urllib.parse

import pytest
from websockets.asyncio.client import connect

from tests.reliability.servers import RedisServer, Site, points, receive_until

pytestmark = pytest.mark.processes

WRITERS = 8
BATCHES_PER_WRITER = 10
POINTS_PER_BATCH = 500


def _create_job(server, uid):
    response = server.request("POST", "/api/jobs", {"uid": uid, "name": uid})
    assert response.status == 201, response.raw
    return uid


def _writer(url, token, uid, writer, results):
    """One training script: posts its batches one after another, records each status."""
    import json
    import urllib.error
    import urllib.request

    statuses = []
    for batch in range(BATCHES_PER_WRITER):
        start = (writer * BATCHES_PER_WRITER + batch) * POINTS_PER_BATCH
        body = json.dumps({"points": points(POINTS_PER_BATCH, start=start)}).encode()
        request = urllib.request.Request(
            f"{url}/api/jobs/{uid}/metrics",
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                statuses.append((response.status, response.read().decode()))
        except urllib.error.HTTPError as error:
            statuses.append((error.code, error.read().decode()))
    results.put((writer, statuses))


def test_eight_writer_processes_store_exactly_every_point_without_lock_errors(site):
    server = site.daphne()
    uid = _create_job(server, "concurrent-writers")
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    writers = [
        context.Process(target=_writer, args=(server.url, site.token, uid, w, results))
        for w in range(WRITERS)
    ]
    for process in writers:
        process.start()
    outcomes = dict(results.get(timeout=60) for _ in writers)
    for process in writers:
        process.join(10)

    failures = [s for statuses in outcomes.values() for s in statuses if s[0] != 200]
    assert failures == []
    assert site.point_count(uid) == WRITERS * BATCHES_PER_WRITER * POINTS_PER_BATCH
    log = server.log_text().lower()
    assert "database is locked" not in log
    assert "traceback" not in log


def test_a_batch_cut_off_by_a_killed_server_is_stored_whole_or_not_at_all(site):
    import http.client
    import json

    server = site.daphne()
    uid = _create_job(server, "killed-mid-batch")
    batch = json.dumps({"points": points(10_000)}).encode()
    # How long a 10 000-point batch takes here, so the kill lands inside the next one.
    _create_job(server, "warm-up")
    started = time.perf_counter()
    assert server.request("POST", "/api/jobs/warm-up/metrics", raw=batch).status == 200
    duration = time.perf_counter() - started

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(
        "POST",
        f"/api/jobs/{uid}/metrics",
        body=batch,
        headers={"Authorization": f"Bearer {site.token}", "Content-Type": "application/json"},
    )
    time.sleep(duration / 2)  # the request is in the server; kill it halfway through
    server.kill()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.getresponse().read()
    conn.close()

    stored = site.point_count(uid)
    assert stored in (0, 10_000), f"a torn batch: {stored} of 10000 points stored"

    # The client retries the same batch on the restarted server: stored exactly once.
    restarted = site.daphne()
    response = restarted.request("POST", f"/api/jobs/{uid}/metrics", raw=batch)
    assert response.status == 200
    assert response.json() == {"accepted": 10_000}
    assert site.point_count(uid) == 10_000


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed (CI installs it; apt-get install redis-server)")
    redis = RedisServer(tmp_path).start()
    yield redis
    redis.stop()


async def test_writes_survive_a_redis_outage_and_live_pushes_resume_after_it(
    tmp_path, site_template, private_redis
):
    site = Site(tmp_path / "site", template=site_template, redis_url=private_redis.url)
    try:
        server = await asyncio.to_thread(site.daphne)
        uid = await asyncio.to_thread(_create_job, server, "through-an-outage")
        metrics = f"/api/jobs/{uid}/metrics"

        private_redis.stop()
        response = await asyncio.to_thread(server.request, "POST", metrics, {"points": points(5)})
        assert response.status == 200, response.raw
        assert await asyncio.to_thread(site.point_count, uid) == 5

        private_redis.start()
        async with connect(
            server.ws_url(f"/ws/jobs/{uid}/"), additional_headers=server.ws_headers()
        ) as socket:
            await socket.send('{"type": "ping"}')
            await receive_until(socket, lambda p: p.get("type") == "pong", timeout=10)
            posted = await asyncio.to_thread(
                server.request, "POST", metrics, {"points": points(3, start=100)}
            )
            assert posted.status == 200
            pushed = await receive_until(socket, lambda p: p.get("type") == "metrics", timeout=10)
        assert [p[0] for p in pushed["series"]["train/loss"]] == [100, 101, 102]
        assert await asyncio.to_thread(site.point_count, uid) == 8
    finally:
        await asyncio.to_thread(site.close)


def _redis_db(url, db):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path=f"/{db}"))


@pytest.mark.services
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (second CI run)")
async def test_a_point_posted_to_one_server_reaches_a_viewer_of_another(tmp_path, site_template):
    redis_url = _redis_db(os.environ["REDIS_URL"], 3)
    postgres_url = os.environ.get("DATABASE_URL")
    site = await asyncio.to_thread(
        Site,
        tmp_path / "site",
        postgres_url=postgres_url,
        redis_url=redis_url,
        template=None if postgres_url else site_template,
    )
    try:
        server_a = await asyncio.to_thread(site.daphne)
        server_b = await asyncio.to_thread(site.daphne)
        uid = await asyncio.to_thread(_create_job, server_a, "across-servers")
        async with connect(
            server_b.ws_url(f"/ws/jobs/{uid}/"), additional_headers=server_b.ws_headers()
        ) as socket:
            await socket.send('{"type": "ping"}')
            await receive_until(socket, lambda p: p.get("type") == "pong", timeout=10)
            response = await asyncio.to_thread(
                server_a.request, "POST", f"/api/jobs/{uid}/metrics", {"points": points(1, start=7)}
            )
            assert response.status == 200
            pushed = await receive_until(socket, lambda p: p.get("type") == "metrics", timeout=10)
        assert pushed["series"]["train/loss"][0][0] == 7
    finally:
        await asyncio.to_thread(site.close)
