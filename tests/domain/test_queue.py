"""The queue: positions 1..n among queued jobs, oldest first, derived when read.

A write touches its own job only, so creating or starting a job costs the same number of
queries with 3 or 200 jobs queued, and positions stay dense after starts, cancellations
and deletions.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs import selectors, services
from jobs.models import Job, JobStatus
from tests.factories import jobs_bulk, make_job

pytestmark = pytest.mark.django_db


def positions():
    """{uid: queue_position} of every job, as a list reads them (one query for all)."""
    return {job.uid: job.queue_position for job in selectors.job_queryset()}


def queue():
    """Queued uids in queue order, each position read on its own (COUNT per job)."""
    queued = Job.objects.filter(status=JobStatus.QUEUED).order_by("queued_at", "id")
    return [(job.uid, job.queue_position) for job in queued]


def test_created_jobs_are_numbered_one_to_n_in_creation_order():
    for n in range(1, 6):
        make_job(uid=f"q{n}")
    assert queue() == [(f"q{n}", n) for n in range(1, 6)]
    assert positions() == {f"q{n}": n for n in range(1, 6)}


def test_a_new_job_reports_its_place_at_the_end_of_the_queue():
    make_job(uid="first")
    make_job(uid="second")
    job, created = services.job_create(uid="third", name="Third")
    assert created and job.queue_position == 3


def test_starting_cancelling_and_deleting_jobs_closes_the_gaps():
    for n in range(1, 8):
        make_job(uid=f"q{n}")
    services.job_status_update(job=Job.objects.get(uid="q1"), status="running")
    services.stage_move(job=Job.objects.get(uid="q4"), stage="dataset_loading", status="active")
    services.job_status_update(job=Job.objects.get(uid="q6"), status="cancelled")
    services.job_delete(job=Job.objects.get(uid="q3"))
    assert queue() == [("q2", 1), ("q5", 2), ("q7", 3)]
    assert positions() == {"q1": None, "q2": 1, "q4": None, "q5": 2, "q6": None, "q7": 3}


def test_a_started_job_has_no_queue_position():
    job = make_job()
    started = services.job_status_update(job=job, status="running")
    assert started.queue_position is None
    assert Job.objects.get(pk=job.pk).queue_position is None


def test_jobs_created_at_the_same_instant_are_ordered_by_id():
    jobs = jobs_bulk(4, status=JobStatus.QUEUED, queued_at=timezone.now())
    assert [job.uid for job in jobs] == [uid for uid, _ in queue()]
    assert [position for _, position in queue()] == [1, 2, 3, 4]


def test_order_by_queue_position_still_means_queue_order():
    make_job(uid="a")
    make_job(uid="b")
    make_job(uid="c")
    ordered = Job.objects.filter(status="queued").order_by("queue_position")
    assert [(job.uid, job.queue_position) for job in ordered] == [("a", 1), ("b", 2), ("c", 3)]


def queries_of(write):
    with CaptureQueriesContext(connection) as ctx:
        write()
    return len(ctx.captured_queries)


def test_creating_and_starting_a_job_cost_the_same_queries_with_a_long_queue():
    def create_and_start(uid):
        def write():
            job, _ = services.job_create(uid=uid, name=uid)
            services.job_status_update(job=job, status="running")

        return write

    jobs_bulk(3, status=JobStatus.QUEUED, prefix="short")
    short = queries_of(create_and_start("with-3"))
    jobs_bulk(200, status=JobStatus.QUEUED, prefix="long")
    long = queries_of(create_and_start("with-203"))
    assert short == long


def test_a_write_never_rewrites_other_queued_jobs():
    jobs_bulk(50, status=JobStatus.QUEUED)
    with CaptureQueriesContext(connection) as ctx:
        job, _ = services.job_create(uid="new", name="new")
        services.job_status_update(job=Job.objects.get(uid="bulk-0"), status="running")
        services.job_delete(job=Job.objects.get(uid="bulk-1"))
    job_updates = [
        q["sql"] for q in ctx.captured_queries if q["sql"].startswith('UPDATE "jobs_job"')
    ]
    assert job_updates and all('WHERE "jobs_job"."id" = ' in sql for sql in job_updates)
    assert job.queue_position == 51


@pytest.mark.django_db(transaction=True)
def test_migration_keeps_the_order_of_an_existing_queue():
    executor = MigrationExecutor(connection)
    executor.migrate([("jobs", "0003_metric_rollups")])
    old = executor.loader.project_state([("jobs", "0003_metric_rollups")]).apps
    OldJob = old.get_model("jobs", "Job")
    now = timezone.now()
    # Declared positions disagree with creation times; a tie falls back to creation time.
    for uid, status, position, minutes_ago in [
        ("second", "queued", 2, 50),
        ("first", "queued", 1, 10),
        ("third", "queued", 3, 60),
        ("running", "running", None, 70),
        ("fourth", "queued", 3, 5),
    ]:
        OldJob.objects.create(
            uid=uid,
            name=uid,
            status=status,
            queue_position=position,
            created_at=now - timedelta(minutes=minutes_ago),
        )
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("jobs"))
    assert queue() == [("first", 1), ("second", 2), ("third", 3), ("fourth", 4)]
    running = Job.objects.get(uid="running")
    assert running.queue_position is None and running.queued_at == running.created_at
    assert Job.objects.get(uid="first").queued_at == now - timedelta(minutes=10)

    executor = MigrationExecutor(connection)
    executor.migrate([("jobs", "0003_metric_rollups")])
    old = executor.loader.project_state([("jobs", "0003_metric_rollups")]).apps
    restored = old.get_model("jobs", "Job").objects.values_list("uid", "queue_position")
    assert dict(restored) == {"first": 1, "second": 2, "third": 3, "fourth": 4, "running": None}
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes("jobs"))
