"""The demo simulator drives jobs through the same services as real reporters."""

import math
import re

import pytest
from django.core.management import CommandError, call_command

from jobs.demo.failures import FAILURES
from jobs.demo.simulator import DemoSimulator
from jobs.models import STAGE_ORDER, JobStatus, LogEntry, MetricPoint, StageStatus
from jobs.services import job_create, logs_ingest, metrics_ingest, stage_move
from monitoring.models import ResourceSample


def demo_job(uid, *, total_steps=300, running=True):
    job, _ = job_create(
        name=uid,
        uid=uid,
        model="meta-llama/Meta-Llama-3-8B",
        dataset="tatsu-lab/alpaca",
        total_steps=total_steps,
        total_epochs=2,
        config={"logging_steps": 10, "eval_steps": 100, "learning_rate": 2e-4},
        host="gpu-node-7",
    )
    if running:
        stage_move(job=job, stage="dataset_loading", status=StageStatus.ACTIVE)
    job.refresh_from_db()
    return job


def run_until(simulator, job, done, *, elapsed=0.25, limit=400):
    """Step the simulator until `done(job)`, recording the active stage after each step."""
    seen = []
    for _ in range(limit):
        simulator.step(elapsed=elapsed)
        job.refresh_from_db()
        active = [s.name for s in job.stages.all() if s.status == StageStatus.ACTIVE]
        if active and (not seen or seen[-1] != active[0]):
            seen.append(active[0])
        if done(job):
            return seen
    raise AssertionError(f"{job.uid} never got there; it is {job.status}")


@pytest.mark.django_db
def test_simulator_moves_a_running_job_through_all_five_stages_to_completed():
    job = demo_job("sim-complete")
    simulator = DemoSimulator(uids=[job.uid], speed=20, seed=1, fail_rate=0)

    seen = run_until(simulator, job, lambda j: j.status != JobStatus.RUNNING)

    assert job.status == JobStatus.COMPLETED
    assert seen == STAGE_ORDER
    assert job.progress == 100.0 and job.current_step == 300
    stages = list(job.stages.all())
    assert all(s.status == StageStatus.COMPLETED for s in stages)
    assert all(s.started_at and s.finished_at for s in stages)
    assert [s.started_at for s in stages] == sorted(s.started_at for s in stages)
    steps = list(
        MetricPoint.objects.filter(job=job, key="train/loss")
        .order_by("step")
        .values_list("step", flat=True)
    )
    assert steps == list(range(10, 301, 10))  # every logging step, none twice
    for key in ("learning_rate", "grad_norm", "val/loss", "val/accuracy", "val/f1"):
        assert MetricPoint.objects.filter(job=job, key=key).exists(), key
    losses = MetricPoint.objects.filter(job=job, key="train/loss").order_by("step")
    assert losses.last().value < losses.first().value  # it learned something
    seqs = list(LogEntry.objects.filter(job=job).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(len(seqs)))
    messages = " ".join(LogEntry.objects.filter(job=job).values_list("message", flat=True))
    assert "***** Running training *****" in messages and "'eval_loss'" in messages
    assert ResourceSample.objects.filter(job=job, host="gpu-node-7").exists()


@pytest.mark.django_db
def test_simulator_continues_a_job_from_its_stored_history():
    job = demo_job("sim-continue", total_steps=1000)
    for stage in ("dataset_loading", "tokenization"):
        stage_move(job=job, stage=stage, status=StageStatus.COMPLETED)
    stage_move(job=job, stage="training", status=StageStatus.ACTIVE)
    metrics_ingest(job=job, points=[{"key": "train/loss", "step": 400, "value": 1.25}])
    logs_ingest(job=job, lines=[{"seq": n, "message": f"line {n}"} for n in range(5)])
    job.refresh_from_db()
    job.current_step = 400
    job.save()

    simulator = DemoSimulator(uids=[job.uid], speed=1, seed=2, fail_rate=0)
    simulator.step(elapsed=10.0)

    new_steps = list(
        MetricPoint.objects.filter(job=job, key="train/loss", step__gt=400).values_list(
            "step", "value"
        )
    )
    assert new_steps and new_steps[0][0] == 410
    assert abs(new_steps[0][1] - 1.25) < 0.3  # the curve carries on from where it was
    seqs = list(LogEntry.objects.filter(job=job).order_by("seq").values_list("seq", flat=True))
    assert seqs[:5] == [0, 1, 2, 3, 4] and seqs[5:] and min(seqs[5:]) == 5
    job.refresh_from_db()
    assert job.current_step > 400 and job.status == JobStatus.RUNNING


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(FAILURES))
def test_a_failing_demo_job_fails_with_a_realistic_error(kind):
    job = demo_job(f"sim-fail-{kind}")
    simulator = DemoSimulator(uids=[job.uid], speed=20, seed=1, fail_rate=1.0, failure_kinds=[kind])

    run_until(simulator, job, lambda j: j.status != JobStatus.RUNNING)

    assert job.status == JobStatus.FAILED
    assert job.error_type == FAILURES[kind]["type"]
    assert job.error_stage == FAILURES[kind]["stage"]
    assert job.stages.get(name=job.error_stage).status == StageStatus.FAILED
    assert job.error_traceback.startswith("Traceback (most recent call last):")
    assert LogEntry.objects.filter(job=job, level="ERROR").exists()
    if kind == "nan":
        losses = list(MetricPoint.objects.filter(job=job, key="train/loss").order_by("step"))
        assert losses[-1].value is None  # NaN is stored as NULL
        assert losses[-1].step == job.error_step
        assert losses[-2].value > 2 * losses[-8].value  # it blew up before turning NaN
        assert math.isinf(
            MetricPoint.objects.get(job=job, key="grad_norm", step=job.error_step).value
        )


@pytest.mark.django_db
def test_a_queued_job_starts_when_a_running_one_finishes():
    first = demo_job("sim-first", total_steps=50)
    second = demo_job("sim-second", total_steps=50, running=False)
    simulator = DemoSimulator(
        uids=[first.uid, second.uid], speed=50, seed=1, fail_rate=0, min_running=1
    )

    run_until(simulator, first, lambda j: j.status == JobStatus.COMPLETED)
    second.refresh_from_db()

    assert second.status == JobStatus.RUNNING
    assert second.stages.get(name="dataset_loading").status == StageStatus.ACTIVE
    assert second.host


@pytest.mark.django_db
def test_jobs_outside_the_demo_set_are_never_touched():
    real = demo_job("real-client-job")
    simulator = DemoSimulator(uids=[], speed=50, seed=1, fail_rate=0)
    simulator.step(elapsed=5)
    real.refresh_from_db()
    assert real.current_step == 0
    assert not MetricPoint.objects.filter(job=real).exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--speed", "0"], "--speed must be greater than 0"),
        (["--fail-rate", "1.5"], "--fail-rate must be between 0 and 1"),
        (["--tick", "0.01"], "--tick must be at least 0.1"),
    ],
)
def test_simulate_jobs_refuses_bad_flags_naming_them(flags, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command("simulate_jobs", *flags)


@pytest.mark.django_db
def test_the_simulator_keeps_only_the_newest_finished_reruns(monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from jobs import services
    from jobs.demo import simulator
    from jobs.models import Job

    monkeypatch.setattr(simulator, "KEEP_RERUNS", 2)
    uids = []
    for n in range(4):
        job = job_create(name=f"old {n}", uid=f"old-rerun-{n}", tags=["simulated"])[0]
        services.job_status_update(job=job, status="running")
        services.job_status_update(
            job=job, status="completed", at=timezone.now() - timedelta(hours=4 - n)
        )
        uids.append(job.uid)
    DemoSimulator(uids=uids, speed=1, seed=1, fail_rate=0)._prune_reruns()
    left = set(Job.objects.filter(uid__startswith="old-rerun").values_list("uid", flat=True))
    assert left == {"old-rerun-2", "old-rerun-3"}
