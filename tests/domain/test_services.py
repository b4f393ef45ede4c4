import math

import pytest
from channels.layers import get_channel_layer

from jobs import services
from jobs.events import job_group
from jobs.models import Job, LogEntry, MetricPoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    return services.job_create(name="svc job", uid="svc-job", total_steps=100)[0]


def points(n, key="train/loss", start=0, value=1.0):
    return [{"key": key, "step": start + i, "value": value + i} for i in range(n)]


def test_job_create_with_a_known_uid_returns_the_existing_job(job):
    again, created = services.job_create(name="other name", uid="svc-job")
    assert not created and again.pk == job.pk and again.name == "svc job"


def test_job_create_names_every_bad_field():
    with pytest.raises(services.InvalidInput) as raised:
        services.job_create(name="", uid="bad uid!", tags="lora", total_steps=-1)
    assert set(raised.value.detail) == {"name", "uid", "tags", "total_steps"}
    assert Job.objects.count() == 0


def test_metrics_ingest_replaces_a_repeated_key_and_step(job):
    assert services.metrics_ingest(job=job, points=points(5)) == 5
    services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": 2, "value": 9.5}])
    assert MetricPoint.objects.filter(job=job).count() == 5
    assert MetricPoint.objects.get(job=job, step=2).value == 9.5


def test_metrics_ingest_with_one_bad_point_stores_nothing_and_names_it(job):
    batch = points(10)
    batch[7]["step"] = -3
    batch[8].pop("value")
    with pytest.raises(services.InvalidInput) as raised:
        services.metrics_ingest(job=job, points=batch)
    assert raised.value.detail == {
        "points": {
            "7": {"step": ["Ensure this value is greater than or equal to 0."]},
            "8": {"value": ["This field is required."]},
        }
    }
    assert not MetricPoint.objects.exists()


@pytest.mark.parametrize("raw", ["nan", "NaN", float("nan")])
def test_metrics_ingest_keeps_nan_as_a_real_event(job, raw):
    services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": 1, "value": raw}])
    assert math.isnan(MetricPoint.objects.get(job=job).float_value)
    job.refresh_from_db()
    assert job.latest_metrics["train/loss"]["value"] == "NaN"


def test_metrics_ingest_keeps_infinities(job):
    services.metrics_ingest(
        job=job,
        points=[
            {"key": "grad_norm", "step": 1, "value": "inf"},
            {"key": "grad_norm", "step": 2, "value": "-Infinity"},
        ],
    )
    values = list(MetricPoint.objects.order_by("step").values_list("value", flat=True))
    assert values == [math.inf, -math.inf]


def test_metrics_ingest_refuses_an_oversize_batch(job, settings):
    settings.TUNEBOARD_MAX_POINTS_PER_BATCH = 10
    with pytest.raises(services.InvalidInput) as raised:
        services.metrics_ingest(job=job, points=points(11))
    assert "At most 10 points" in raised.value.detail["points"][0]


def test_metrics_ingest_keeps_latest_values_and_a_bounded_sparkline(job):
    for start in range(0, 1000, 100):
        services.metrics_ingest(job=job, points=points(100, start=start))
    job.refresh_from_db()
    assert job.latest_metrics["train/loss"]["step"] == 999
    assert 32 <= len(job.loss_sparkline) <= services.SPARKLINE_POINTS
    assert job.loss_sparkline[-1][0] == 999


def test_logs_ingest_ignores_known_seqs(job):
    lines = [{"seq": i, "message": f"line {i}"} for i in range(5)]
    assert services.logs_ingest(job=job, lines=lines) == 5
    assert services.logs_ingest(job=job, lines=[*lines, {"seq": 5, "message": "new"}]) == 1
    assert LogEntry.objects.filter(job=job).count() == 6


def test_logs_ingest_normalises_levels_and_strips_nul(job):
    services.logs_ingest(job=job, lines=[{"seq": 0, "message": "a\x00b", "level": "warn"}])
    entry = LogEntry.objects.get(job=job)
    assert entry.level == "WARNING" and entry.message == "a\ufffdb"


def test_an_active_stage_starts_a_queued_job(job):
    services.stage_move(job=job, stage="dataset_loading", status="active")
    job.refresh_from_db()
    assert job.status == "running" and job.started_at and job.queue_position is None


def test_a_failed_stage_fails_the_job(job):
    services.stage_move(job=job, stage="tokenization", status="failed", message="KeyError: 'text'")
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error_stage == "tokenization"
    assert job.error_message == "KeyError: 'text'"


def test_a_completed_stage_cannot_go_back_to_pending(job):
    services.stage_move(job=job, stage="dataset_loading", status="completed")
    with pytest.raises(services.Conflict, match="completed and cannot move to pending"):
        services.stage_move(job=job, stage="dataset_loading", status="pending")


def test_completing_every_stage_completes_the_job(job):
    for stage in ("dataset_loading", "tokenization", "training", "validation", "save_model"):
        services.stage_move(job=job, stage=stage, status="active")
        services.stage_move(job=job, stage=stage, status="completed")
    job.refresh_from_db()
    assert job.status == "completed" and job.progress == 100


def test_a_finished_job_refuses_to_run_again(job):
    services.job_status_update(job=job, status="running")
    services.job_status_update(job=job, status="completed")
    services.job_status_update(job=job, status="completed")  # a retry is harmless
    with pytest.raises(services.Conflict):
        services.job_status_update(job=job, status="running")


def test_failing_a_job_records_the_error_on_the_active_stage(job):
    services.stage_move(job=job, stage="training", status="active")
    services.job_status_update(job=job, step=40)
    services.job_status_update(
        job=job,
        status="failed",
        error={"type": "torch.OutOfMemoryError", "message": "CUDA out of memory", "traceback": "T"},
    )
    job.refresh_from_db()
    assert (job.error_stage, job.error_step, job.error_type) == (
        "training",
        40,
        "torch.OutOfMemoryError",
    )
    assert job.stages.get(name="training").status == "failed"


def test_status_update_derives_progress_from_step(job):
    services.job_status_update(job=job, status="running", step=25)
    job.refresh_from_db()
    assert job.progress == 25.0 and job.last_heartbeat


def test_a_write_is_pushed_to_the_job_group_after_commit(job, django_capture_on_commit_callbacks):
    layer = get_channel_layer()
    from asgiref.sync import async_to_sync

    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(job_group(job.uid), channel)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.metrics_ingest(job=job, points=points(3))
    assert callbacks, "nothing is sent before the transaction commits"
    for callback in callbacks:
        callback()
    message = async_to_sync(layer.receive)(channel)
    payload = message["payload"]
    assert payload["type"] == "metrics"
    assert payload["series"]["train/loss"] == [[0, 1.0, None], [1, 2.0, None], [2, 3.0, None]]
    async_to_sync(layer.group_discard)(job_group(job.uid), channel)


def test_a_channel_layer_outage_does_not_fail_the_write(
    job, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    import jobs.core.push

    monkeypatch.setattr(jobs.core.push, "_layer_failing", False)
    layer = get_channel_layer()
    sent = []

    async def broken_group_send(group, message):
        sent.append(group)
        raise ConnectionError("redis is down")

    monkeypatch.setattr(layer, "group_send", broken_group_send)
    with caplog.at_level("ERROR"), django_capture_on_commit_callbacks(execute=True):
        services.metrics_ingest(job=job, points=points(2))
        services.metrics_ingest(job=job, points=points(2, start=2))
    assert sent, "the push was attempted"
    assert MetricPoint.objects.filter(job=job).count() == 4
    outage_logs = [r for r in caplog.records if "Live update" in r.getMessage()]
    assert len(outage_logs) == 1, "the outage is logged once, not once per write"
