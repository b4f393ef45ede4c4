"""The client's contract, in process, against the live server."""

import io
import logging
import math
import secrets
import time

import pytest
import tuneboard
from tuneboard.transport import Transport

from .live import REPO


def new_uid(prefix):
    return f"{prefix}-{secrets.token_hex(3)}"


def points(server, uid, key):
    return server.query(
        "SELECT p.step, p.value FROM jobs_metricpoint p JOIN jobs_job j ON j.id = p.job_id "
        "WHERE j.uid = ? AND p.key = ? ORDER BY p.step",
        uid,
        key,
    )


def log_lines(server, uid):
    return server.query(
        "SELECT l.seq, l.level, l.message FROM jobs_logentry l JOIN jobs_job j "
        "ON j.id = l.job_id WHERE j.uid = ? ORDER BY l.seq",
        uid,
    )


def test_an_exception_in_the_with_block_fails_the_job_and_propagates(server):
    uid = new_uid("ctx-fail")
    run = tuneboard.init(server=server.url, token=server.token, uid=uid, name="ctx")
    with pytest.raises(RuntimeError, match="CUDA out of memory"), run:
        run.stage("training")
        run.progress(step=7, total_steps=100)
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    job = server.get(f"/api/jobs/{uid}")
    assert job["status"] == "failed"
    error = job["error"]
    assert error["type"] == "RuntimeError"
    assert error["message"].startswith("CUDA out of memory")
    assert error["stage"] == "training"
    assert error["step"] == 7
    assert "raise RuntimeError" in error["traceback"]
    assert server.stages(uid)["training"] == "failed"


def test_finish_completes_active_stages_and_the_job(server):
    uid = new_uid("finish")
    run = tuneboard.init(server=server.url, token=server.token, uid=uid, name="finish")
    run.stage("dataset_loading")
    run.stage("dataset_loading", "completed")
    run.stage("training")
    run.log({"train/loss": 0.5}, step=3)
    assert run.finish(timeout=10) is True

    assert server.job_row(uid)["status"] == "completed"
    assert server.stages(uid) == {
        "dataset_loading": "completed",
        "tokenization": "skipped",
        "training": "completed",
        "validation": "skipped",
        "save_model": "skipped",
    }


def test_nan_and_infinite_values_are_delivered_as_real_values(server):
    uid = new_uid("nonfinite")
    run = tuneboard.init(server=server.url, token=server.token, uid=uid, name="nan")
    run.log({"train/loss": math.nan}, step=1)
    run.log({"train/loss": math.inf}, step=2)
    run.log({"train/loss": -math.inf}, step=3)
    run.finish(timeout=10)
    assert points(server, uid, "train/loss") == [(1, None), (2, math.inf), (3, -math.inf)]


def test_values_that_are_not_numbers_are_skipped_with_one_warning(server, capsys):
    uid = new_uid("skip")
    run = tuneboard.init(server=server.url, token=server.token, uid=uid, name="skip")
    run.log({"train/loss": 0.25, "note": "hello"}, step=1)
    run.log({"note": "again"}, step=2)
    run.finish(timeout=10)
    assert points(server, uid, "train/loss") == [(1, 0.25)]
    assert points(server, uid, "note") == []
    assert capsys.readouterr().err.count("'note'") == 1


def test_a_logging_handler_forwards_records_in_order_with_their_levels(server):
    uid = new_uid("handler")
    run = tuneboard.init(server=server.url, token=server.token, uid=uid, name="handler")
    logger = logging.getLogger(f"tests.client.{uid}")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(run.logging_handler(level=logging.INFO))
    logger.debug("below the handler's level")
    logger.info("epoch 1 done")
    logger.warning("loss spiked")
    run.log_text("plain line", "warn")
    run.finish(timeout=10)

    lines = log_lines(server, uid)
    assert [(level, message) for _, level, message in lines] == [
        ("INFO", "epoch 1 done"),
        ("WARNING", "loss spiked"),
        ("WARNING", "plain line"),
    ]


def test_a_resumed_run_appends_log_lines_after_the_first_process_lines(server):
    uid = new_uid("resume")
    first = tuneboard.init(server=server.url, token=server.token, uid=uid, name="resume")
    first.log_text("first process, line 1")
    first.log_text("first process, line 2")
    assert first.transport.flush(timeout=10)
    first.transport.close(timeout=10)  # the process dies without finishing the job

    second = tuneboard.init(server=server.url, token=server.token, uid=uid, name="resume")
    second.log_text("second process, line 1")
    second.finish(timeout=10)

    messages = [message for _, _, message in log_lines(server, uid)]
    assert messages == [
        "first process, line 1",
        "first process, line 2",
        "second process, line 1",
    ]
    assert server.job_row(uid)["status"] == "completed"


def test_a_rejected_request_is_reported_once_on_stderr_and_dropped(server):
    stderr = io.StringIO()
    transport = Transport(server.url, server.token, job_uid="no-such-job", stderr=stderr)
    for step in range(3):
        transport.put(("m", "train/loss", step, 0.1, None, time.time()))
        assert transport.flush(timeout=10)  # dropped, not retried forever
    transport.put(("post", "/api/jobs/no-such-job/status", {"step": 1}))
    assert transport.close(timeout=10)

    report = stderr.getvalue().splitlines()
    assert len(report) == 2  # one for the metrics endpoint, one for the status endpoint
    assert "POST /api/jobs/no-such-job/metrics answered 404" in report[0]
    assert "No job with uid 'no-such-job'" in report[0]
    assert "POST /api/jobs/no-such-job/status answered 404" in report[1]
    assert transport.stats["rejected"] == 4


def test_a_bad_token_is_reported_not_raised(server):
    stderr = io.StringIO()
    transport = Transport(server.url, "tb_not-a-token", job_uid="x", stderr=stderr)
    transport.put(("post", "/api/jobs", {"uid": "x", "name": "x"}))
    assert transport.close(timeout=10)
    assert "answered 401" in stderr.getvalue()
    assert "Invalid token." in stderr.getvalue()


def test_a_config_with_objects_json_cannot_carry_is_stored_as_text(server):
    uid = new_uid("config")
    config = {"lr": 1e-4, "output": REPO / "out", "clip": math.inf, "betas": (0.9, 0.999)}
    run = tuneboard.init(server=server.url, token=server.token, uid=uid, name="c", config=config)
    assert run.finish(timeout=10)
    stored = server.get(f"/api/jobs/{uid}")["config"]
    assert stored == {
        "lr": 1e-4,
        "output": str(REPO / "out"),
        "clip": "inf",
        "betas": [0.9, 0.999],
    }


def test_reporting_after_finish_is_ignored_with_a_warning(server, capsys):
    uid = new_uid("after")
    run = tuneboard.init(server=server.url, token=server.token, uid=uid, name="after")
    run.finish(timeout=10)
    run.log({"train/loss": 1.0}, step=1)
    run.log({"train/loss": 1.0}, step=2)
    assert run.transport.queue.pending == 0
    assert capsys.readouterr().err.count("log() after the run finished") == 1
