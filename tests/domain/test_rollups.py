import math
import random

import pytest

from jobs import services
from jobs.models import MetricRollup
from jobs.rollups import WIDTHS, series_downsample, series_totals

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    return services.job_create(name="rollups", uid="rollups")[0]


def ingest(job, values, start=0, key="train/loss"):
    for offset in range(0, len(values), 10_000):
        chunk = values[offset : offset + 10_000]
        services.metrics_ingest(
            job=job,
            points=[
                {"key": key, "step": start + offset + i, "value": v} for i, v in enumerate(chunk)
            ],
        )


def brute_force(values, width):
    buckets = {}
    for step, value in enumerate(values):
        buckets.setdefault(step // width, []).append((step, value))
    out = {}
    for bucket, points in buckets.items():
        finite = [(s, v) for s, v in points if not math.isnan(v)]
        nan = [s for s, v in points if math.isnan(v)]
        out[bucket] = (
            len(points),
            min(finite, key=lambda p: p[1]) if finite else None,
            max(finite, key=lambda p: p[1]) if finite else None,
            nan[0] if nan else None,
        )
    return out


def stored(job, width):
    return {
        r.bucket: (
            r.count,
            (r.min_step, r.min_value) if r.min_step is not None else None,
            (r.max_step, r.max_value) if r.max_step is not None else None,
            r.nan_step,
        )
        for r in MetricRollup.objects.filter(job=job, key="train/loss", width=width)
    }


def test_rollups_of_appended_batches_match_a_recount_from_scratch(job):
    rng = random.Random(7)
    values = [rng.gauss(0, 1) for _ in range(5000)]
    values[1234] = math.nan
    for start in range(0, 5000, 700):  # batches that straddle bucket edges
        ingest(job, values[start : start + 700], start=start)
    for width in WIDTHS:
        assert stored(job, width) == brute_force(values, width)


def test_overwriting_a_buckets_extreme_recomputes_the_bucket(job):
    values = [float(i % 50) for i in range(300)]
    ingest(job, values)
    values[49] = 0.5  # the max of bucket 1 at width 32 (steps 32–63) goes away
    ingest(job, [0.5], start=49)
    for width in WIDTHS:
        assert stored(job, width) == brute_force(values, width)


def test_downsampling_200k_points_keeps_global_min_max_and_nan(job):
    rng = random.Random(1)
    values = [2.0 + rng.gauss(0, 0.1) for _ in range(200_000)]
    values[123_457] = -40.0
    values[77_777] = 99.0
    values[150_001] = math.nan
    ingest(job, values)
    points = series_downsample(job_id=job.pk, key="train/loss", lo=0, hi=199_999, max_points=1000)
    assert len(points) <= 1000
    steps = [p[0] for p in points]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 199_999
    assert [123_457, -40.0] in [p[:2] for p in points]
    assert [77_777, 99.0] in [p[:2] for p in points]
    assert [150_001, "NaN"] in [p[:2] for p in points]
    assert series_totals(job_id=job.pk, keys=["train/loss"]) == {
        "train/loss": (200_000, 0, 199_999)
    }


def test_short_ranges_are_left_to_raw_reads(job):
    ingest(job, [1.0] * 500)
    assert series_downsample(job_id=job.pk, key="train/loss", lo=0, hi=499, max_points=1000) is None
