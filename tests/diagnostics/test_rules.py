"""Each diagnostic rule fires on a real-looking case and stays quiet on a near miss."""

import math
import random
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from jobs.diagnostics.rules import job_findings
from monitoring.services import resource_samples_ingest

pytestmark = pytest.mark.django_db
GIB = 1024**3

LORA_CONFIG = {
    "learning_rate": 2e-4,
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 2,
    "max_seq_length": 2048,
    "gradient_checkpointing": False,
    "lora_r": 16,
    "optim": "adamw_torch",
    "fp16": True,
    "warmup_ratio": 0.0,
    "max_grad_norm": 0.0,
}


def make_job(uid="diag-job", config=None, stage="training"):
    job = services.job_create(
        name=uid, uid=uid, config=config or dict(LORA_CONFIG), total_steps=2000, host="gpu-a"
    )[0]
    services.stage_move(job=job, stage=stage, status="active")
    return job


def fail(job, message, type_="RuntimeError", traceback="", stage=None, step=None):
    return services.job_status_update(
        job=job,
        status="failed",
        error={
            "message": message,
            "type": type_,
            "traceback": traceback,
            "stage": stage,
            "step": step,
        },
    )


def codes(job):
    job.refresh_from_db()
    return [f.code for f in job_findings(job)]


def finding(job, code):
    job.refresh_from_db()
    return next(f for f in job_findings(job) if f.code == code)


def log_series(job, key, values, start=0, every=1):
    services.metrics_ingest(
        job=job,
        points=[{"key": key, "step": start + i * every, "value": v} for i, v in enumerate(values)],
    )


# --- CUDA out of memory ---


def test_oom_fires_with_fixes_chosen_from_the_config():
    job = make_job()
    job = fail(
        job,
        "CUDA out of memory. Tried to allocate 1.95 GiB.",
        type_="torch.OutOfMemoryError",
        step=1200,
    )
    oom = finding(job, "cuda_oom")
    assert oom.severity == "critical"
    assert oom.evidence["stage"] == "training" and oom.evidence["step"] == 1200
    text = " ".join(oom.suggested_fixes)
    assert "per_device_train_batch_size (8 → 4)" in text
    assert "gradient_accumulation_steps (2 → 4)" in text
    assert "gradient_checkpointing" in text
    assert "max_seq_length (2048 → 1024)" in text
    assert "8-bit" in text
    assert "LoRA adapters" not in text, "LoRA is already on"


def test_oom_does_not_suggest_what_is_already_on():
    config = dict(
        LORA_CONFIG,
        gradient_checkpointing=True,
        optim="paged_adamw_8bit",
        per_device_train_batch_size=1,
        max_seq_length=256,
        load_in_4bit=True,
    )
    job = fail(make_job(config=config), "CUDA out of memory.", type_="torch.OutOfMemoryError")
    text = " ".join(finding(job, "cuda_oom").suggested_fixes)
    for already_on in ("gradient_checkpointing", "8-bit optimiser", "per_device", "max_seq"):
        assert already_on not in text


def test_oom_near_miss_memory_word_in_another_error_does_not_fire():
    job = fail(make_job(), "Expected all tensors to be on the same device, memory layout")
    assert "cuda_oom" not in codes(job)


# --- NaN / inf loss ---


def test_nan_loss_fires_at_the_step_where_it_began():
    job = make_job()
    log_series(job, "train/loss", [2.0, 1.5, 1.2, 3.0, "nan", "nan"], every=10)
    nan = finding(job, "nan_loss")
    assert nan.evidence["step"] == 40
    text = " ".join(nan.suggested_fixes)
    assert "learning_rate (0.0002 → 2e-05)" in text
    assert "warm-up" in text and "max_grad_norm=1.0" in text and "bf16" in text


def test_inf_loss_fires_too():
    job = make_job()
    log_series(job, "train/loss", [2.0, 1.5, "inf"])
    assert finding(job, "nan_loss").title == "Loss became infinite"


def test_nan_in_another_metric_is_not_a_nan_loss():
    job = make_job()
    log_series(job, "train/loss", [2.0, 1.5, 1.2])
    log_series(job, "val/f1", ["nan"])
    assert "nan_loss" not in codes(job)


# --- divergence ---


def test_a_sustained_rise_in_loss_is_divergence():
    job = make_job()
    rng = random.Random(3)
    falling = [2.0 * math.exp(-i / 40) + 0.3 + rng.gauss(0, 0.01) for i in range(150)]
    rising = [falling[-1] * (1 + i / 40) + rng.gauss(0, 0.01) for i in range(80)]
    log_series(job, "train/loss", falling + rising)
    div = finding(job, "loss_divergence")
    assert div.severity == "warning" and 130 <= div.evidence["step"] <= 160


def test_a_single_spike_in_noisy_loss_is_not_divergence():
    job = make_job()
    rng = random.Random(4)
    values = [2.0 * math.exp(-i / 40) + 0.3 + rng.gauss(0, 0.03) for i in range(230)]
    values[200] = 6.0
    log_series(job, "train/loss", values)
    assert "loss_divergence" not in codes(job)


# --- overfitting ---


def test_rising_val_loss_with_falling_train_loss_is_overfitting():
    job = make_job()
    log_series(job, "train/loss", [2.0 * math.exp(-i / 30) + 0.1 for i in range(200)])
    log_series(job, "val/loss", [1.5, 1.0, 0.8, 0.75, 0.8, 0.88, 0.97], every=30)
    over = finding(job, "overfitting")
    assert over.evidence["step"] == 90
    assert any("load_best_model_at_end" in fix for fix in over.suggested_fixes)


def test_val_loss_that_plateaus_is_not_overfitting():
    job = make_job()
    log_series(job, "train/loss", [2.0 * math.exp(-i / 30) + 0.1 for i in range(200)])
    log_series(job, "val/loss", [1.5, 1.0, 0.8, 0.75, 0.76, 0.75, 0.77], every=30)
    assert "overfitting" not in codes(job)


# --- stalled ---


def test_a_running_job_without_heartbeat_is_stalled(settings):
    settings.TUNEBOARD_STALL_MINUTES = 10
    job = make_job()
    job.refresh_from_db()
    later = timezone.now() + timedelta(minutes=15)
    found = [f.code for f in job_findings(job, now=later)]
    assert "stalled" in found


def test_a_job_that_reported_recently_is_not_stalled(settings):
    settings.TUNEBOARD_STALL_MINUTES = 10
    job = make_job()
    job.refresh_from_db()
    later = timezone.now() + timedelta(minutes=9)
    assert "stalled" not in [f.code for f in job_findings(job, now=later)]


# --- GPU idle ---


def samples(util, n=8, cpu=95.0):
    start = timezone.now() - timedelta(minutes=n)
    return [
        {
            "time": (start + timedelta(minutes=i)).isoformat(),
            "cpu_percent": cpu,
            "gpus": [{"index": 0, "util": util, "mem_used": 20 * GIB, "mem_total": 80 * GIB}],
        }
        for i in range(n)
    ]


def test_an_idle_gpu_in_training_is_flagged_as_data_loader_bound():
    job = make_job()
    job.stages.filter(name="training").update(started_at=timezone.now() - timedelta(hours=1))
    resource_samples_ingest(host="gpu-a", samples=samples(util=12), jobs=[job])
    idle = finding(job, "gpu_idle")
    assert idle.evidence["resources"]["gpu_util_mean"] == 12.0
    assert any("dataloader_num_workers" in fix for fix in idle.suggested_fixes)


def test_a_busy_gpu_is_not_idle():
    job = make_job()
    job.stages.filter(name="training").update(started_at=timezone.now() - timedelta(hours=1))
    resource_samples_ingest(host="gpu-a", samples=samples(util=45), jobs=[job])
    assert "gpu_idle" not in codes(job)


# --- tokenizer / dataset ---


def test_a_missing_column_names_the_available_ones():
    job = make_job(stage="tokenization")
    job = fail(
        job,
        "'text' — column 'text' not found in dataset; available columns: "
        "['instruction', 'input', 'output']",
        type_="KeyError",
        stage="tokenization",
    )
    data = finding(job, "data_error")
    assert data.title == "Dataset column 'text' not found"
    assert "'instruction', 'input', 'output'" in data.suggested_fixes[0]


def test_a_missing_pad_token_is_a_tokenizer_error():
    job = fail(
        make_job(stage="tokenization"),
        "Asking to pad but the tokenizer does not have a padding token.",
        type_="ValueError",
        stage="tokenization",
    )
    assert "pad_token = tokenizer.eos_token" in finding(job, "data_error").suggested_fixes[0]


def test_an_encoding_error_is_a_dataset_error():
    job = fail(
        make_job(stage="dataset_loading"),
        "'utf-8' codec can't decode byte 0xff in position 12: invalid start byte",
        type_="UnicodeDecodeError",
        stage="dataset_loading",
    )
    assert finding(job, "data_error").title == "Dataset file is not valid UTF-8"


def test_a_key_error_during_training_is_not_a_dataset_error():
    job = fail(make_job(), "KeyError: 'past_key_values'", type_="KeyError", stage="training")
    assert "data_error" not in codes(job)


# --- disk full ---


def test_no_space_left_is_disk_full_with_checkpoint_fixes():
    job = make_job(stage="save_model")
    job = fail(
        job,
        "[Errno 28] No space left on device: '/ckpt/model.safetensors'",
        type_="OSError",
        stage="save_model",
    )
    disk = finding(job, "disk_full")
    assert any("save_total_limit=2" in fix for fix in disk.suggested_fixes)
    assert any("LoRA adapter" in fix for fix in disk.suggested_fixes)


def test_a_disk_at_ninety_percent_is_not_full():
    job = make_job()
    resource_samples_ingest(
        host="gpu-a", jobs=[job], samples=[{"disk_used": 900 * GIB, "disk_total": 1000 * GIB}]
    )
    assert "disk_full" not in codes(job)


def test_a_disk_at_ninety_eight_percent_warns_while_running():
    job = make_job()
    resource_samples_ingest(
        host="gpu-a", jobs=[job], samples=[{"disk_used": 980 * GIB, "disk_total": 1000 * GIB}]
    )
    assert finding(job, "disk_full").title == "Disk almost full"


# --- NCCL ---


def test_an_nccl_watchdog_timeout_is_recognised():
    job = fail(
        make_job(),
        "[Rank 3] Watchdog caught collective operation timeout: "
        "WorkNCCL(SeqNum=812, OpType=ALLREDUCE, Timeout(ms)=1800000) ran for 1800083 ms",
        type_="torch.distributed.DistBackendError",
    )
    nccl = finding(job, "nccl_timeout")
    assert any("NCCL_DEBUG=INFO" in fix for fix in nccl.suggested_fixes)


def test_an_nccl_version_warning_is_not_a_timeout():
    job = make_job()
    services.logs_ingest(
        job=job,
        lines=[{"seq": 1, "level": "WARNING", "message": "NCCL version 2.21.5+cuda12.4 detected"}],
    )
    assert "nccl_timeout" not in codes(job)


# --- fixtures ---


@pytest.mark.parametrize(
    ("uid", "code"),
    [
        ("llama2-13b-oasst-oom", "cuda_oom"),
        ("falcon-7b-guanaco-nan", "nan_loss"),
        ("qwen2-7b-codealpaca-tok", "data_error"),
        ("deberta-v3-squad-disk", "disk_full"),
    ],
)
def test_fixture_failures_get_the_right_first_finding(uid, code):
    from django.core.management import call_command

    from jobs.models import Job

    call_command("load_jobs", stdout=open("/dev/null", "w"))  # noqa: SIM115
    call_command("generate_mock_data", "--seed", "1", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert job_findings(Job.objects.get(uid=uid))[0].code == code
