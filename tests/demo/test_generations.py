"""Demo samples and checkpoints: generated history and the simulator log outputs on
fixed prompts that improve as training goes on, and checkpoints with their metrics."""

from io import StringIO

import pytest
from django.core.management import call_command

from jobs.demo.simulator import DemoSimulator
from jobs.models import Checkpoint, Job, MetricPoint, Sample, StageStatus
from jobs.selectors import checkpoint_list
from jobs.services import job_create, stage_move
from jobs.web.presenters import deployed_checkpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def loaded():
    call_command("load_jobs", stdout=StringIO())
    call_command("generate_mock_data", "--seed", "1", stdout=StringIO())


def test_a_completed_demo_jobs_outputs_get_closer_to_the_reference(loaded):
    job = Job.objects.get(uid="t5-base-cnn-summarize")
    samples = Sample.objects.filter(job=job)
    prompts = set(samples.values_list("prompt", flat=True))
    assert len(prompts) == 3
    for prompt in prompts:
        scores = list(
            samples.filter(prompt=prompt).order_by("step").values_list("score", flat=True)
        )
        assert len(scores) > 10
        assert scores[-1] > scores[0] + 0.3
        assert scores == sorted(scores) or max(scores[:3]) < min(scores[-3:])
    first, last = samples.order_by("step")[0], samples.order_by("-step")[0]
    assert first.output != last.output and last.reference


def test_demo_checkpoints_carry_metrics_and_the_deployment_names_its_own(loaded):
    job = Job.objects.get(uid="t5-base-cnn-summarize")
    checkpoints = checkpoint_list(job=job)
    assert len(checkpoints) > 5
    assert all("val/loss" in c["metrics"] and c["size"] > 0 for c in checkpoints)
    deployed = deployed_checkpoint(job.deployment, checkpoints)
    assert deployed["step"] == job.total_steps
    assert deployed["path"] == job.deployment["artifact_path"]


def test_encoder_only_classifiers_log_no_generations_but_checkpoints(loaded):
    job = Job.objects.get(uid="distilbert-sst2")
    assert not Sample.objects.filter(job=job).exists()
    assert Checkpoint.objects.filter(job=job).exists()


def test_the_simulator_logs_samples_and_checkpoints_at_evaluations():
    job, _ = job_create(
        name="sim-samples",
        uid="sim-samples",
        model="meta-llama/Meta-Llama-3-8B",
        dataset="tatsu-lab/alpaca",
        total_steps=300,
        config={"logging_steps": 10, "eval_steps": 100},
    )
    stage_move(job=job, stage="dataset_loading", status=StageStatus.ACTIVE)
    simulator = DemoSimulator(uids=[job.uid], speed=20, seed=1, fail_rate=0)
    for _ in range(400):
        simulator.step(elapsed=0.25)
        job.refresh_from_db()
        if job.status != "running":
            break
    assert job.status == "completed"
    evaluations = sorted(
        MetricPoint.objects.filter(job=job, key="val/loss").values_list("step", flat=True)
    )
    steps = sorted(set(Sample.objects.filter(job=job).values_list("step", flat=True)))
    assert len(evaluations) >= 2 and steps == evaluations  # five prompts at each
    assert Sample.objects.filter(job=job, step=300).count() == 5
    checkpoints = list(Checkpoint.objects.filter(job=job).values_list("step", flat=True))
    assert checkpoints[-1] == 300 and set(checkpoints) <= set(evaluations)
