import json
import math
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from jobs.models import Job, LogEntry, MetricPoint
from monitoring.models import ResourceSample

pytestmark = pytest.mark.django_db


def fixture_records():
    records = []
    for name in ("current-jobs.json", "past-jobs.json"):
        records += json.loads((Path(settings.BASE_DIR) / "fixtures" / name).read_text())["jobs"]
    return {r["uid"]: r for r in records}


def series_snapshot():
    return list(
        MetricPoint.objects.order_by("job__uid", "key", "step").values_list(
            "job__uid", "key", "step", "value"
        )
    )


@pytest.fixture
def loaded():
    call_command("load_jobs", stdout=StringIO())
    call_command("generate_mock_data", "--seed", "1", stdout=StringIO())


def test_generate_mock_data_with_the_same_seed_gives_identical_series(loaded):
    first = series_snapshot()
    call_command("generate_mock_data", "--seed", "1", stdout=StringIO())
    assert series_snapshot() == first
    assert len(first) > 1000


def test_another_seed_gives_other_series(loaded):
    first = series_snapshot()
    call_command("generate_mock_data", "--seed", "2", stdout=StringIO())
    assert series_snapshot() != first


def test_failed_jobs_have_no_points_after_their_failure_step(loaded):
    for job in Job.objects.filter(status="failed"):
        last = MetricPoint.objects.filter(job=job).order_by("-step").first()
        if job.error_stage in ("dataset_loading", "tokenization"):
            assert last is None, job.uid
        else:
            assert last.step <= job.error_step, job.uid


def test_nan_failure_ends_in_a_nan_loss_point(loaded):
    job = Job.objects.get(uid="falcon-7b-guanaco-nan")
    last = MetricPoint.objects.filter(job=job, key="train/loss").order_by("-step").first()
    assert last.step == job.error_step
    assert math.isnan(last.float_value)
    assert job.latest_metrics["train/loss"]["value"] == "NaN"


def test_completed_jobs_final_metrics_match_their_fixture(loaded):
    records = fixture_records()
    completed = Job.objects.filter(status="completed")
    assert completed.count() >= 3
    for job in completed:
        for key, value in records[job.uid]["final_metrics"].items():
            assert job.latest_metrics[key]["value"] == pytest.approx(value), (job.uid, key)
            assert job.latest_metrics[key]["step"] == job.total_steps


def test_train_loss_falls_over_a_completed_run(loaded):
    job = Job.objects.get(uid="distilbert-sst2")
    values = list(
        MetricPoint.objects.filter(job=job, key="train/loss")
        .order_by("step")
        .values_list("value", flat=True)
    )
    tenth = len(values) // 10
    assert sum(values[:tenth]) / tenth > 2 * sum(values[-tenth:]) / tenth


def test_mock_history_has_logs_and_resource_samples_in_the_job_window(loaded):
    job = Job.objects.get(uid="llama3-8b-alpaca-lora")
    assert LogEntry.objects.filter(job=job).count() > 10
    samples = ResourceSample.objects.filter(job=job)
    assert samples.count() > 50
    assert samples.earliest("time").time >= job.started_at
    training_start = job.stages.get(name="training").started_at
    training = [s.gpus[0]["util"] for s in samples if s.time > training_start]
    assert sum(training) / len(training) > 80


def test_queued_jobs_get_no_history(loaded):
    for job in Job.objects.filter(status="queued"):
        assert not MetricPoint.objects.filter(job=job).exists()
