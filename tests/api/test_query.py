"""`GET /api/jobs?query=…&sort=…`: the query language over HTTP, its 400s, projects."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from jobs import services
from tests.factories import jobs_bulk, make_job, make_token, make_user

pytestmark = pytest.mark.django_db


def uids(response):
    assert response.status_code == 200, response.content
    return [card["uid"] for card in response.json()["results"]]


def test_query_filters_by_config_and_metric_summaries(token_client):
    a = make_job(uid="a", config={"lr": 1e-4, "optim": "adamw_torch"}, status="running")
    b = make_job(uid="b", config={"lr": 3e-4, "optim": "sgd"}, status="running")
    make_job(uid="c", config={"lr": "auto"})
    services.metrics_ingest(
        job=a, points=[{"key": "val/loss", "step": s, "value": 1 / (s + 1)} for s in range(10)]
    )
    services.metrics_ingest(job=b, points=[{"key": "val/loss", "step": 0, "value": 2.0}])
    assert uids(token_client.get("/api/jobs", {"query": "lr>=1e-4"})) == ["b", "a"]
    assert uids(token_client.get("/api/jobs", {"query": "val/loss.min<0.5"})) == ["a"]
    assert uids(token_client.get("/api/jobs", {"query": "config.optim=sgd OR lr:auto"})) == [
        "c",
        "b",
    ]
    assert uids(token_client.get("/api/jobs", {"query": "-lr>=1e-4"})) == ["c"]


def test_query_syntax_error_is_a_400_with_the_position_and_what_was_expected(token_client):
    response = token_client.get("/api/jobs", {"query": "status:running (tag:a OR"})
    assert response.status_code == 400
    body = response.json()
    assert body["position"] == 24
    assert "expected a term" in body["query"][0]


def test_sort_orders_by_a_metric_with_missing_values_last(token_client):
    for uid, loss in (("x", 0.5), ("y", 0.1), ("z", None)):
        job = make_job(uid=uid, status="running")
        if loss is not None:
            services.metrics_ingest(job=job, points=[{"key": "val/loss", "step": 1, "value": loss}])
    assert uids(token_client.get("/api/jobs", {"sort": "val/loss.last"})) == ["y", "x", "z"]
    assert uids(token_client.get("/api/jobs", {"sort": "-val/loss.last"})) == ["x", "y", "z"]
    response = token_client.get("/api/jobs", {"sort": "bogus"})
    assert response.status_code == 400 and "sort" in response.json()


def test_search_box_words_keep_meaning_one_phrase_and_operators_make_a_query(token_client):
    make_job(uid="a", name="llama lora run", model="llama-3-8b")
    make_job(uid="b", name="llama run", model="x", status="running")
    assert uids(token_client.get("/api/jobs", {"q": "llama lora"})) == ["a"]
    assert uids(token_client.get("/api/jobs", {"q": "status:running"})) == ["b"]
    # Not a valid query: searched as text, never an error on the dashboard.
    assert uids(token_client.get("/api/jobs", {"q": "llama ("})) == []


def test_query_sees_only_the_readers_projects_and_their_config_keys():
    alice = make_user("alice2")
    bob = make_user("bob2")
    private = services.project_create(name="Secret", creator=bob)
    make_job(uid="open", config={"lr": 1e-3})
    make_job(uid="hidden", config={"lr": 1e-3, "secret_key": 1}, project=private)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(alice)[1]}")
    assert uids(client.get("/api/jobs", {"query": "lr>0"})) == ["open"]
    # A config key only another project's jobs have is unknown to this reader.
    response = client.get("/api/jobs", {"query": "secret_key:1"})
    assert response.status_code == 400 and "Unknown field" in response.json()["query"][0]


def test_a_query_costs_the_same_queries_for_10_and_120_jobs(token_client):
    def queries_for(count, prefix):
        jobs_bulk(count, config={"lr": 1e-4}, prefix=prefix)
        with CaptureQueriesContext(connection) as queries:
            response = token_client.get(
                "/api/jobs",
                {
                    "query": f"uid:~{prefix} (lr>0 train/loss.min<1 OR status:completed)",
                    "page_size": 200,
                },
            )
        assert len(response.json()["results"]) == count
        return len(queries.captured_queries)

    token_client.get("/api/jobs")  # the token's last use is written once a minute
    assert queries_for(10, "small") == queries_for(120, "large")


def test_query_check_answers_whether_a_query_reads(token_client):
    make_job(uid="a", config={"lr": 1})
    assert token_client.get("/api/query/check", {"query": "lr>0"}).json() == {"valid": True}
    answer = token_client.get("/api/query/check", {"query": "lr>"}).json()
    assert answer["valid"] is False and answer["position"] == 3
