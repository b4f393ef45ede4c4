"""`manage.py sample_resources`: storing samples, --once, bad flags, SIGTERM."""

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from tuneboard.sampling import HostSampler, NvmlReader

from jobs.models import JobStatus
from jobs.services import job_create, job_status_update
from monitoring.models import ResourceSample
from monitoring.sampler import Sampler
from tests.client.test_sampling import FakeNvmlTwoGpus, FakeNvmlWithoutLibrary


def running_job(uid, host):
    job, _ = job_create(name=uid, uid=uid, total_steps=100)
    return job_status_update(job=job, status=JobStatus.RUNNING, host=host)


@pytest.mark.django_db
def test_both_gpus_of_a_two_gpu_host_are_stored_linked_to_its_running_job():
    job = running_job("llama-on-box", "box-1")
    running_job("elsewhere", "box-2")
    sampler = Sampler(host="box-1", sampler=HostSampler(nvml=NvmlReader(FakeNvmlTwoGpus())))

    sampler.sample_once()

    row = ResourceSample.objects.get()
    assert row.host == "box-1" and row.job == job
    assert [g["index"] for g in row.gpus] == [0, 1]
    assert [g["power"] for g in row.gpus] == [612.5, 98.0]
    assert row.ram_total == psutil.virtual_memory().total


@pytest.mark.django_db
def test_without_the_nvml_library_samples_are_stored_without_gpu_fields():
    sampler = Sampler(
        host="cpu-box", sampler=HostSampler(nvml=NvmlReader(FakeNvmlWithoutLibrary()))
    )
    sampler.sample_once()
    sampler.sample_once()

    rows = list(ResourceSample.objects.all())
    assert len(rows) == 2
    assert all(r.gpus == [] and r.job is None and r.cpu_percent is not None for r in rows)


@pytest.mark.django_db
def test_job_flag_links_samples_to_that_job_whatever_its_host():
    job = running_job("remote-run", "gpu-node-9")
    sampler = Sampler(host="here", job_uid=job.uid, sampler=HostSampler(nvml=NvmlReader(None)))
    sampler.sample_once()
    assert ResourceSample.objects.get().job == job


@pytest.mark.django_db
def test_once_prints_one_sample_as_json_and_stores_it():
    out = io.StringIO()
    call_command("sample_resources", "--once", "--host", "once-box", stdout=out)
    sample = json.loads(out.getvalue())
    assert sample["host"] == "once-box"
    assert sample["ram_total"] == psutil.virtual_memory().total
    assert 0 <= sample["cpu_percent"] <= 100
    assert ResourceSample.objects.filter(host="once-box").count() == 1


def test_an_interval_under_half_a_second_is_refused():
    with pytest.raises(CommandError, match=r"--interval must be at least 0\.5"):
        call_command("sample_resources", "--interval", "0.2")


@pytest.mark.django_db
def test_an_unknown_job_is_refused():
    with pytest.raises(CommandError, match="--job: no job with uid 'nope'"):
        call_command("sample_resources", "--once", "--job", "nope")


def test_sigterm_stops_the_sampler_within_one_second(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(TUNEBOARD_DATA_DIR=str(tmp_path), LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
    env.pop("SQLITE_PATH", None)
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, timeout=120)
    process = subprocess.Popen(
        [*manage, "sample_resources", "--interval", "0.5", "--host", "sigterm-box"],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait for the loop to start, then for its first stored sample.
        for line in process.stderr:
            if "Sampling sigterm-box every" in line:
                break
        database = sqlite3.connect(tmp_path / "tuneboard.sqlite3", timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            stored = database.execute("SELECT count(*) FROM monitoring_resourcesample").fetchone()
            if stored[0]:
                break
            time.sleep(0.05)
        database.close()
        assert stored[0] >= 1, "the sampler never stored a sample"

        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=5)
        elapsed = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert returncode == 0
    assert elapsed < 1.0, f"took {elapsed:.2f} s to stop"
