"""POST /api/resources (host agent) and GET /api/training/resources (charts)."""

from datetime import UTC, datetime, timedelta

import pytest

from monitoring.models import ResourceSample
from tests.factories import add_samples, make_job, make_token, sample

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def post(client, body):
    return client.post("/api/resources", body, format="json")


def test_posting_samples_for_a_job_links_them(token_client):
    job = make_job(uid="live", status="running")
    response = post(
        token_client,
        {"host": "gpu-1", "job": "live", "samples": [sample(), sample(cpu_percent=90.0)]},
    )
    assert response.status_code == 200 and response.json() == {"accepted": 2}
    assert ResourceSample.objects.filter(job=job, host="gpu-1").count() == 2


def test_posting_samples_without_a_job_links_the_hosts_running_jobs(token_client):
    first = make_job(uid="a", status="running", host="gpu-2")
    second = make_job(uid="b", status="running", host="gpu-2")
    make_job(uid="c", status="completed", host="gpu-2")
    assert post(token_client, {"host": "gpu-2", "samples": [sample()]}).json() == {"accepted": 2}
    assert set(ResourceSample.objects.values_list("job__uid", flat=True)) == {first.uid, second.uid}


def test_posting_samples_of_an_idle_host_stores_them_for_the_host(token_client):
    assert post(token_client, {"host": "idle", "samples": [sample()]}).status_code == 200
    assert ResourceSample.objects.get().job is None


def test_a_bad_sample_rejects_the_batch_naming_it(token_client):
    body = {"host": "gpu-1", "samples": [sample(), sample(cpu_percent=-5), sample(cpu_temp="hot")]}
    response = post(token_client, body)
    assert response.status_code == 400
    errors = response.json()["samples"]
    assert "cpu_percent" in errors["1"] and "cpu_temp" in errors["2"]
    assert ResourceSample.objects.count() == 0


def test_missing_host_and_samples_are_named(token_client):
    response = post(token_client, {})
    assert response.status_code == 400 and {"host", "samples"} <= set(response.json())


def test_posting_needs_a_token_a_known_job_and_scope(api_client, token_client):
    make_job(uid="live", status="running")
    assert post(api_client, {"host": "h", "samples": [sample()]}).status_code == 401
    assert (
        post(token_client, {"host": "h", "job": "ghost", "samples": [sample()]}).status_code == 404
    )
    _, raw = make_token(job_scope=["other"])
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert post(api_client, {"host": "h", "job": "live", "samples": [sample()]}).status_code == 403
    assert ResourceSample.objects.count() == 0


def test_reading_a_short_series_returns_every_sample(token_client):
    job = make_job(uid="live", status="running")
    add_samples("gpu-1", [sample(time=T0 + timedelta(seconds=i)) for i in range(5)], job=job)
    body = token_client.get("/api/training/resources?job=live").json()
    assert body["total"] == 5 and body["downsampled"] is False
    assert [s["time"] for s in body["samples"]] == [
        (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z") for i in range(5)
    ]
    assert body["samples"][0]["job"] == "live" and body["samples"][0]["gpus"][0]["util"] == 90.0


def test_since_returns_only_newer_samples(token_client):
    add_samples("gpu-1", [sample(time=T0 + timedelta(seconds=i)) for i in range(10)])
    since = (T0 + timedelta(seconds=6)).isoformat()
    body = token_client.get("/api/training/resources", {"host": "gpu-1", "since": since}).json()
    assert body["total"] == 3


def test_a_long_series_keeps_every_peak_and_trough(token_client):
    job = make_job(uid="live", status="running")
    samples = [
        sample(
            time=T0 + timedelta(seconds=i),
            cpu_percent=50.0,
            gpus=[{"util": 50.0, "temp": 60.0}, {"util": 40.0}],
        )
        for i in range(3000)
    ]
    samples[1234]["cpu_percent"] = 100.0
    samples[2222]["gpus"][1]["util"] = 0.0
    samples[77]["gpus"][0]["temp"] = 91.0
    for start in range(0, 3000, 1000):
        add_samples("gpu-1", samples[start : start + 1000], job=job)
    body = token_client.get("/api/training/resources?job=live&max_points=100").json()
    kept = body["samples"]
    assert body["total"] == 3000 and body["downsampled"] is True
    assert len(kept) <= 100
    assert max(s["cpu_percent"] for s in kept) == 100.0
    assert min(s["gpus"][1]["util"] for s in kept) == 0.0
    assert max(s["gpus"][0]["temp"] for s in kept) == 91.0
    assert [s["time"] for s in kept] == sorted(s["time"] for s in kept)


def test_reading_needs_exactly_one_of_job_or_host(token_client):
    assert token_client.get("/api/training/resources").status_code == 400
    both = token_client.get("/api/training/resources?job=a&host=b")
    assert both.status_code == 400
    assert token_client.get("/api/training/resources?job=ghost").status_code == 404


def test_a_multi_node_job_is_read_host_by_host_never_mixing_them_in_a_bucket(token_client):
    job = make_job(uid="multi", status="running", host="node-a")
    for host, cpu, count in (("node-a", 10.0, 300), ("node-b", 90.0, 120)):
        add_samples(
            host,
            [sample(time=T0 + timedelta(seconds=i), cpu_percent=cpu) for i in range(count)],
            job=job,
        )
    body = token_client.get("/api/training/resources?job=multi&max_points=100").json()
    assert body["total"] == 420 and body["downsampled"] is True
    assert [(h["host"], h["samples"]) for h in body["hosts"]] == [
        ("node-a", 300),
        ("node-b", 120),
    ]
    assert body["hosts"][1]["last"] == (T0 + timedelta(seconds=119)).isoformat().replace(
        "+00:00", "Z"
    )
    by_host = {}
    for s in body["samples"]:
        by_host.setdefault(s["host"], set()).add(s["cpu_percent"])
    # Each host's buckets hold its own readings only: a mixed bucket would span 10–90.
    assert by_host == {"node-a": {10.0}, "node-b": {90.0}}
    assert all(len([s for s in body["samples"] if s["host"] == h]) <= 50 for h in by_host)
    times = [datetime.fromisoformat(s["time"]) for s in body["samples"]]
    assert times == sorted(times)


def test_a_short_multi_node_read_returns_every_sample_of_every_host(token_client):
    job = make_job(uid="pair", status="running", host="node-a")
    add_samples("node-a", [sample(time=T0 + timedelta(seconds=i)) for i in range(3)], job=job)
    add_samples("node-b", [sample(time=T0 + timedelta(seconds=i)) for i in range(2)], job=job)
    body = token_client.get("/api/training/resources?job=pair").json()
    assert body["total"] == 5 and body["downsampled"] is False
    assert [s["host"] for s in body["samples"]].count("node-b") == 2
    assert [h["host"] for h in body["hosts"]] == ["node-a", "node-b"]
