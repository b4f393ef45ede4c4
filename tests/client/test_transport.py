"""The transport's queue and exit behaviour."""

import os
import subprocess
import sys
import time

import tuneboard
from tuneboard.transport import EventQueue

from .live import REPO


def test_spooled_events_come_back_in_order_and_their_files_are_removed(tmp_path):
    queue = EventQueue(str(tmp_path), memory_limit=10, segment_size=4)
    delivered, made = [], 0
    for _ in range(6):
        for _ in range(13):
            queue.append(("m", "k", made, float(made), None, 0.0))
            made += 1
        queue.spill()
        # The sender reads a little between spills, from files and from memory.
        events = queue.peek(5)
        delivered += [event[2] for event in events]
        queue.commit(len(events))
    while events := queue.peek(7):
        delivered += [event[2] for event in events]
        queue.commit(len(events))

    assert delivered == list(range(made))
    assert queue.pending == 0
    assert queue.spooled_total > 0
    assert os.listdir(tmp_path) == []


def test_points_still_queued_when_the_script_ends_are_delivered_at_exit(server, client_env):
    script = (
        "import tuneboard\n"
        "run = tuneboard.init(uid='exit-flush', name='exit flush')\n"
        "for step in range(100):\n"
        "    run.log({'train/loss': 1 / (step + 1)}, step=step)\n"
        # no finish(): the atexit flush delivers what is queued
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=client_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (count,) = server.query(
        "SELECT COUNT(*) FROM jobs_metricpoint p JOIN jobs_job j ON j.id = p.job_id "
        "WHERE j.uid = 'exit-flush'"
    )[0]
    assert count == 100
    assert server.job_row("exit-flush")["status"] == "running"  # flushed, not finished


def test_an_uncaught_exception_fails_the_job_even_without_a_with_block(server, client_env):
    script = (
        "import tuneboard\n"
        "run = tuneboard.init(uid='uncaught', name='uncaught')\n"
        "run.stage('validation')\n"
        "raise ValueError('labels and predictions differ in length')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=client_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "ValueError: labels and predictions differ in length" in result.stderr
    job = server.job_row("uncaught")
    assert job["status"] == "failed"
    assert job["error_stage"] == "validation"
    assert job["error_type"] == "ValueError"


def test_a_quiet_run_keeps_sending_heartbeats(server):
    run = tuneboard.init(
        server=server.url, token=server.token, name="quiet", heartbeat_interval=0.2
    )
    assert run.transport.flush(timeout=10)

    def heartbeat():
        return server.query("SELECT last_heartbeat FROM jobs_job WHERE uid = ?", run.uid)[0][0]

    first = heartbeat()
    deadline = time.monotonic() + 10
    while heartbeat() == first:
        assert time.monotonic() < deadline, "no heartbeat while the run was quiet"
        time.sleep(0.05)
    run.finish(timeout=10)
