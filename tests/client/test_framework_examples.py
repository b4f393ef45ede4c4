"""The Hugging Face and Lightning examples, run as a user runs them, on the live server."""

import secrets
import subprocess
import sys

from tests.support.frameworks import need

from .live import REPO

need("torch")


def run_example(client_env, script, *args):
    result = subprocess.run(
        [sys.executable, f"examples/{script}", *args],
        cwd=REPO,
        env={**client_env, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def keys(server, uid):
    return dict(
        server.query(
            "SELECT p.key, COUNT(*) FROM jobs_metricpoint p JOIN jobs_job j "
            "ON j.id = p.job_id WHERE j.uid = ? GROUP BY p.key",
            uid,
        )
    )


def lines(server, uid):
    return [
        m
        for (m,) in server.query(
            "SELECT l.message FROM jobs_logentry l JOIN jobs_job j ON j.id = l.job_id "
            "WHERE j.uid = ? ORDER BY l.seq",
            uid,
        )
    ]


def test_hf_finetune_example_reports_the_evaluate_after_train(server, client_env):
    need("transformers")
    uid = f"hf-finetune-{secrets.token_hex(3)}"
    run_example(client_env, "hf_finetune.py", "--uid", uid, "--max-steps", "6", "--eval-steps", "3")
    job = server.get(f"/api/jobs/{uid}")
    assert job["status"] == "completed"
    stages = {stage["name"]: stage["status"] for stage in job["stages"]}
    assert stages["training"] == stages["validation"] == stages["save_model"] == "completed"
    counts = keys(server, uid)
    assert counts["val/accuracy"] == 2  # steps 3 and 6; the final evaluate() replaces 6
    assert counts["train_runtime"] == 1
    printed = lines(server, uid)
    assert any(m.startswith("final validation: accuracy") for m in printed)
    assert any(m.startswith("saved to ") for m in printed)
    assert server.get(f"/api/training/resources?job={uid}")["total"] >= 1


def test_lightning_example_reports_fit_validate_and_test(server, client_env):
    need("lightning")
    uid = f"pl-example-{secrets.token_hex(3)}"
    run_example(client_env, "lightning_classifier.py", "--uid", uid, "--epochs", "2")
    job = server.get(f"/api/jobs/{uid}")
    assert job["status"] == "completed"
    assert job["config"]["hidden"] == 32
    stages = {stage["name"]: stage["status"] for stage in job["stages"]}
    assert stages["training"] == stages["validation"] == stages["save_model"] == "completed"
    counts = keys(server, uid)
    assert counts["train/loss"] > 10
    assert counts["val/accuracy"] >= 2
    assert counts["test/accuracy"] == 1
    assert any(m.startswith("final validation accuracy") for m in lines(server, uid))
