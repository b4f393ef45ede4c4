"""Nothing reported is lost: concurrent writers, a killed server, Redis outages, two servers.

Each test runs real daphne processes (and Redis where needed) on loopback and talks to
them over HTTP and WebSockets exactly as training scripts and browsers do. On the
embedded defaults a site is SQLite with the in-memory channel layer; in the second pass
of `.ci/run` it is a private PostgreSQL database, and the servers share Redis.
"""

import asyncio
import contextlib
import json
import multiprocessing
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from tests.reliability.servers import (
    RedisServer,
    Site,
    points,
    receive_until,
    redis_server,
    redis_server_binary,
)

pytestmark = pytest.mark.processes

WRITERS = 8
BATCHES_PER_WRITER = 10
POINTS_PER_BATCH = 500


def _create_job(server, uid):
    response = server.request("POST", "/api/jobs", {"uid": uid, "name": uid})
    assert response.status == 201, response.raw
    return uid


def _interleaved_batch(writer, batch):
    """Writer `writer`'s batch `batch`: steps w, w+8, w+16, … so that every writer
    writes into every rollup bucket at the same time."""
    first = batch * POINTS_PER_BATCH
    return [
        {"key": "train/loss", "step": step, "value": 1.0 / (step + 1)}
        for step in ((first + i) * WRITERS + writer for i in range(POINTS_PER_BATCH))
    ]


def _writer(url, token, uid, writer, results):
    """One training script: posts its batches one after another, records each status."""
    import urllib.error
    import urllib.request

    statuses = []
    for batch in range(BATCHES_PER_WRITER):
        body = json.dumps({"points": _interleaved_batch(writer, batch)}).encode()
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


def assert_rollups_recount(site, uid):
    """Every rollup of `uid` equals a brute-force recount of its points."""
    assert site.rollup_mismatches(uid) == []


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
    outcomes = dict(results.get(timeout=120) for _ in writers)
    for process in writers:
        process.join(10)

    failures = [s for statuses in outcomes.values() for s in statuses if s[0] != 200]
    assert failures == []
    assert site.point_count(uid) == WRITERS * BATCHES_PER_WRITER * POINTS_PER_BATCH
    log = server.log_text().lower()
    assert "database is locked" not in log
    assert "deadlock" not in log
    assert "traceback" not in log
    assert_rollups_recount(site, uid)


def test_a_batch_cut_off_by_a_killed_server_is_stored_whole_or_not_at_all(site):
    """The server is killed while the batch is inside its transaction: every point,
    rollup and latest value written, nothing committed (the test-only hook
    TUNEBOARD_TEST_HOLD_INGEST parks it there and says so). Nothing may be stored."""
    import http.client

    held = site.data_dir / "batch-in-transaction"
    server = site.daphne(env={"TUNEBOARD_TEST_HOLD_INGEST": str(held)})
    uid = _create_job(server, "killed-mid-batch")
    batch = json.dumps({"points": points(10_000)}).encode()

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(
        "POST",
        f"/api/jobs/{uid}/metrics",
        body=batch,
        headers={"Authorization": f"Bearer {site.token}", "Content-Type": "application/json"},
    )
    deadline = time.monotonic() + 60
    while not held.exists():  # the hook writes it once the batch is written, uncommitted
        assert time.monotonic() < deadline, "the batch never reached its transaction"
        assert server.running, server.log_text()[-2000:]
        time.sleep(0.02)
    server.kill()
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        conn.getresponse().read()
    conn.close()

    assert site.point_count(uid) == 0, "a batch killed before its commit left points"
    assert site.rollup_count(uid) == 0, "a batch killed before its commit left rollups"

    # The client retries the same batch on the restarted server: stored exactly once.
    held.unlink()
    restarted = site.daphne()
    response = restarted.request("POST", f"/api/jobs/{uid}/metrics", raw=batch)
    assert response.status == 200
    assert response.json() == {"accepted": 10_000}
    assert site.point_count(uid) == 10_000
    assert not held.exists()
    assert_rollups_recount(site, uid)


@pytest.fixture
def shared_redis(tmp_path):
    """The Redis two servers share: REDIS_URL in the second pass, else a private one."""
    url = redis_server(db=3)
    if url:
        yield url
        return
    redis_server_binary()
    redis = RedisServer(tmp_path).start()
    yield redis.url
    redis.stop()


async def _subscribed(server, uid):
    socket = await connect(
        server.ws_url(f"/ws/jobs/{uid}/"), additional_headers=server.ws_headers()
    )
    await socket.send('{"type": "ping"}')
    await receive_until(socket, lambda p: p.get("type") == "pong", timeout=10)
    return socket


async def test_a_point_posted_to_one_server_reaches_a_viewer_of_another(
    tmp_path, site_template, shared_redis
):
    site = await asyncio.to_thread(
        Site, tmp_path / "site", template=site_template, redis_url=shared_redis
    )
    try:
        server_a = await asyncio.to_thread(site.daphne)
        server_b = await asyncio.to_thread(site.daphne)
        uid = await asyncio.to_thread(_create_job, server_a, "across-servers")
        socket = await _subscribed(server_b, uid)
        async with socket:
            response = await asyncio.to_thread(
                server_a.request, "POST", f"/api/jobs/{uid}/metrics", {"points": points(1, start=7)}
            )
            assert response.status == 200
            pushed = await receive_until(socket, lambda p: p.get("type") == "metrics", timeout=10)
        assert pushed["series"]["train/loss"][0][0] == 7
    finally:
        await asyncio.to_thread(site.close)


class Reader:
    """What a job page does with its live feed: applies every pushed point, and when
    its socket drops, reconnects and reads from the API, per key, every point after the
    last step it has (catch-up). `points` is {key: {step: value}}."""

    def __init__(self, server, uid, keys):
        self.server, self.uid, self.keys = server, uid, keys
        self.points = {key: {} for key in keys}
        self.pushed = []  # (monotonic time, steps) of each push applied
        self.connects = 0
        self.subscribed = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    def _apply(self, series):
        for key, rows in series.items():
            for row in rows.get("points", rows) if isinstance(rows, dict) else rows:
                self.points.setdefault(key, {})[row[0]] = row[1]

    async def _catch_up(self):
        for key in self.keys:
            since = max(self.points[key], default=None)
            query = f"?keys={key}&max_points=10000" + (
                f"&since_step={since}" if since is not None else ""
            )
            response = await asyncio.to_thread(
                self.server.request, "GET", f"/api/jobs/{self.uid}/metrics{query}"
            )
            assert response.status == 200, response.raw
            series = response.json()["series"]
            assert not series.get(key, {}).get("downsampled"), "catch-up read was downsampled"
            self._apply({key: series[key]["points"]} if key in series else {})

    async def _run(self):
        while True:
            try:
                socket = await _subscribed(self.server, self.uid)
            except (OSError, WebSocketException, TimeoutError):
                await asyncio.sleep(0.2)  # the page's reconnect back-off
                continue
            self.connects += 1
            try:
                await self._catch_up()
                self.subscribed.set()
                async for message in socket:
                    payload = json.loads(message)
                    if payload.get("type") == "metrics":
                        self._apply(payload["series"])
                        steps = [row[0] for rows in payload["series"].values() for row in rows]
                        self.pushed.append((time.monotonic(), steps))
            except ConnectionClosed:
                pass
            finally:
                self.subscribed.clear()
                await socket.close()

    async def close(self):
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task  # a reader that failed must not keep its servers running


async def test_writes_and_live_pushes_ride_out_a_redis_restart_on_two_servers(
    tmp_path, site_template, private_redis
):
    """Viewers on both servers while Redis stops and comes back: every write succeeds,
    pushes resume on both servers, and each viewer ends with exactly the stored points."""
    keys = ["train/loss", "val/acc"]
    site = await asyncio.to_thread(
        Site, tmp_path / "site", template=site_template, redis_url=private_redis.url
    )
    readers = []
    try:
        servers = [await asyncio.to_thread(site.daphne) for _ in range(2)]
        uid = await asyncio.to_thread(_create_job, servers[0], "through-an-outage")
        readers = [Reader(server, uid, keys) for server in servers]
        for reader in readers:
            await asyncio.wait_for(reader.subscribed.wait(), 15)

        step = 0

        async def post_batches(count):
            nonlocal step
            for index in range(count):
                batch = [
                    {"key": key, "step": step + i, "value": step + i + k / 10}
                    for k, key in enumerate(keys)
                    for i in range(0, 20, k + 1)  # val/acc every other step
                ]
                server = servers[index % 2]
                response = await asyncio.to_thread(
                    server.request, "POST", f"/api/jobs/{uid}/metrics", {"points": batch}
                )
                assert response.status == 200, (server.url, response.raw)
                step += 20

        await post_batches(4)  # Redis up
        private_redis.stop()
        await post_batches(6)  # Redis down: writes stand, pushes are lost
        await asyncio.sleep(1.0)  # an outage the servers must ride out (a duration)
        private_redis.start()
        restarted = time.monotonic()
        # The first pushes after the restart may find no subscriber yet: the viewers'
        # sockets come back on their own; keep writing as training does.
        deadline = time.monotonic() + 30
        while not all(any(t > restarted for t, _ in r.pushed) for r in readers):
            assert time.monotonic() < deadline, [
                (r.server.url, r.connects, len(r.pushed)) for r in readers
            ]
            await post_batches(2)
            await asyncio.sleep(0.3)
        last_step = step

        stored = {}
        for key in keys:
            response = await asyncio.to_thread(
                servers[0].request, "GET", f"/api/jobs/{uid}/metrics?keys={key}&max_points=10000"
            )
            series = response.json()["series"][key]
            assert not series["downsampled"]
            stored[key] = {row[0]: row[1] for row in series["points"]}
        assert max(stored["train/loss"]) == last_step - 1
        assert len(stored["train/loss"]) == last_step
        assert len(stored["val/acc"]) == last_step // 2

        # Each viewer ends with exactly what is stored, in time (pushes or catch-up).
        deadline = time.monotonic() + 15
        while any(r.points != stored for r in readers):
            if time.monotonic() > deadline:
                for r in readers:
                    for key in keys:
                        missing = sorted(set(stored[key]) - set(r.points[key]))
                        extra = sorted(set(r.points[key]) - set(stored[key]))
                        assert (missing, extra) == ([], []), (r.server.url, key)
                        assert r.points[key] == stored[key], (r.server.url, key)
            await asyncio.sleep(0.1)
        for server in servers:  # the outage was felt, and said so once per server
            said = [
                line
                for line in server.log_text().splitlines()
                if "without push" in line or "flowing again" in line
            ]
            assert [("without push" in line) for line in said] == [True, False], said
    finally:
        try:
            for reader in readers:
                await reader.close()
        finally:
            await asyncio.to_thread(site.close)
