"""Eight training scripts writing one key of one job at once, through real daphne servers.

On PostgreSQL (DATABASE_URL set: CI's second pass) the servers' transactions overlap for
real; that is where the rollups once lost each other's counts. Afterwards every stored
rollup must equal a recount of its points (tests/domain/invariants.py), with one server
and with two servers taking the batches in turn.
"""

import json
import os
import threading
import urllib.error
import urllib.request

import pytest

from tests.reliability.servers import Site

pytestmark = pytest.mark.processes

WRITERS = 8
BATCHES_PER_WRITER = 20
POINTS_PER_BATCH = 500
TOTAL = WRITERS * BATCHES_PER_WRITER * POINTS_PER_BATCH  # 80,000


@pytest.fixture(scope="module")
def site(tmp_path_factory, site_template):
    """One site for the module (PostgreSQL when DATABASE_URL is set), two servers on it."""
    url = os.environ.get("DATABASE_URL")
    data_dir = tmp_path_factory.mktemp("rollups") / "site"
    site = Site(data_dir, postgres_url=url, template=None if url else site_template)
    site.daphne()
    site.daphne()
    yield site
    site.close()


def batch_body(writer, batch):
    """Writer `writer`'s steps are writer, writer + 8, …: every rollup bucket is written
    by all eight at the same time. Values rise and fall so extremes move."""
    points = []
    for i in range(POINTS_PER_BATCH):
        step = (batch * POINTS_PER_BATCH + i) * WRITERS + writer
        points.append({"key": "train/loss", "step": step, "value": (step * 7919 % 1000) / 10})
    return json.dumps({"points": points}).encode()


def post(url, token, uid, body):
    request = urllib.request.Request(
        f"{url}/api/jobs/{uid}/metrics",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def write_concurrently(site, servers, uid):
    """Eight writer threads, batch n of writer w going to server (w + n) % len(servers);
    returns the statuses that were not 200."""
    bodies = {(w, b): batch_body(w, b) for w in range(WRITERS) for b in range(BATCHES_PER_WRITER)}
    barrier = threading.Barrier(WRITERS)
    failures = []

    def writer(number):
        barrier.wait(30)
        for batch in range(BATCHES_PER_WRITER):
            server = servers[(number + batch) % len(servers)]
            status = post(server.url, site.token, uid, bodies[number, batch])
            if status != 200:
                failures.append(status)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return failures


def stored_state(site, uid):
    """(points stored, rollups that disagree with a recount of their points)."""
    out = site.shell(
        "from jobs.models import Job, MetricPoint;"
        "from tests.domain.invariants import rollups_disagreeing;"
        f"job = Job.objects.get(uid={uid!r});"
        "print(MetricPoint.objects.filter(job=job).count(), len(rollups_disagreeing(job.pk)))"
    )
    points, wrong = out.split()[-2:]
    return int(points), int(wrong)


@pytest.mark.parametrize("server_count", [1, 2], ids=["one-server", "two-servers"])
def test_eight_concurrent_writers_leave_no_rollup_disagreeing_with_its_points(site, server_count):
    servers = site.servers[:server_count]
    uid = f"rollups-{server_count}"
    created = servers[0].request("POST", "/api/jobs", {"uid": uid, "name": uid})
    assert created.status == 201, created.raw

    assert write_concurrently(site, servers, uid) == []

    assert stored_state(site, uid) == (TOTAL, 0)
    for server in servers:
        assert "traceback" not in server.log_text().lower()
