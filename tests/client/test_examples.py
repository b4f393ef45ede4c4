"""The numpy example, run as a user runs it, against a live server."""

import secrets
import subprocess
import sys

from .live import REPO


def run_example(env, *args):
    return subprocess.run(
        [sys.executable, "examples/train_text_classifier.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def series(server, uid, key):
    return server.query(
        "SELECT p.step, p.epoch, p.value FROM jobs_metricpoint p JOIN jobs_job j "
        "ON j.id = p.job_id WHERE j.uid = ? AND p.key = ? ORDER BY p.step",
        uid,
        key,
    )


def test_numpy_example_reports_every_stage_metric_and_log_line(server, client_env):
    uid = f"numpy-example-{secrets.token_hex(3)}"
    result = run_example(client_env, "--uid", uid, "--epochs", "4")
    assert result.returncode == 0, result.stderr[-3000:]

    job = server.job_row(uid)
    assert job["status"] == "completed"
    assert set(server.stages(uid).values()) == {"completed"}
    assert len(server.stages(uid)) == 5

    loss = series(server, uid, "train/loss")
    first_epoch = [value for _, epoch, value in loss if epoch <= 1]
    last_epoch = [value for _, epoch, value in loss if epoch > 3]
    assert first_epoch and last_epoch
    assert sum(last_epoch) / len(last_epoch) < sum(first_epoch) / len(first_epoch)

    accuracy = series(server, uid, "val/accuracy")
    f1 = series(server, uid, "val/f1")
    assert len(accuracy) == len(f1) == 4  # one per epoch; the final one replaces the last
    assert 0.6 < accuracy[-1][2] < 1.0  # far above chance (1/3), not perfect (noisy labels)
    assert 0.6 < f1[-1][2] < 1.0

    messages = [
        m
        for (m,) in server.query(
            "SELECT l.message FROM jobs_logentry l JOIN jobs_job j ON j.id = l.job_id "
            "WHERE j.uid = ? ORDER BY l.seq",
            uid,
        )
    ]
    assert messages[0].startswith("Tuneboard job ")
    assert any(m.startswith("Loaded 3400 train / 600 validation reviews") for m in messages)
    assert any(m.startswith("Saved model to ") for m in messages)

    detail = server.get(f"/api/jobs/{uid}")
    assert detail["status"] == "completed"
    assert detail["latest_metrics"]["val/f1"]["value"] == f1[-1][2]


def test_numpy_example_failing_in_tokenization_is_stored_with_its_traceback(server, client_env):
    uid = f"numpy-example-fail-{secrets.token_hex(3)}"
    result = run_example(client_env, "--uid", uid, "--fail-at", "tokenization")
    assert result.returncode == 1
    assert "KeyError: '[UNK]'" in result.stderr  # the exception still reaches the user

    job = server.job_row(uid)
    assert job["status"] == "failed"
    assert job["error_stage"] == "tokenization"
    assert job["error_type"] == "KeyError"
    assert job["error_message"] == "'[UNK]'"
    assert "Traceback (most recent call last)" in job["error_traceback"]
    assert "in encode" in job["error_traceback"]
    assert server.stages(uid) == {
        "dataset_loading": "completed",
        "tokenization": "failed",
        "training": "pending",
        "validation": "pending",
        "save_model": "pending",
    }
