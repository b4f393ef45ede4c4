"""Stored rollups and downsampled reads against brute-force recounts of the stored points.

Runs on SQLite and, with DATABASE_URL set, on PostgreSQL. Writers that really run at the
same time are in test_concurrency.py.
"""

import math
import random

import pytest

from jobs import services
from jobs.models import MetricRollup
from jobs.selectors import metric_series
from tests.domain.invariants import (
    rollup_path_reference,
    rollups_disagreeing,
    stored_points,
    window_path_reference,
)

pytestmark = pytest.mark.django_db

KEY = "train/loss"


@pytest.fixture
def job():
    return services.job_create(name="invariants", uid="invariants")[0]


def post(job, steps_values, key=KEY):
    """Batches of at most 10,000 through metrics_ingest; None is NaN; epoch is step / 100."""
    points = [
        {"key": key, "step": s, "value": math.nan if v is None else v, "epoch": s / 100}
        for s, v in steps_values
    ]
    for start in range(0, len(points), 10_000):
        services.metrics_ingest(job=job, points=points[start : start + 10_000])


def series(rng, steps):
    return [(s, round(rng.gauss(0, 1), 6)) for s in steps]


def test_rollups_equal_a_recount_after_retries_out_of_order_batches_and_overwritten_extremes(job):
    rng = random.Random(13)
    points = series(rng, range(1000, 9000))
    batches = [points[i : i + 500] for i in range(0, len(points), 500)]
    rng.shuffle(batches)  # out of order: later steps first, buckets filled from both ends
    for batch in batches:
        post(job, batch)
    post(job, batches[3])  # a retry of a batch already stored
    post(job, [(1500, 50.0), (1501, -50.0)])  # new extremes inside stored buckets...
    post(job, [(1500, 0.0), (1501, 0.0)])  # ...overwritten away again
    post(job, [(2047, None), (2048, None), (4096, math.inf), (4097, -math.inf)])
    post(job, [(2048, 3.0)])  # a NaN overwritten by a value
    post(job, [(s, 1.25) for s in range(5000, 5100)])  # ties: the earliest step wins
    assert rollups_disagreeing(job.pk) == []


def test_rollups_equal_a_recount_for_sparse_keys_and_steps_far_apart(job):
    rng = random.Random(5)
    post(job, series(rng, range(0, 40_000, 37)), key="val/loss")
    post(job, series(rng, [3, 10**9, 10**9 + 1]), key="lr")
    post(job, series(rng, range(7, 40_000, 41)), key="val/loss")  # interleaves the first
    assert rollups_disagreeing(job.pk) == []


def _stored_nan_history(job, rng):
    """Mixed series: non-zero start, NaNs later overwritten, NaNs kept, spikes, ±inf."""
    points = dict(series(rng, range(1234, 31_234)))
    for step in rng.sample(sorted(points), 300):
        points[step] = None
    post(job, sorted(points.items())[:15_000])
    post(job, sorted(points.items())[15_000:])
    overwritten = [s for s, v in points.items() if v is None][::2]
    post(job, [(s, 0.5) for s in overwritten])
    post(job, [(20_001, 99.0), (20_002, -99.0), (25_000, math.inf), (25_001, -math.inf)])


def _read(job, *, key=KEY, since_step=None, max_points):
    entry = metric_series(job=job, keys=[key], since_step=since_step, max_points=max_points)[key]
    assert entry["downsampled"]
    assert len(entry["points"]) <= max_points
    return entry["points"]


@pytest.mark.parametrize("max_points", [50, 1000])
def test_a_rollup_read_equals_a_brute_force_min_max_per_bucket(job, max_points):
    _stored_nan_history(job, random.Random(max_points))
    stored = stored_points(job.pk)[KEY]
    assert rollups_disagreeing(job.pk) == []
    assert _read(job, max_points=max_points) == rollup_path_reference(stored, max_points=max_points)


@pytest.mark.parametrize(
    ("since_step", "max_points"), [(1233, 1000), (1234, 50), (5000, 400), (12_345, 1000)]
)
def test_a_since_step_read_equals_a_brute_force_min_max_per_bucket(job, since_step, max_points):
    _stored_nan_history(job, random.Random(since_step))
    stored = [p for p in stored_points(job.pk)[KEY] if p[0] > since_step]
    assert _read(job, since_step=since_step, max_points=max_points) == window_path_reference(
        stored, max_points=max_points
    )


def test_a_key_without_rollups_is_downsampled_from_its_points_like_the_reference(job):
    _stored_nan_history(job, random.Random(3))
    MetricRollup.objects.filter(job=job).delete()  # written before rollups existed
    stored = stored_points(job.pk)[KEY]
    assert _read(job, max_points=300) == window_path_reference(stored, max_points=300)


def test_a_sparse_key_is_downsampled_like_the_reference_on_both_paths(job):
    rng = random.Random(9)
    steps = sorted(rng.sample(range(500, 2_000_000), 6000))
    post(job, [(s, None if i % 97 == 0 else rng.gauss(0, 1)) for i, s in enumerate(steps)])
    stored = stored_points(job.pk)[KEY]
    assert _read(job, max_points=500) == rollup_path_reference(stored, max_points=500)
    middle = steps[1000] + 1  # starts between two stored points, inside a bucket
    in_range = [p for p in stored if p[0] > middle - 1]
    assert _read(job, since_step=middle - 1, max_points=500) == window_path_reference(
        in_range, max_points=500
    )
