"""System metrics, console capture, distributed launches and summaries, end to end."""

import json
import os
import secrets
import subprocess
import sys
import textwrap
import time

import psutil
import tuneboard
from tuneboard.console import LineSplitter, level_of
from tuneboard.sampling import HostSampler, ProcStats

from .live import REPO


def run_script(env, source, *args, timeout=120):
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def log_lines(server, uid):
    return server.query(
        "SELECT l.level, l.message FROM jobs_logentry l JOIN jobs_job j "
        "ON j.id = l.job_id WHERE j.uid = ? ORDER BY l.seq",
        uid,
    )


def sample_hosts(server, uid):
    return dict(
        server.query(
            "SELECT s.host, COUNT(*) FROM monitoring_resourcesample s JOIN jobs_job j "
            "ON j.id = s.job_id WHERE j.uid = ? GROUP BY s.host",
            uid,
        )
    )


# -- units --------------------------------------------------------------------------------


def test_import_tuneboard_needs_only_the_standard_library():
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import tuneboard, tuneboard.console, "
        "tuneboard.system, tuneboard.sampling, tuneboard.agent, tuneboard.spool, "
        # The HF callback module imports without transformers (it says so when used).
        "tuneboard.integrations.huggingface, tuneboard.integrations.generation\n"
        "outside = sorted({m.split('.')[0] for m in sys.modules} - set(sys.stdlib_module_names)"
        " - {'tuneboard', '__main__'})\n"
        "print(tuneboard.__file__); print(outside)"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, str(REPO / "client")],
        capture_output=True,
        text=True,
        check=True,
    )
    path, outside = result.stdout.splitlines()
    assert path == str(REPO / "client" / "tuneboard" / "__init__.py")  # this checkout's
    assert outside == "[]"
    assert tuneboard.__file__ == path  # the tests import it too


def test_proc_readings_match_psutil():
    proc, real = HostSampler(psutil=ProcStats()), HostSampler()
    time.sleep(0.3)
    a, b = proc.sample(), real.sample()
    assert a["ram_total"] == b["ram_total"] == psutil.virtual_memory().total
    assert abs(a["ram_used"] - b["ram_used"]) < 0.05 * b["ram_total"]
    assert a["swap_total"] == b["swap_total"]
    assert a["disk_total"] == b["disk_total"]
    assert abs(a["disk_used"] - b["disk_used"]) < 2**30
    assert len(a["cpu_per_core"]) == len(b["cpu_per_core"]) == psutil.cpu_count()
    assert 0 <= a["cpu_percent"] <= 100
    assert a["disk_read_rate"] >= 0 and a["net_rx_rate"] >= 0


def test_progress_bars_come_out_in_their_last_state():
    lines = []
    clock = [0.0]
    splitter = LineSplitter(
        lambda text, level: lines.append((level, text)), "WARNING", clock=lambda: clock[0]
    )
    for i in range(1000):
        splitter.feed(f"\r{i / 10:.0f}%|\x1b[32m###\x1b[0m| {i}/1000")
    splitter.feed("\rdone 1000/1000\n")
    splitter.feed("plain stderr\nERROR: broken\nlast, no newline")
    assert lines == [
        ("INFO", "done 1000/1000"),
        ("WARNING", "plain stderr"),
        ("ERROR", "ERROR: broken"),
    ]
    splitter.flush()
    assert lines[-1] == ("WARNING", "last, no newline")

    # A long bar shows its state now and then (not on every redraw), and ends once.
    lines.clear()
    for i in range(100):
        clock[0] = i  # one redraw a second
        splitter.feed(f"\rstep {i}")
    splitter.feed("\n")
    assert lines == [
        ("INFO", "step 30"),
        ("INFO", "step 60"),
        ("INFO", "step 90"),
        ("INFO", "step 99"),
    ]


def test_levels_read_from_the_text():
    assert level_of("2024-05-01 12:00:01 INFO loading", "WARNING") == "INFO"
    assert level_of("[rank0]: WARN: slow", "INFO") == "WARNING"
    assert level_of("Information is fine", "WARNING") == "WARNING"
    assert level_of("x" * 90 + " ERROR", "INFO") == "INFO"


# -- live ---------------------------------------------------------------------------------


CONSOLE_SCRIPT = """
import logging, subprocess, sys, time
import tuneboard

logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
capture = None if sys.argv[2] == "default" else sys.argv[2]
run = tuneboard.init(uid=sys.argv[1], name="console", capture_console=capture,
                     system_metrics_interval=0.2)
print("hello from stdout")
print("careful: disk almost full", file=sys.stderr)
print("ERROR could not open shard 3", file=sys.stderr)
for i in range(200):
    sys.stderr.write(f"\\r{i // 2}%|####| {i}/200")
sys.stderr.write("\\r100%|####| 200/200\\n")
logging.getLogger("train").info("epoch 1 done")
own = logging.getLogger("own")
own.addHandler(run.logging_handler())
own.warning("sent by the user's handler only")
if sys.argv[2] == "fd":
    subprocess.run(["sh", "-c", "echo from a child process; echo child error >&2"], check=True)
time.sleep(0.5)
sys.stdout.write("partial line at exit")
run.finish()
"""


def test_console_lines_arrive_with_their_levels_once(server, client_env):
    uid = f"console-{secrets.token_hex(3)}"
    result = run_script(client_env, CONSOLE_SCRIPT, uid, "fd")
    assert result.returncode == 0, result.stderr[-3000:]
    # Still printed locally, unchanged (child processes included).
    assert "hello from stdout\n" in result.stdout
    assert "from a child process" in result.stdout
    assert result.stdout.endswith("partial line at exit")
    assert result.stderr.count("|####|") == 201  # every redraw (\r read as \n here)
    assert "INFO train epoch 1 done" in result.stderr

    lines = log_lines(server, uid)
    assert ("INFO", "hello from stdout") in lines
    assert ("WARNING", "careful: disk almost full") in lines
    assert ("ERROR", "ERROR could not open shard 3") in lines
    bars = [message for _, message in lines if "|####|" in message]
    assert bars == ["100%|####| 200/200"]
    assert lines.count(("INFO", "epoch 1 done")) == 1  # the record, not its printed copy
    assert not [m for _, m in lines if "INFO train" in m]
    assert lines.count(("WARNING", "sent by the user's handler only")) == 1
    assert ("INFO", "from a child process") in lines
    assert ("WARNING", "child error") in lines
    assert lines[-1] == ("INFO", "partial line at exit")
    assert sample_hosts(server, uid)  # system metrics are on by default


def test_console_and_system_metrics_can_be_turned_off(server, client_env):
    uid = f"quiet-{secrets.token_hex(3)}"
    env = {**client_env, "TUNEBOARD_CAPTURE_CONSOLE": "0", "TUNEBOARD_SYSTEM_METRICS": "0"}
    result = run_script(env, CONSOLE_SCRIPT, uid, "default")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "hello from stdout" in result.stdout
    lines = log_lines(server, uid)
    assert lines == [("WARNING", "sent by the user's handler only")]
    assert sample_hosts(server, uid) == {}


DISTRIBUTED_SCRIPT = """
import os, sys, time
import tuneboard

run = tuneboard.init(name="two nodes", system_metrics_interval=0.2, config={"lr": 0.1})
print("uid", run.uid, run.role, flush=True)
run.stage("training")
for step in range(1, 11):
    run.log({"train/loss": 1.0 / step}, step=step)
    time.sleep(0.05)
run.finish()
"""


def test_two_nodes_report_one_job_with_samples_from_both_hosts(server, client_env):
    launch = secrets.token_hex(4)
    procs = []
    for rank, host in ((0, f"node-a-{launch}"), (1, f"node-b-{launch}")):
        env = {
            **client_env,
            "RANK": str(rank),
            "LOCAL_RANK": "0",
            "WORLD_SIZE": "2",
            "LOCAL_WORLD_SIZE": "1",
            "TORCHELASTIC_RUN_ID": launch,
            "TUNEBOARD_HOST": host,
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", DISTRIBUTED_SCRIPT],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err[-3000:]
    (_, uid_a, role_a), (_, uid_b, role_b) = (out.split() for out, _ in outputs)
    assert uid_a == uid_b and uid_a.startswith("two-nodes-")
    assert (role_a, role_b) == ("main", "node")

    job = server.get(f"/api/jobs/{uid_a}")
    assert job["status"] == "completed"
    assert job["host"] == f"node-a-{launch}"
    assert job["config"] == {"lr": 0.1}
    (count,) = server.query(
        "SELECT COUNT(*) FROM jobs_metricpoint p JOIN jobs_job j ON j.id = p.job_id "
        "WHERE j.uid = ?",
        uid_a,
    )[0]
    assert count == 10  # rank 0's points only
    hosts = sample_hosts(server, uid_a)
    assert set(hosts) == {f"node-a-{launch}", f"node-b-{launch}"}
    assert all(n >= 1 for n in hosts.values())


def test_other_ranks_of_a_node_report_nothing(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "4")
    run = tuneboard.init(server="http://127.0.0.1:9", token="tb_x", name="idle rank")
    assert run.role == "idle" and run.transport is None
    run.log({"train/loss": 1.0}, step=1)
    run.stage("training")
    assert run.finish() is True


def test_summary_values_are_single_points_at_the_last_step(server):
    uid = f"summary-{secrets.token_hex(3)}"
    run = tuneboard.init(
        server=server.url, token=server.token, uid=uid, name="summary", system_metrics=False
    )
    run.log({"train/loss": 0.5}, step=40)
    run.summary({"train_runtime": 12.5, "total_flos": 3e12, "note": "not a number"})
    assert run.finish(timeout=10)
    rows = server.query(
        "SELECT p.key, p.step, p.value FROM jobs_metricpoint p JOIN jobs_job j "
        "ON j.id = p.job_id WHERE j.uid = ? ORDER BY p.key",
        uid,
    )
    assert rows == [("total_flos", 40, 3e12), ("train/loss", 40, 0.5), ("train_runtime", 40, 12.5)]
    assert run.transport.stats["rejected"] == 0
    assert json.dumps(server.get(f"/api/jobs/{uid}")["status"]) == '"completed"'
    assert os.environ.get("RANK") is None
