"""Fewer false alarms: healthy simulated runs raise no finding from start to finish, and
the simulator's failures are still recognised."""

import pytest

from jobs.demo.failures import FAILURES
from jobs.demo.simulator import DemoSimulator
from jobs.diagnostics.rules import job_findings
from jobs.models import JobStatus, StageStatus
from jobs.services import job_create, stage_move

pytestmark = pytest.mark.django_db


def demo_job(uid, *, total_steps=400):
    job, _ = job_create(
        name=uid,
        uid=uid,
        model="meta-llama/Meta-Llama-3-8B",
        dataset="tatsu-lab/alpaca",
        total_steps=total_steps,
        total_epochs=2,
        config={
            "logging_steps": 10,
            "eval_steps": 100,
            "learning_rate": 2e-4,
            "per_device_train_batch_size": 8,
            "fp16": True,
        },
        host="gpu-node-7",
    )
    stage_move(job=job, stage="dataset_loading", status=StageStatus.ACTIVE)
    return job


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_healthy_simulated_run_raises_no_finding_over_a_full_training(seed):
    jobs = [demo_job(f"healthy-{seed}-{n}") for n in range(2)]
    simulator = DemoSimulator(uids=[j.uid for j in jobs], speed=20, seed=seed, fail_rate=0)
    raised = []
    for tick in range(600):
        simulator.step(elapsed=0.25)
        if tick % 5:
            continue
        for job in jobs:
            job.refresh_from_db()
            raised += [(job.uid, job.status, f.code) for f in job_findings(job)]
        if all(job.status != JobStatus.RUNNING for job in jobs):
            break
    for job in jobs:
        job.refresh_from_db()
        assert job.status == JobStatus.COMPLETED, "the run went the full length"
        raised += [(job.uid, job.status, f.code) for f in job_findings(job)]
    assert raised == []


@pytest.mark.parametrize("kind", sorted(FAILURES))
def test_the_simulator_failures_get_a_specific_diagnosis(kind):
    job = demo_job(f"sim-fail-{kind}".replace("_", "-"))
    simulator = DemoSimulator(uids=[job.uid], speed=20, seed=4, fail_rate=1, failure_kinds=[kind])
    for _ in range(600):
        simulator.step(elapsed=0.25)
        job.refresh_from_db()
        if job.status != JobStatus.RUNNING:
            break
    assert job.status == JobStatus.FAILED
    first = job_findings(job)[0]
    assert first.severity == "critical" and first.code != "triage", first
