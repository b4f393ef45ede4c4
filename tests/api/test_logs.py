"""Log lines: POST and GET /api/jobs/{uid}/logs."""

import pytest

from jobs.models import LogEntry
from tests.factories import add_logs, make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def job():
    return make_job(uid="run-1", status="running")


def seqs(response):
    return [line["seq"] for line in response.json()["lines"]]


def test_posting_lines_stores_new_seqs_and_ignores_known_ones(token_client, job):
    lines = [{"seq": i, "message": f"step {i}", "level": "INFO"} for i in range(5)]
    first = token_client.post("/api/jobs/run-1/logs", {"lines": lines}, format="json")
    assert first.status_code == 200 and first.json() == {"accepted": 5}
    retry = token_client.post(
        "/api/jobs/run-1/logs",
        {"lines": [*lines, {"seq": 5, "message": "new", "level": "warn"}]},
        format="json",
    )
    assert retry.json() == {"accepted": 1}
    assert LogEntry.objects.filter(job=job).count() == 6
    assert LogEntry.objects.get(job=job, seq=5).level == "WARNING"


def test_a_bad_line_rejects_the_batch_naming_index_and_field(token_client, job):
    lines = [{"seq": 0, "message": "ok"}, {"seq": -3, "message": "x"}, {"seq": 2}]
    response = token_client.post("/api/jobs/run-1/logs", {"lines": lines}, format="json")
    assert response.status_code == 400
    errors = response.json()["lines"]
    assert "seq" in errors["1"] and "message" in errors["2"]
    assert LogEntry.objects.count() == 0


def test_an_unknown_level_is_named(token_client, job):
    response = token_client.post(
        "/api/jobs/run-1/logs",
        {"lines": [{"seq": 0, "message": "x", "level": "LOUD"}]},
        format="json",
    )
    assert response.status_code == 400 and "level" in response.json()["lines"]["0"]


def test_lines_come_back_in_seq_order_after_a_seq(token_client, job):
    add_logs(job, 10)
    response = token_client.get("/api/jobs/run-1/logs?after_seq=6")
    assert response.status_code == 200
    assert seqs(response) == [7, 8, 9]
    body = response.json()
    assert body["next_after_seq"] is None and body["last_seq"] == 9
    assert body["lines"][0] == {
        "seq": 7,
        "time": body["lines"][0]["time"],
        "level": "INFO",
        "message": "line 7",
    }


def test_a_full_page_points_to_the_next_one(token_client, job):
    add_logs(job, 25)
    first = token_client.get("/api/jobs/run-1/logs?limit=10").json()
    assert [line["seq"] for line in first["lines"]] == list(range(10))
    assert first["next_after_seq"] == 9
    second = token_client.get(f"/api/jobs/run-1/logs?limit=10&after_seq={first['next_after_seq']}")
    assert seqs(second) == list(range(10, 20))


def test_page_size_is_bounded(token_client, job):
    add_logs(job, 5)
    assert token_client.get("/api/jobs/run-1/logs?limit=0").status_code == 400
    assert token_client.get("/api/jobs/run-1/logs?limit=999999").status_code == 200


def test_level_keeps_that_level_and_above(token_client, job):
    add_logs(job, 2, start=0, level="DEBUG")
    add_logs(job, 2, start=2, level="INFO")
    add_logs(job, 2, start=4, level="WARNING")
    add_logs(job, 1, start=6, level="ERROR")
    assert seqs(token_client.get("/api/jobs/run-1/logs?level=warning")) == [4, 5, 6]
    assert seqs(token_client.get("/api/jobs/run-1/logs?level=ERROR")) == [6]
    bad = token_client.get("/api/jobs/run-1/logs?level=LOUD")
    assert bad.status_code == 400 and "level" in bad.json()


def test_q_searches_messages_case_insensitively(token_client, job):
    add_logs(job, 3, message="epoch {seq} done")
    add_logs(job, 1, start=3, message="CUDA out of memory")
    assert seqs(token_client.get("/api/jobs/run-1/logs?q=cuda")) == [3]


def test_tail_returns_the_newest_lines_in_order(token_client, job):
    add_logs(job, 30)
    body = token_client.get("/api/jobs/run-1/logs?tail=true&limit=5").json()
    assert [line["seq"] for line in body["lines"]] == [25, 26, 27, 28, 29]
    assert body["last_seq"] == 29


def test_logs_of_an_unknown_job_are_a_404(token_client):
    assert token_client.get("/api/jobs/ghost/logs").status_code == 404
    response = token_client.post(
        "/api/jobs/ghost/logs", {"lines": [{"seq": 0, "message": "x"}]}, format="json"
    )
    assert response.status_code == 404


def test_posting_logs_needs_a_token(api_client, job):
    response = api_client.post(
        "/api/jobs/run-1/logs", {"lines": [{"seq": 0, "message": "x"}]}, format="json"
    )
    assert response.status_code == 401
    assert LogEntry.objects.count() == 0
