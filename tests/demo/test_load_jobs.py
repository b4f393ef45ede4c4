import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from jobs.models import Job, LogEntry, MetricPoint, Stage
from monitoring.models import ResourceSample

pytestmark = pytest.mark.django_db


def row_counts():
    return {
        model.__name__: model.objects.count()
        for model in (Job, Stage, MetricPoint, LogEntry, ResourceSample)
    }


def write_fixture(tmp_path, jobs, name="jobs.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"jobs": jobs}))
    return str(path)


def valid_record(**overrides):
    record = {
        "uid": "tiny-job",
        "name": "tiny job",
        "model": "gpt2",
        "dataset": "wikitext",
        "status": "completed",
        "started_at": "now-2h",
        "finished_at": "now-1h",
        "total_steps": 100,
    }
    record.update(overrides)
    return record


def test_load_jobs_loads_every_fixture_job_with_five_stages():
    call_command("load_jobs", stdout=StringIO())
    assert Job.objects.count() >= 14
    assert set(Job.objects.values_list("status", flat=True)) == {
        "queued",
        "running",
        "completed",
        "failed",
        "cancelled",
    }
    for job in Job.objects.all():
        assert [s.name for s in job.stages.all()] == [
            "dataset_loading",
            "tokenization",
            "training",
            "validation",
            "save_model",
        ]


def test_load_jobs_twice_leaves_identical_row_counts():
    call_command("load_jobs", stdout=StringIO())
    first = row_counts()
    call_command("load_jobs", stdout=StringIO())
    assert row_counts() == first


def test_loaded_stages_agree_with_job_status():
    call_command("load_jobs", stdout=StringIO())
    failed = Job.objects.get(uid="qwen2-7b-codealpaca-tok")
    statuses = {s.name: s.status for s in failed.stages.all()}
    assert statuses["dataset_loading"] == "completed"
    assert statuses["tokenization"] == "failed"
    assert statuses["training"] == "pending"
    running = Job.objects.get(uid="llama3-8b-alpaca-lora")
    training = running.stages.get(name="training")
    assert training.status == "active"
    assert running.started_at <= training.started_at
    queued = Job.objects.filter(status="queued").order_by("queue_position")
    assert [j.queue_position for j in queued] == list(range(1, queued.count() + 1))


@pytest.mark.parametrize(
    ("case", "content", "expected"),
    [
        ("broken JSON", '{"jobs": [ {"uid": "x",', ["invalid JSON", "line 1"]),
        ("missing field", [valid_record(name=None)], ["record 0", "tiny-job", "name"]),
        ("unknown status", [valid_record(status="exploded")], ["record 0", "status", "exploded"]),
        (
            "duplicated uid",
            [valid_record(), valid_record(name="again")],
            ["record 1", "tiny-job", "uid: duplicated"],
        ),
    ],
)
def test_a_bad_file_names_file_record_and_field_and_changes_nothing(
    tmp_path, case, content, expected
):
    call_command("load_jobs", stdout=StringIO())
    before = row_counts()
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps({"jobs": content}))
    # The good fixture first: a bad record in a later file must not leave the earlier one.
    good = write_fixture(tmp_path, [valid_record(uid="good-job")], "good.json")
    with pytest.raises(CommandError) as raised:
        call_command("load_jobs", good, str(path))
    message = str(raised.value)
    assert str(path) in message
    for fragment in expected:
        assert fragment in message
    assert row_counts() == before
    assert not Job.objects.filter(uid="good-job").exists()


def test_load_jobs_exits_non_zero_on_a_bad_file(tmp_path):
    import subprocess
    import sys

    path = write_fixture(tmp_path, [valid_record(status="exploded")])
    env = {"TUNEBOARD_DATA_DIR": str(tmp_path / "data"), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, check=True)
    result = subprocess.run(
        [sys.executable, "manage.py", "load_jobs", path], env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "status" in result.stderr and path in result.stderr
