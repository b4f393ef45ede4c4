"""Nothing lost when the server is away: runs kept on disk and `tuneboard sync`.

A run whose server is down at its end keeps what it could not deliver in its directory;
an offline run (`TUNEBOARD_MODE=offline`) writes everything there. `python -m tuneboard
sync` uploads it to the real server later, with the events' original times, and never
sends an event twice (counted in the server's own database).
"""

import io
import os
import secrets
import subprocess
import sys
import time
from datetime import UTC, datetime

import tuneboard
from tuneboard import cli, transport
from tuneboard.store import RunDirectory

from tests.support.server import free_port

from .live import REPO

STAGE_NAMES = ("dataset_loading", "tokenization", "training")


def new_uid(prefix):
    return f"{prefix}-{secrets.token_hex(3)}"


def epoch_of(text):
    """A time the server's SQLite database holds (UTC text) as seconds since the epoch."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def stored_points(server, uid):
    return server.query(
        "SELECT p.key, p.step, p.value, p.wall_time FROM jobs_metricpoint p "
        "JOIN jobs_job j ON j.id = p.job_id WHERE j.uid = ? ORDER BY p.key, p.step",
        uid,
    )


def stored_lines(server, uid):
    return server.query(
        "SELECT l.seq, l.message, l.time FROM jobs_logentry l JOIN jobs_job j "
        "ON j.id = l.job_id WHERE j.uid = ? ORDER BY l.seq",
        uid,
    )


def stored_stages(server, uid):
    rows = server.query(
        "SELECT s.name, s.status, s.started_at, s.finished_at FROM jobs_stage s "
        "JOIN jobs_job j ON j.id = s.job_id WHERE j.uid = ?",
        uid,
    )
    return {name: (status, started, finished) for name, status, started, finished in rows}


def job_times(server, uid):
    row = server.query(
        "SELECT status, started_at, finished_at, synced_at FROM jobs_job WHERE uid = ?", uid
    )
    return row[0]


def report(run, first, last):
    """Stages, points and lines of steps `first`..`last` (both included)."""
    for step in range(first, last + 1):
        run.log({"train/loss": 1.0 / (step + 1), "learning_rate": 1e-4}, step=step)
        run.log_text(f"step {step}")


def sync(*args):
    out = io.StringIO()
    code = cli.main(["sync", *args], out=out)
    return code, out.getvalue()


def assert_stored_once(server, uid, *, steps, started, ended):
    """Every point and line of `steps` exactly once, each at its original time."""
    points = stored_points(server, uid)
    assert [(key, step) for key, step, _, _ in points] == [
        (key, step) for key in ("learning_rate", "train/loss") for step in steps
    ]
    assert all(started <= epoch_of(at) <= ended for *_, at in points)
    lines = stored_lines(server, uid)
    assert [message for _, message, _ in lines] == [f"step {step}" for step in steps]
    assert all(started <= epoch_of(at) <= ended for *_, at in lines)


def test_a_run_whose_server_is_down_at_its_end_keeps_the_rest_and_sync_uploads_it_once(
    server, monkeypatch
):
    monkeypatch.setenv("TUNEBOARD_TOKEN", server.token)
    uid = new_uid("down-at-exit")
    started = time.time()
    run = tuneboard.init(
        server=server.url,
        token=server.token,
        uid=uid,
        name="down at exit",
        system_metrics=False,
        capture_console=False,
    )
    run.stage("dataset_loading")
    run.stage("dataset_loading", "completed")
    run.stage("training")
    report(run, 0, 99)
    assert run.transport.flush(timeout=30)
    server.stop()
    try:
        report(run, 100, 249)
        run.stage("training", "completed")
        run.stage("validation")
        run.stage("validation", "completed")
        assert run.finish(timeout=1) is False  # nobody answers: kept, not lost
        ended = time.time()
    finally:
        server.start()

    kept = RunDirectory(run.directory)
    assert kept.pending()["points"] == 300  # steps 100–249, two keys
    assert kept.pending()["lines"] == 150
    before_sync = time.time()
    assert ended < before_sync

    code, out = sync(run.directory)
    assert code == 0, out
    assert f"{uid}:" in out
    assert_stored_once(server, uid, steps=range(250), started=started, ended=ended)
    stages = stored_stages(server, uid)
    for name in ("dataset_loading", "training", "validation"):
        status, stage_started, stage_finished = stages[name]
        assert status == "completed"
        assert started <= epoch_of(stage_started) <= epoch_of(stage_finished) <= ended
    status, _, finished_at, synced_at = job_times(server, uid)
    assert status == "completed"
    assert started <= epoch_of(finished_at) <= ended  # when it ended, not when it synced
    assert epoch_of(synced_at) >= before_sync
    assert server.get(f"/api/jobs/{uid}")["synced_at"] is not None

    # Again: nothing is pending, nothing is sent, nothing changes.
    assert RunDirectory(run.directory).pending()["events"] == 0
    code, out = sync(run.directory)
    assert code == 0
    assert "nothing to upload" in out
    assert_stored_once(server, uid, steps=range(250), started=started, ended=ended)


OFFLINE_SCRIPT = """
import tuneboard

with tuneboard.init(name="offline", uid={uid!r}, system_metrics=False) as run:
    for name in {stages!r}:
        run.stage(name)
        if name == "training":
            for step in range(120):
                run.log({{"train/loss": 1.0 / (step + 1), "learning_rate": 1e-4}}, step=step)
                run.log_text(f"step {{step}}")
        run.stage(name, "completed")
print("done", run.uid)
"""


def run_script(source, env):
    return subprocess.run(
        [sys.executable, "-c", source],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_an_offline_run_writes_only_to_disk_and_sync_uploads_the_whole_run(
    client_env, server, monkeypatch
):
    uid = new_uid("offline")
    nobody = f"http://127.0.0.1:{free_port()}"  # an offline node: no server at all
    env = dict(client_env, TUNEBOARD_MODE="offline", TUNEBOARD_SERVER=nobody)
    env.pop("TUNEBOARD_TOKEN")
    started = time.time()
    result = run_script(OFFLINE_SCRIPT.format(uid=uid, stages=STAGE_NAMES), env)
    ended = time.time()
    assert result.returncode == 0, result.stderr
    assert f"done {uid}" in result.stdout
    assert result.stderr == ""  # nothing tried the network, nothing complained
    assert not server.query("SELECT id FROM jobs_job WHERE uid = ?", uid)

    directory = os.path.join(os.environ["TUNEBOARD_DIR"], uid)
    out = io.StringIO()
    assert cli.main(["status"], out=out) == 0
    row = next(line for line in out.getvalue().splitlines() if line.startswith(uid))
    assert row.split()[1:5] == ["offline", "369", "240", "120"]

    # The run recorded a server that does not exist: sync is told the real one.
    monkeypatch.setenv("TUNEBOARD_TOKEN", server.token)
    code, text = sync("--server", server.url)
    assert code == 0, text
    # + job creation, running, six stage moves, completed
    assert f"{uid}: 369 events uploaded" in text

    assert_stored_once(server, uid, steps=range(120), started=started, ended=ended)
    stages = stored_stages(server, uid)
    for name in STAGE_NAMES:
        status, stage_started, stage_finished = stages[name]
        assert status == "completed"
        assert started <= epoch_of(stage_started) <= epoch_of(stage_finished) <= ended
    assert stages["validation"][0] == "skipped"
    status, started_at, finished_at, synced_at = job_times(server, uid)
    assert status == "completed"
    assert started <= epoch_of(started_at) <= epoch_of(finished_at) <= ended
    assert synced_at is not None

    # A second sync sends nothing, even of the whole runs directory.
    code, text = sync("--server", server.url)
    assert code == 0
    assert f"{uid}: nothing to upload" in text
    assert_stored_once(server, uid, steps=range(120), started=started, ended=ended)
    out = io.StringIO()
    cli.main(["status", directory], out=out)
    assert "synced" in out.getvalue()
    assert "0 events pending in 1 runs." in out.getvalue()


def test_a_sync_interrupted_by_the_server_going_away_resumes_without_resending(server, monkeypatch):
    """The server accepts part of the upload and then is gone: the accepted part is
    recorded, and the next sync sends only the rest."""
    monkeypatch.setenv("TUNEBOARD_TOKEN", server.token)
    uid = new_uid("resume")
    monkeypatch.setenv("TUNEBOARD_MODE", "offline")
    run = tuneboard.init(uid=uid, name="resume", system_metrics=False, capture_console=False)
    run.stage("training")
    report(run, 0, 29_999)  # more than one request's worth of points
    run.stage("training", "completed")
    run.finish()
    monkeypatch.delenv("TUNEBOARD_MODE")
    kept = RunDirectory(run.directory)
    [events_file] = kept.event_files()

    accepted, sent = {}, {}

    def after_first(count):
        accepted["count"] = count
        server.stop()

    original = transport.Transport

    class StopsAfterFirst(original):
        def __init__(self, *args, on_delivered, **kwargs):
            def delivered(count):
                on_delivered(count)
                sent["count"] = sent.get("count", 0) + count
                if count > 1 and "count" not in accepted:
                    after_first(sent["count"])  # the first batch of points and lines

            super().__init__(*args, on_delivered=delivered, **kwargs)

    # The upload's own transport, with a hook that stops the server once it took a batch.
    monkeypatch.setattr(transport, "Transport", StopsAfterFirst)
    try:
        code, _ = sync("--server", server.url, "--timeout", "1", run.directory)
    finally:
        server.start()
    monkeypatch.setattr(transport, "Transport", original)
    assert code == 1
    with open(events_file + ".sent") as cursor:
        sent_first = int(cursor.read())
    assert sent_first == accepted["count"]
    assert 0 < sent_first < kept.pending()["events"] + sent_first

    code, out = sync("--server", server.url, run.directory)
    assert code == 0, out
    total = 2 + 60_000 + 30_000 + 2 + 1  # creation, running; points; lines; stages; end
    assert f"{total - sent_first} events uploaded" in out
    points = stored_points(server, uid)
    assert len(points) == 60_000
    assert len(stored_lines(server, uid)) == 30_000
