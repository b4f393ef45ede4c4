"""Metric ingest and series reads: /api/jobs/{uid}/metrics, /export, /api/training/losses."""

import csv
import io
import json
import math
import random
import tracemalloc

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs.models import MetricPoint
from tests.factories import add_points, ingest_points, make_job, points

pytestmark = pytest.mark.django_db


def post_json(client, url, text):
    """POST a raw JSON text (to send NaN tokens, broken JSON, oversize bodies)."""
    return client.post(url, data=text, content_type="application/json")


@pytest.fixture
def job():
    return make_job(uid="run-1", status="running", total_steps=1000)


# --- ingest ------------------------------------------------------------------------------


def test_posting_10000_points_twice_leaves_exactly_10000_rows(token_client, job):
    batch = {"points": points(10_000)}
    with CaptureQueriesContext(connection) as first:
        response = token_client.post("/api/jobs/run-1/metrics", batch, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {"accepted": 10_000}
    again = token_client.post("/api/jobs/run-1/metrics", batch, format="json")
    assert again.status_code == 200
    assert MetricPoint.objects.filter(job=job).count() == 10_000
    # One bulk statement in 2000-row chunks, not a query per point.
    assert len(first.captured_queries) < 30


def test_a_repeated_point_replaces_the_stored_value(token_client, job):
    ingest_points(job, 3)
    response = token_client.post(
        "/api/jobs/run-1/metrics",
        {"points": [{"key": "train/loss", "step": 1, "value": 7.5}]},
        format="json",
    )
    assert response.status_code == 200
    assert MetricPoint.objects.get(job=job, key="train/loss", step=1).value == 7.5


def test_a_batch_with_one_bad_point_stores_nothing_and_names_it(token_client, job):
    batch = points(50)
    batch[17]["value"] = "twelve"
    batch[30]["step"] = -1
    response = token_client.post("/api/jobs/run-1/metrics", {"points": batch}, format="json")
    assert response.status_code == 400
    errors = response.json()["points"]
    assert set(errors) == {"17", "30"}
    assert "value" in errors["17"] and "step" in errors["30"]
    assert MetricPoint.objects.count() == 0


@pytest.mark.parametrize(
    ("point", "field"),
    [
        ({"step": 1, "value": 1.0}, "key"),
        ({"key": "a", "value": 1.0}, "step"),
        ({"key": "a", "step": 1}, "value"),
        ({"key": "a", "step": 1.5, "value": 1.0}, "step"),
        ({"key": "a", "step": 1, "value": None}, "value"),
    ],
)
def test_a_point_missing_or_malformed_field_is_named(token_client, job, point, field):
    response = token_client.post("/api/jobs/run-1/metrics", {"points": [point]}, format="json")
    assert response.status_code == 400
    assert field in response.json()["points"]["0"]


def test_an_oversize_batch_is_rejected_naming_points(token_client, job):
    response = token_client.post(
        "/api/jobs/run-1/metrics", {"points": points(10_001)}, format="json"
    )
    assert response.status_code == 400
    assert "points" in response.json()
    assert MetricPoint.objects.count() == 0


def test_broken_json_is_a_400_with_a_parse_message(token_client, job):
    response = post_json(token_client, "/api/jobs/run-1/metrics", '{"points": [')
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_a_body_over_the_size_limit_is_a_413_json(token_client, job, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    response = token_client.post("/api/jobs/run-1/metrics", {"points": points(200)}, format="json")
    assert response.status_code == 413
    assert "limit is 2048 bytes" in response.json()["detail"]
    assert MetricPoint.objects.count() == 0


def test_a_body_that_is_not_an_object_is_a_400(token_client, job):
    response = post_json(token_client, "/api/jobs/run-1/metrics", "[1, 2]")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_nan_and_infinity_round_trip_as_tokens_and_strings(token_client, job):
    body = (
        '{"points": ['
        '{"key": "train/loss", "step": 1, "value": NaN},'
        '{"key": "train/loss", "step": 2, "value": "nan"},'
        '{"key": "train/loss", "step": 3, "value": Infinity},'
        '{"key": "train/loss", "step": 4, "value": "-inf"},'
        '{"key": "train/loss", "step": 5, "value": 0.5}]}'
    )
    assert post_json(token_client, "/api/jobs/run-1/metrics", body).status_code == 200
    response = token_client.get("/api/jobs/run-1/metrics")
    assert response.status_code == 200
    series = response.json()["series"]["train/loss"]
    values = [value for _, value, _ in series["points"]]
    assert values == ["NaN", "NaN", "Infinity", "-Infinity", 0.5]
    # The body is strict JSON: no bare NaN tokens for browsers to choke on.
    json.loads(response.content, parse_constant=lambda token: pytest.fail(token))
    detail = token_client.get("/api/jobs/run-1").json()
    assert detail["latest_metrics"]["train/loss"]["value"] == 0.5


def test_posting_metrics_without_a_token_is_a_401_and_stores_nothing(
    api_client, session_client, job
):
    batch = {"points": points(3)}
    assert api_client.post("/api/jobs/run-1/metrics", batch, format="json").status_code == 401
    assert session_client.post("/api/jobs/run-1/metrics", batch, format="json").status_code == 403
    assert MetricPoint.objects.count() == 0


def test_posting_to_an_unknown_job_is_a_404(token_client):
    response = token_client.post("/api/jobs/nope/metrics", {"points": points(1)}, format="json")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


# --- series reads ------------------------------------------------------------------------


def test_a_short_series_comes_back_exact(token_client, job):
    ingest_points(job, 20)
    ingest_points(job, 5, key="val/loss", start=0, value=lambda s: 2.0)
    response = token_client.get("/api/jobs/run-1/metrics?max_points=100")
    series = response.json()["series"]
    assert series["train/loss"]["total"] == 20 and not series["train/loss"]["downsampled"]
    assert [p[0] for p in series["train/loss"]["points"]] == list(range(20))
    assert series["val/loss"]["points"][0] == [0, 2.0, None]


def test_keys_selects_series_and_unknown_keys_come_back_empty(token_client, job):
    ingest_points(job, 5)
    ingest_points(job, 5, key="grad_norm")
    response = token_client.get("/api/jobs/run-1/metrics?keys=grad_norm,val/f1")
    series = response.json()["series"]
    assert set(series) == {"grad_norm", "val/f1"}
    assert series["val/f1"] == {"points": [], "total": 0, "downsampled": False}


def test_since_step_returns_exactly_the_newer_points(token_client, job):
    ingest_points(job, 300)
    response = token_client.get("/api/jobs/run-1/metrics?since_step=250")
    points_ = response.json()["series"]["train/loss"]["points"]
    assert [p[0] for p in points_] == list(range(251, 300))
    assert response.json()["series"]["train/loss"]["downsampled"] is False
    latest = token_client.get("/api/jobs/run-1/metrics?since_step=299").json()
    assert latest["series"]["train/loss"]["points"] == []


def test_a_200000_point_series_downsampled_to_1000_keeps_its_global_min_and_max(token_client, job):
    rng = random.Random(7)
    values = [1.0 + rng.random() for _ in range(200_000)]
    values[123_457] = -5.0  # a dip
    values[77_777] = 50.0  # a loss spike
    values[150_000] = None  # a NaN
    add_points(job, values)
    with CaptureQueriesContext(connection) as queries:
        response = token_client.get("/api/jobs/run-1/metrics?keys=train/loss&max_points=1000")
    series = response.json()["series"]["train/loss"]
    kept = series["points"]
    assert series["total"] == 200_000 and series["downsampled"] is True
    assert len(kept) <= 1000
    assert len(kept) > 900  # the budget is used, not wasted
    assert [v for s, v, _ in kept if s == 77_777] == [50.0]
    assert [v for s, v, _ in kept if s == 123_457] == [-5.0]
    assert [150_000, "NaN"] in [[s, v] for s, v, _ in kept]
    assert kept[0][0] == 0 and kept[-1][0] == 199_999
    assert [p[0] for p in kept] == sorted(p[0] for p in kept)
    # token, the reader's project roles, the job, totals, rollups (and their NaN epochs)
    assert len(queries.captured_queries) <= 6


def test_every_bucket_keeps_its_minimum_and_maximum(token_client, job):
    # A sawtooth: the minima and maxima of each bucket must all survive.
    add_points(job, [float(step % 100) for step in range(20_000)])
    kept = token_client.get("/api/jobs/run-1/metrics?max_points=400").json()["series"]
    values = [v for _, v, _ in kept["train/loss"]["points"]]
    assert len(values) <= 400
    assert values.count(0.0) >= 150 and values.count(99.0) >= 150


def test_max_points_below_10_is_rejected_and_above_the_cap_is_capped(token_client, job):
    bad = token_client.get("/api/jobs/run-1/metrics?max_points=1")
    assert bad.status_code == 400 and "max_points" in bad.json()
    capped = token_client.get("/api/jobs/run-1/metrics?max_points=50000")
    assert capped.json()["max_points"] == 10_000


def test_series_of_an_unknown_job_is_a_404(token_client):
    assert token_client.get("/api/jobs/ghost/metrics").status_code == 404


def test_reading_needs_a_session_or_token(api_client, session_client, job, settings):
    assert api_client.get("/api/jobs/run-1/metrics").status_code == 401
    assert session_client.get("/api/jobs/run-1/metrics").status_code == 200
    settings.TUNEBOARD_PUBLIC_READ = True
    assert api_client.get("/api/jobs/run-1/metrics").status_code == 200


def test_losses_return_train_and_validation_loss(token_client, job):
    ingest_points(job, 10)
    ingest_points(job, 2, key="val/loss")
    ingest_points(job, 4, key="grad_norm")
    response = token_client.get("/api/training/losses?job=run-1")
    assert response.status_code == 200
    series = response.json()["series"]
    assert set(series) == {"train/loss", "val/loss"}
    assert series["train/loss"]["total"] == 10 and series["val/loss"]["total"] == 2


def test_losses_need_a_known_job(token_client):
    assert token_client.get("/api/training/losses").status_code == 400
    assert token_client.get("/api/training/losses?job=ghost").status_code == 404


# --- export ------------------------------------------------------------------------------


def test_export_csv_streams_every_point(token_client, job):
    ingest_points(job, 3)
    ingest_points(job, 2, key="val/acc", value=lambda s: math.nan if s else 0.9)
    response = token_client.get("/api/jobs/run-1/export?format=csv")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["key", "step", "epoch", "value", "time"]
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [
        ("train/loss", "0", "1.0"),
        ("train/loss", "1", "0.5"),
        ("train/loss", "2", "0.3333333333333333"),
        ("val/acc", "0", "0.9"),
        ("val/acc", "1", "NaN"),
    ]


def test_export_json_is_one_strict_json_array(token_client, job):
    ingest_points(job, 3, value=lambda s: math.inf if s == 1 else 1.0)
    response = token_client.get("/api/jobs/run-1/export?format=json")
    assert response.status_code == 200 and response.streaming
    items = json.loads(b"".join(response.streaming_content))
    assert [item["value"] for item in items] == [1.0, "Infinity", 1.0]
    assert set(items[0]) == {"key", "step", "epoch", "value", "time"}


def test_export_memory_stays_flat_while_streaming(token_client, job):
    add_points(job, [0.5] * 100_000)
    response = token_client.get("/api/jobs/run-1/export?format=csv")
    tracemalloc.start()
    size = sum(len(chunk) for chunk in response.streaming_content)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert size > 4_000_000
    # The 100 000 rows as Python tuples alone take ~30 MB; streaming holds one
    # 5000-row database chunk and one text chunk at a time.
    assert peak < 8_000_000


def test_export_rejects_an_unknown_format_and_an_unknown_job(token_client, job):
    bad = token_client.get("/api/jobs/run-1/export?format=xml")
    assert bad.status_code == 400 and "format" in bad.json()
    assert token_client.get("/api/jobs/ghost/export?format=csv").status_code == 404
