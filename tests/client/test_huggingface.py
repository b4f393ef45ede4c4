"""`TuneboardCallback` on a real `Trainer` (tiny BERT from a config, no download)."""

import secrets
import subprocess
import sys

from tests.support.frameworks import need

from .live import REPO

need("torch")
need("transformers")


def test_trainer_run_is_reported_through_the_callback(server, client_env):
    # One intra-op thread: on a small machine shared with the server, OpenMP threads
    # spinning against it make 12 steps take seconds instead of a fraction of one.
    env = {**client_env, "OMP_NUM_THREADS": "1"}
    uid = f"hf-trainer-{secrets.token_hex(3)}"
    result = subprocess.run(
        [
            sys.executable,
            "examples/hf_trainer.py",
            "--uid",
            uid,
            "--max-steps",
            "12",
            "--eval-steps",
            "6",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    job = server.get(f"/api/jobs/{uid}")
    assert job["status"] == "completed"
    assert job["current_step"] == 12
    assert job["total_steps"] == 12
    assert {stage["name"]: stage["status"] for stage in job["stages"]} == {
        "dataset_loading": "completed",
        "tokenization": "completed",
        "training": "completed",
        "validation": "completed",
        "save_model": "completed",
    }

    counts = dict(
        server.query(
            "SELECT p.key, COUNT(*) FROM jobs_metricpoint p JOIN jobs_job j "
            "ON j.id = p.job_id WHERE j.uid = ? GROUP BY p.key",
            uid,
        )
    )
    # Trainer names mapped to Tuneboard's standard keys…
    assert counts["train/loss"] == 12  # logging_steps=1 for 12 steps
    assert counts["val/loss"] == counts["val/accuracy"] == counts["val/f1"] == 2  # steps 6, 12
    # …and everything else under its own name.
    assert counts["learning_rate"] == 12
    assert counts["grad_norm"] == 12
    assert "loss" not in counts and "eval_loss" not in counts

    (val_f1,) = server.query(
        "SELECT p.value FROM jobs_metricpoint p JOIN jobs_job j ON j.id = p.job_id "
        "WHERE j.uid = ? AND p.key = 'val/f1' AND p.step = 12",
        uid,
    )[0]
    assert 0.0 <= val_f1 <= 1.0


OWN_RUN_SCRIPT = """
import sys
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
from tuneboard.integrations.huggingface import TuneboardCallback

torch.manual_seed(0)
config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=16, num_labels=2)
rows = [{"input_ids": torch.randint(1, 50, (16,)), "labels": torch.tensor(i % 2)}
        for i in range(64)]
args = TrainingArguments(output_dir=sys.argv[2], max_steps=4, per_device_train_batch_size=8,
                         logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                         disable_tqdm=True)
callback = TuneboardCallback(uid=sys.argv[1], name="callback-made run", tags=["hf"])
Trainer(model=BertForSequenceClassification(config), args=args, train_dataset=rows,
        callbacks=[callback]).train()
"""


def test_a_callback_without_a_run_creates_one_and_finishes_it(server, client_env, tmp_path):
    uid = f"hf-own-run-{secrets.token_hex(3)}"
    result = subprocess.run(
        [sys.executable, "-c", OWN_RUN_SCRIPT, uid, str(tmp_path)],
        cwd=REPO,
        env={**client_env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]

    job = server.get(f"/api/jobs/{uid}")
    assert job["status"] == "completed"
    assert job["name"] == "callback-made run"
    assert job["model"] == "bert"  # the model config's type: it was built, not downloaded
    assert job["total_steps"] == 4
    assert job["config"]["max_steps"] == 4  # the TrainingArguments, as the job's config
    stages = {stage["name"]: stage["status"] for stage in job["stages"]}
    assert stages["training"] == "completed"
    assert stages["tokenization"] == "skipped"
    steps = server.query(
        "SELECT p.step FROM jobs_metricpoint p JOIN jobs_job j ON j.id = p.job_id "
        "WHERE j.uid = ? AND p.key = 'train/loss' ORDER BY p.step",
        uid,
    )
    assert steps == [(1,), (2,), (3,), (4,)]
