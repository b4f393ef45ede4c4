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


def test_the_models_need_no_migration_so_an_existing_database_keeps_its_tables():
    from django.core.management import call_command

    # Exits non-zero when a model no longer matches its migrations (a moved model whose
    # table or app label changed, say).
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
    from jobs.models import ApiToken, Job, MetricRollup

    assert Job._meta.db_table == "jobs_job"
    assert ApiToken._meta.db_table == "jobs_apitoken"
    assert MetricRollup._meta.db_table == "jobs_metricrollup"
