"""`manage.py import_runs` on real sources: event files written by torch's SummaryWriter,
a `mlruns/` store written by the mlflow client, CSV and JSONL as W&B exports them."""

import csv
import io
import json
import math
import resource
import time

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from jobs.models import Job, LogEntry, MetricPoint, MetricRollup
from jobs.selectors import metric_export_rows

pytestmark = pytest.mark.django_db

BIG_RUN_POINTS = 200_000


def run_import(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_runs", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def summary_writer():
    """torch's SummaryWriter (torch comes with the ML extras, requirements-ml.txt)."""
    return pytest.importorskip("torch.utils.tensorboard").SummaryWriter


def counts():
    return (
        Job.objects.count(),
        MetricPoint.objects.count(),
        MetricRollup.objects.count(),
        LogEntry.objects.count(),
    )


@pytest.fixture(scope="session")
def big_tensorboard_run(tmp_path_factory):
    """One run of 200,000 train/loss scalars, written by torch's SummaryWriter."""
    SummaryWriter = summary_writer()

    root = tmp_path_factory.mktemp("tb-big")
    writer = SummaryWriter(str(root / "llama-sft"))
    for step in range(BIG_RUN_POINTS):
        writer.add_scalar("train/loss", 3.0 / (1 + step / 1000), step, walltime=1.7e9 + step)
    writer.close()
    return root


def test_a_200k_point_tensorboard_run_imports_exactly_and_quickly(big_tensorboard_run):
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    wall_before = time.monotonic()
    out, _ = run_import("tensorboard", str(big_tensorboard_run))
    wall = time.monotonic() - wall_before
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    print(f"200,000-point TensorBoard import: {wall:.1f}s wall, {cpu:.1f}s CPU")
    # CPU time, not wall time: the shared test machine's load stretches the wall clock.
    assert cpu < 10, f"import took {cpu:.1f}s of CPU"
    assert "1 created" in out

    job = Job.objects.get()
    assert job.name == "llama-sft" and job.source == "import:tensorboard"
    assert job.status == "completed" and job.current_step == BIG_RUN_POINTS - 1
    rows = list(metric_export_rows(job))
    assert len(rows) == BIG_RUN_POINTS
    for step, (key, stored_step, _epoch, value, wall_time) in enumerate(rows):
        assert key == "train/loss" and stored_step == step
        # SummaryWriter stores scalars as 32-bit floats: that is the value written.
        assert value == float(np.float32(3.0 / (1 + step / 1000)))
        assert wall_time.timestamp() == 1.7e9 + step

    before = counts()
    out, _ = run_import("tensorboard", str(big_tensorboard_run))
    assert counts() == before
    assert "0 created, 1 unchanged" in out


def test_hparams_text_and_every_run_directory_come_in(tmp_path):
    SummaryWriter = summary_writer()

    for name, lr in (("sweep/lr-1e-4", 1e-4), ("sweep/lr-3e-4", 3e-4)):
        writer = SummaryWriter(str(tmp_path / name))
        for step in range(10):
            writer.add_scalar("train/loss", 1.0 / (step + 1), step)
            writer.add_scalar("val/accuracy", step / 10, step)
        writer.add_text("notes", f"lr {lr}: converged", 9)
        writer.add_hparams(
            {"lr": lr, "model_name_or_path": "Qwen/Qwen2.5-0.5B", "lora": True},
            {"hparam/accuracy": 0.9},
        )
        writer.close()

    out, _ = run_import("tensorboard", str(tmp_path), "--dataset", "alpaca", "--tag", "tb")
    assert "2 created" in out
    job = Job.objects.get(name="sweep/lr-3e-4")
    assert job.config == {
        "lr": pytest.approx(3e-4),
        "model_name_or_path": "Qwen/Qwen2.5-0.5B",
        "lora": True,
    }
    assert job.base_model == "Qwen/Qwen2.5-0.5B" and job.dataset == "alpaca"
    assert job.tags == ["tb"]
    keys = set(MetricPoint.objects.filter(job=job).values_list("key", flat=True))
    assert keys == {"train/loss", "val/accuracy", "hparam/accuracy"}
    assert MetricPoint.objects.filter(job=job, key="train/loss").count() == 10
    assert list(LogEntry.objects.filter(job=job).values_list("message", flat=True)) == [
        "[notes/text_summary] lr 0.0003: converged"
    ]


def test_a_corrupt_event_file_is_reported_and_skipped_and_the_others_imported(tmp_path):
    SummaryWriter = summary_writer()

    for name in ("good", "broken"):
        writer = SummaryWriter(str(tmp_path / name))
        for step in range(50):
            writer.add_scalar("loss", float(step), step)
        writer.close()
    event_file = next((tmp_path / "broken").glob("*tfevents*"))
    data = bytearray(event_file.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle of a record
    event_file.write_bytes(bytes(data))

    out, err = run_import("tensorboard", str(tmp_path))
    assert "1 created, 0 unchanged, 1 skipped" in out
    assert "broken" in err and "CRC" in err
    assert list(Job.objects.values_list("name", flat=True)) == ["good"]
    assert MetricPoint.objects.count() == 50


def test_dry_run_reads_everything_and_writes_nothing(tmp_path):
    SummaryWriter = summary_writer()

    writer = SummaryWriter(str(tmp_path / "run"))
    for step in range(5):
        writer.add_scalar("loss", 1.0, step)
    writer.close()
    out, _ = run_import("tensorboard", str(tmp_path), "--dry-run")
    assert "would create" in out and "(5 points" in out
    assert counts() == (0, 0, 0, 0)


def test_an_mlflow_store_imports_with_its_params_tags_history_and_status(tmp_path, monkeypatch):
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    store = tmp_path / "mlruns"
    client = MlflowClient(tracking_uri=store.as_uri())
    experiment = client.create_experiment("llama-sft")
    other = client.create_experiment("ignored")
    run = client.create_run(experiment, run_name="lr-sweep-1", tags={"team": "nlp"})
    run_id = run.info.run_id
    client.log_param(run_id, "learning_rate", "5e-05")
    client.log_param(run_id, "model_name_or_path", "gpt2")
    history = [Metric("train/loss", 2.0 / (s + 1), 1_700_000_000_000 + s, s) for s in range(300)]
    client.log_batch(run_id, metrics=history)
    client.set_terminated(run_id, "FAILED", end_time=1_700_000_999_000)
    client.create_run(other, run_name="not this one")

    out, _ = run_import("mlflow", "--tracking-uri", str(store), "--experiment", "llama-sft")
    assert "1 created" in out
    job = Job.objects.get(uid=run_id)
    assert job.name == "lr-sweep-1" and job.status == "failed"
    assert job.config == {"learning_rate": "5e-05", "model_name_or_path": "gpt2"}
    assert job.base_model == "gpt2" and job.tags == ["team:nlp"]
    assert job.source == "import:mlflow"
    assert job.finished_at.timestamp() == 1_700_000_999
    stored = list(metric_export_rows(job))
    assert [(row[1], row[3]) for row in stored] == [(m.step, m.value) for m in history]
    assert [round(row[4].timestamp() * 1000) for row in stored] == [m.timestamp for m in history]

    before = counts()
    out, _ = run_import("mlflow", "--tracking-uri", str(store), "--experiment", "llama-sft")
    assert counts() == before and "1 unchanged" in out


def test_a_wandb_history_csv_imports_as_one_job(tmp_path):
    path = tmp_path / "wandb_export.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["_step", "_runtime", "_timestamp", "train/loss", "eval/loss", "note"])
        for step in range(100):
            eval_loss = "" if step % 10 else 1.5 - step / 100
            writer.writerow([step, step * 2.5, 1.7e9 + step, 2.0 - step / 100, eval_loss, "ok"])
    out, _ = run_import(
        "csv", str(path), "--name", "wandb run", "--model", "mistral-7b", "--dataset", "oasst"
    )
    assert "1 created" in out
    job = Job.objects.get()
    assert (job.name, job.base_model, job.dataset) == ("wandb run", "mistral-7b", "oasst")
    assert job.source == "import:csv"
    assert MetricPoint.objects.filter(job=job, key="train/loss").count() == 100
    assert MetricPoint.objects.filter(job=job, key="eval/loss").count() == 10
    assert set(MetricPoint.objects.values_list("key", flat=True)) == {"train/loss", "eval/loss"}
    first = MetricPoint.objects.get(job=job, key="train/loss", step=0)
    assert first.value == 2.0 and first.wall_time.timestamp() == 1.7e9
    before = counts()
    run_import("csv", str(path), "--name", "wandb run")
    assert counts() == before


def test_a_wandb_chart_export_makes_a_job_per_run(tmp_path):
    path = tmp_path / "chart.csv"
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Step", "run-a - train/loss", "run-a - train/loss__MIN", "run-b - train/loss"]
        )
        for step in range(0, 50, 5):
            writer.writerow([step, 1.0 / (step + 1), 0.0, 2.0 / (step + 1)])
    run_import("csv", str(path))
    assert sorted(Job.objects.values_list("name", flat=True)) == ["run-a", "run-b"]
    assert MetricPoint.objects.filter(job__name="run-b", key="train/loss").count() == 10


def test_a_bad_table_is_reported_and_skipped_never_half_imported(tmp_path):
    good = tmp_path / "good.csv"
    good.write_text("step,loss\n0,1.0\n1,0.5\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("step,loss\n0,1.0\n1,0.5\nthree,0.2\n")
    out, err = run_import("csv", str(tmp_path), "--step-column", "step")
    assert "1 created, 0 unchanged, 1 skipped" in out
    assert "bad.csv" in err and "row 4" in err and "'three'" in err
    assert list(Job.objects.values_list("name", flat=True)) == ["good"]


def test_jsonl_history_rows_import(tmp_path):
    path = tmp_path / "history.jsonl"
    rows = [
        {"_step": s, "_timestamp": 1.7e9 + s, "loss": 1 / (s + 1), "nan": math.nan}
        for s in range(20)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    out, _ = run_import("jsonl", str(path))
    assert "1 created" in out
    assert MetricPoint.objects.filter(key="loss").count() == 20
    assert MetricPoint.objects.filter(key="nan", value__isnull=True).count() == 20


def test_a_source_that_does_not_exist_is_a_clear_error(tmp_path):
    _, err = run_import("csv", str(tmp_path / "missing.csv"))
    assert "no such file" in err


def test_mlflow_needs_a_tracking_uri():
    with pytest.raises(CommandError, match="--tracking-uri"):
        run_import("mlflow")


def test_the_project_must_exist(tmp_path):
    with pytest.raises(CommandError, match="No project 'nope'"):
        run_import("csv", str(tmp_path), "--project", "nope")


def test_no_progress_line_is_drawn_when_the_output_is_not_a_terminal(tmp_path):
    # Into a pipe or a log file (as here, and in CI) only the summary is written.
    path = tmp_path / "h.csv"
    path.write_text("step,loss\n0,1\n")
    out, err = run_import("csv", str(path))
    assert "\r" not in err and "1 created" in out
