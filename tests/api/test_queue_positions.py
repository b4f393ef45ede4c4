"""`queue_position` in the API: 1..n among queued jobs, oldest first, on every page.

A page reads its positions in one query whatever the number of jobs; concurrent creators
and starters on PostgreSQL never leave a duplicated or missing position.
"""

import contextlib
import threading

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from jobs import services
from jobs.models import Job, JobStatus
from tests.factories import jobs_bulk, make_job

pytestmark = pytest.mark.django_db


def cards(response):
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_created_jobs_show_their_place_in_the_queue(token_client):
    for n in range(3):
        response = token_client.post("/api/jobs", {"name": f"run {n}"}, format="json")
        assert response.status_code == 201 and response.json()["queue_position"] == n + 1
    uid = response.json()["uid"]
    assert token_client.get(f"/api/jobs/{uid}").json()["queue_position"] == 3
    assert token_client.get(f"/api/training/status/{uid}").json()["queue_position"] == 3


def test_current_jobs_show_positions_one_to_n_after_starts_and_cancellations(token_client):
    uids = [make_job(uid=f"q{n}").uid for n in range(1, 7)]
    token_client.post(f"/api/jobs/{uids[0]}/status", {"status": "running"}, format="json")
    token_client.post(f"/api/jobs/{uids[3]}/status", {"status": "cancelled"}, format="json")
    queued = [c for c in cards(token_client.get("/api/jobs/current")) if c["status"] == "queued"]
    assert [(c["uid"], c["queue_position"]) for c in queued] == [
        ("q2", 1),
        ("q3", 2),
        ("q5", 3),
        ("q6", 4),
    ]
    started = token_client.get(f"/api/jobs/{uids[0]}").json()
    assert started["status"] == "running" and started["queue_position"] is None


def page_queries(client, path):
    client.get(path)  # warm: the token's last-used stamp, the throttle
    with CaptureQueriesContext(connection) as ctx:
        body = cards(client.get(path))
    return len(ctx.captured_queries), body


def test_a_page_reads_its_positions_with_the_same_queries_however_many_jobs(token_client):
    jobs_bulk(3, status=JobStatus.QUEUED, prefix="few")
    few, _ = page_queries(token_client, "/api/jobs?page_size=50")
    jobs_bulk(120, status=JobStatus.QUEUED, prefix="many")
    many, page = page_queries(token_client, "/api/jobs?page_size=50")
    assert few == many
    expected = {job.uid: n for n, job in enumerate(Job.objects.order_by("queued_at", "id"), 1)}
    assert len(page) == 50 and all(c["queue_position"] == expected[c["uid"]] for c in page)
    assert len({c["queue_position"] for c in page}) == 50


def test_a_middle_page_of_the_queue_shows_true_positions_not_page_ranks(token_client):
    jobs_bulk(30, status=JobStatus.QUEUED)
    make_job(uid="running", status="running")
    second = cards(token_client.get("/api/jobs/current?page_size=10&page=2"))
    # The running job fills the first slot of page 1: page 2 starts at position 10.
    assert [c["queue_position"] for c in second] == list(range(10, 20))


def test_a_filtered_page_keeps_positions_in_the_whole_queue(token_client):
    for n in range(6):
        make_job(uid=f"q{n}", tags=["even"] if n % 2 == 0 else ["odd"])
    odd = cards(token_client.get("/api/jobs/current?tag=odd"))
    assert [(c["uid"], c["queue_position"]) for c in odd] == [("q1", 2), ("q3", 4), ("q5", 6)]


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's concurrency (SQLite serialises)"
)
@pytest.mark.django_db(transaction=True)
def test_concurrent_creators_and_starters_never_duplicate_or_skip_a_position(token_client):
    make_job(uid="seed-a")
    make_job(uid="seed-b")
    barrier = threading.Barrier(8)
    errors = []

    def creator(worker):
        try:
            barrier.wait()
            for n in range(12):
                services.job_create(uid=f"w{worker}-{n}", name=f"worker {worker}")
                if n % 3 == 0:
                    head = Job.objects.filter(status="queued").order_by("queued_at", "id")
                    head = head.first()
                    with contextlib.suppress(services.Conflict):  # another worker won
                        services.job_status_update(job=head, status="running")
        except Exception as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=creator, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    queued = Job.objects.filter(status="queued").count()
    assert Job.objects.count() == 2 + 8 * 12 and queued > 0
    listed = cards(token_client.get("/api/jobs/current?page_size=200"))
    positions = [c["queue_position"] for c in listed if c["status"] == "queued"]
    assert positions == list(range(1, queued + 1))
    singles = [Job.objects.get(uid=c["uid"]).queue_position for c in listed if c["queue_position"]]
    assert singles == positions
