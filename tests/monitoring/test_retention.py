"""Retention: old raw samples are folded into per-minute averages in bounded batches."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.services import job_create
from monitoring.models import Resolution, ResourceSample
from monitoring.retention import resource_samples_prune
from monitoring.services import resource_samples_ingest

NOW = datetime(2026, 6, 30, 12, 0, 30, tzinfo=UTC)
OLD_MINUTE = datetime(2026, 6, 10, 8, 15, tzinfo=UTC)  # 20 days before NOW


def gpu(index, util, mem_used, power=None):
    return {
        "index": index,
        "name": f"GPU {index}",
        "util": util,
        "mem_used": mem_used,
        "mem_total": 1000,
        "temp": 60.0,
        "power": power,
        "power_limit": 300.0,
    }


def sample(at, cpu, ram_used, gpus=(), cores=(10.0, 20.0)):
    return {
        "time": at.isoformat(),
        "cpu_percent": cpu,
        "cpu_per_core": list(cores),
        "ram_used": ram_used,
        "ram_total": 4000,
        "disk_read_rate": 100.0,
        "gpus": list(gpus),
    }


@pytest.mark.django_db
def test_retention_prunes_old_raw_samples_and_keeps_their_minute_averages():
    job, _ = job_create(name="long run", uid="long-run")
    seconds = timedelta(seconds=1)
    resource_samples_ingest(
        host="box",
        jobs=[job],
        samples=[
            sample(OLD_MINUTE, 10.0, 1000, [gpu(0, 90.0, 500, 200.0), gpu(1, 10.0, 100)]),
            sample(OLD_MINUTE + 20 * seconds, 20.0, 2000, [gpu(0, 70.0, 700, 220.0)]),
            sample(
                OLD_MINUTE + 40 * seconds,
                60.0,
                3001,
                [gpu(0, 80.0, 600, None), gpu(1, 30.0, 300)],
                cores=(30.0, 40.0),
            ),
            # The next minute, alone in its bucket.
            sample(OLD_MINUTE + 65 * seconds, 50.0, 1500),
        ],
    )
    recent = NOW - timedelta(days=1)
    resource_samples_ingest(host="box", jobs=[job], samples=[sample(recent, 5.0, 900)])
    resource_samples_ingest(host="other", samples=[sample(OLD_MINUTE, 40.0, 800)])

    # A batch of 2 forces minutes to straddle batches and several flushes.
    written, deleted = resource_samples_prune(retain_days=14, now=NOW, batch_size=2)

    assert (written, deleted) == (3, 5)
    raw = ResourceSample.objects.filter(resolution=Resolution.RAW)
    assert [s.time for s in raw] == [recent]  # only the recent raw sample is left
    minutes = ResourceSample.objects.filter(resolution=Resolution.MINUTE)
    first = minutes.get(host="box", time=OLD_MINUTE)
    assert first.job == job
    assert first.cpu_percent == pytest.approx(30.0)
    assert first.ram_used == 2000  # round((1000 + 2000 + 3001) / 3), stored as an integer
    assert first.ram_total == 4000
    assert first.disk_read_rate == pytest.approx(100.0)
    assert first.cpu_per_core == pytest.approx([50 / 3, 80 / 3])
    gpu0, gpu1 = first.gpus
    assert gpu0["index"] == 0 and gpu0["name"] == "GPU 0"
    assert gpu0["util"] == pytest.approx(80.0)
    assert gpu0["mem_used"] == 600
    assert gpu0["power"] == pytest.approx(210.0)  # the sample without power is left out
    assert gpu1["index"] == 1
    assert gpu1["util"] == pytest.approx(20.0) and gpu1["mem_used"] == 200
    assert gpu1["power"] is None
    second = minutes.get(host="box", time=OLD_MINUTE + timedelta(minutes=1))
    assert second.cpu_percent == pytest.approx(50.0) and second.gpus == []
    other = minutes.get(host="other")
    assert other.job is None and other.cpu_percent == pytest.approx(40.0)

    # A second pass finds nothing more to do, and the averages stay.
    assert resource_samples_prune(retain_days=14, now=NOW) == (0, 0)
    assert minutes.count() == 3


@pytest.mark.django_db
def test_retention_of_zero_days_keeps_everything():
    resource_samples_ingest(host="box", samples=[sample(OLD_MINUTE, 10.0, 1000)])
    assert resource_samples_prune(retain_days=0, now=NOW) == (0, 0)
    assert ResourceSample.objects.count() == 1
