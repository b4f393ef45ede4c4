import pytest
from django.db import IntegrityError, transaction

from jobs.models import Job, LogEntry, MetricPoint, Stage
from jobs.services import job_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    return job_create(name="constraint probe", uid="constraint-probe")[0]


def test_the_database_refuses_a_second_point_for_the_same_job_key_and_step(job):
    MetricPoint.objects.create(job=job, key="train/loss", step=10, value=1.0)
    with pytest.raises(IntegrityError), transaction.atomic():
        MetricPoint.objects.create(job=job, key="train/loss", step=10, value=2.0)
    assert MetricPoint.objects.filter(job=job).count() == 1


def test_the_database_refuses_a_second_log_line_with_the_same_seq(job):
    LogEntry.objects.create(job=job, seq=1, message="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        LogEntry.objects.create(job=job, seq=1, message="b")


def test_the_database_refuses_a_duplicate_job_uid(job):
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(uid="constraint-probe", name="again")


def test_the_database_refuses_a_sixth_stage(job):
    with pytest.raises(IntegrityError), transaction.atomic():
        Stage.objects.create(job=job, name="training", order=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Stage.objects.create(job=job, name="training", order=7)
