"""The runs table page `/runs`: columns, sort, query errors, grouping, saved views."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import services
from tests.factories import jobs_bulk, make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client):
    client.force_login(make_user("reader"))
    return client


def row_uids(html):
    return re.findall(r'<tr data-uid="([^"]+)"', html)


def loss(job, values):
    points = [{"key": "val/loss", "step": s, "value": v} for s, v in enumerate(values)]
    services.metrics_ingest(job=job, points=points)


def test_runs_table_shows_chosen_config_and_metric_columns_sorted_by_a_metric(browser):
    a = make_job(uid="a", config={"lr": 1e-4}, status="running")
    b = make_job(uid="b", config={"lr": 3e-4}, status="running")
    make_job(uid="c")
    loss(a, [2.0, 0.5])
    loss(b, [1.0, 0.25])
    response = browser.get(
        "/runs", {"columns": "status,config.lr,val/loss.min", "sort": "val/loss.min"}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert row_uids(html) == ["b", "a", "c"]
    assert 'data-col="config.lr"' in html and "0.0003" in html
    assert 'aria-sort="ascending"' in html and "0.25" in html


def test_a_query_syntax_error_is_underlined_with_the_message_below(browser):
    make_job(uid="a")
    html = browser.get("/runs", {"query": "status:running (tag:x"}).content.decode()
    assert row_uids(html) == []
    assert 'aria-invalid="true"' in html
    assert '<span class="query-error__at">\u00a0</span>' in html
    assert "expected &#x27;)&#x27; to close" in html


def test_runs_table_pages_by_50_in_a_fixed_number_of_queries(browser):
    jobs_bulk(120, config={"lr": 0.1})
    with CaptureQueriesContext(connection) as small:
        browser.get("/runs", {"columns": "status,config.lr,train/loss.last", "page": 3})
    jobs_bulk(60, prefix="more", config={"lr": 0.1})
    with CaptureQueriesContext(connection) as large:
        html = browser.get(
            "/runs", {"columns": "status,config.lr,train/loss.last", "page": 2}
        ).content.decode()
    assert len(row_uids(html)) == 50
    assert "51–100 of 180" in html
    assert len(small.captured_queries) == len(large.captured_queries)


def test_grouping_by_a_config_key_shows_count_and_mean_std_of_a_metric(browser):
    for seed, (lr, final) in enumerate([(1e-4, 0.5), (1e-4, 0.7), (3e-4, 0.2)]):
        job = make_job(uid=f"s{seed}", config={"lr": lr, "seed": seed}, status="running")
        loss(job, [1.0, final])
    html = browser.get("/runs", {"group": "config.lr", "columns": "val/loss.min"}).content.decode()
    group = re.search(r'<tr data-group="0.0001">(.*?)</tr>', html, re.S).group(1)
    cells = [
        re.sub(r"\s+", " ", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", group, re.S)
    ]
    # Two jobs; mean 0.6, sample std 0.1414; min 0.5, max 0.7.
    assert cells == ["2", "0.6 ± 0.1414", "0.5", "0.7"]


def test_a_saved_view_opens_its_query_and_columns_for_another_reader(browser, client):
    owner = make_user("owner")
    view, _ = services.saved_view_save(
        owner=owner, name="lora", query="tag:lora", columns=["config.lr"], sort="-config.lr"
    )
    make_job(uid="l1", tags=["lora"], config={"lr": 1e-4})
    make_job(uid="l2", tags=["lora"], config={"lr": 2e-4})
    make_job(uid="x", tags=["full"])
    html = browser.get("/runs", {"view": view.pk}).content.decode()
    assert row_uids(html) == ["l2", "l1"]
    assert 'data-col="config.lr"' in html and "view <strong>lora</strong>" in html


def test_the_dashboard_lists_the_readers_saved_views(client):
    reader = make_user("viewer2")
    services.saved_view_save(owner=reader, name="my lora runs", query="tag:lora")
    client.force_login(reader)
    html = client.get("/").content.decode()
    assert 'data-testid="dashboard-saved-views"' in html and "my lora runs" in html
