"""The runs table in Chromium: columns, sort, a query with a syntax error underlined,
a saved view, the remembered table, keyboard selection into Compare and live rows."""

import json
import re
import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import expect

TAG = "e2e-runs"
JOBS = [("e2e-runs-a", 1e-4, 0.9), ("e2e-runs-b", 3e-4, 0.4), ("e2e-runs-c", 2e-5, 0.6)]


def _post(server, path, body):
    request = urllib.request.Request(
        f"{server['url']}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {server['token']}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def runs_jobs(server):
    """Three jobs of their own tag, each with a config lr and an e2e/loss series."""

    def report(path, body):
        return _post(server, path, body)

    for uid, lr, final in JOBS:
        report(
            "/api/jobs",
            {
                "uid": uid,
                "name": uid,
                "model": "tiny-llm",
                "dataset": "toy",
                "tags": [TAG],
                "config": {"e2e_lr": lr, "e2e_optim": "adamw"},
            },
        )
        report(f"/api/jobs/{uid}/status", {"status": "running", "step": 10})
        points = [{"key": "e2e/loss", "step": s, "value": v} for s, v in ((1, 1.5), (2, final))]
        report(f"/api/jobs/{uid}/metrics", {"points": points})
    return [uid for uid, _, _ in JOBS]


def uids_shown(page):
    return page.locator("#runs-body tr").evaluate_all("rows => rows.map(r => r.dataset.uid)")


def params(page):
    return parse_qs(urlparse(page.url).query)


def test_columns_sort_and_a_shareable_url(page, runs_jobs):
    page.goto(f"/runs?query=tag:{TAG}&columns=status,config.e2e_lr")
    assert sorted(uids_shown(page)) == sorted(runs_jobs)
    # Add a metric column from the Columns menu, found by its search box.
    page.get_by_test_id("columns-button").click()
    page.fill("#columns-search", "e2e/loss")
    with page.expect_navigation():
        page.locator("fieldset", has_text="Metrics · min").get_by_label("e2e/loss").check()
    assert params(page)["columns"] == ["status,config.e2e_lr,e2e/loss.min"]
    expect(page.locator('th[data-col="e2e/loss.min"]')).to_be_visible()
    # Sort by the metric, then descending with a second click.
    with page.expect_navigation():
        page.locator('th[data-col="e2e/loss.min"] a').click()
    assert uids_shown(page) == ["e2e-runs-b", "e2e-runs-c", "e2e-runs-a"]
    expect(page.locator('th[data-col="e2e/loss.min"]')).to_have_attribute("aria-sort", "ascending")
    with page.expect_navigation():
        page.locator('th[data-col="e2e/loss.min"] a').click()
    assert uids_shown(page) == ["e2e-runs-a", "e2e-runs-c", "e2e-runs-b"]
    assert params(page)["sort"] == ["-e2e/loss.min"]
    # The URL is the table: opened again, it shows the same rows.
    shared = page.url
    page.goto("/")
    page.goto(shared)
    assert uids_shown(page) == ["e2e-runs-a", "e2e-runs-c", "e2e-runs-b"]


def test_a_query_filters_by_config_and_a_syntax_error_is_underlined(page, runs_jobs):
    page.goto(f"/runs?query=tag:{TAG}")
    box = page.locator("#query")
    box.fill(f"tag:{TAG} e2e_lr>=1e-4")
    with page.expect_navigation():
        box.press("Enter")
    assert sorted(uids_shown(page)) == ["e2e-runs-a", "e2e-runs-b"]
    # Typing a broken query: the API checks it and the page underlines where it breaks.
    box.fill(f"tag:{TAG} (e2e_lr>=1e-4 OR")
    error = page.get_by_test_id("query-error")
    expect(error).to_be_visible()
    expect(error.locator(".query-error__message")).to_contain_text("expected a term")
    expect(box).to_have_attribute("aria-invalid", "true")
    # Submitted anyway: the server answers the same error, underlined, and no rows.
    with page.expect_navigation():
        box.press("Enter")
    expect(page.locator(".query-error__at")).to_be_visible()
    assert uids_shown(page) == []


def test_a_saved_view_is_listed_and_opens_the_same_table(page, browser, server, runs_jobs):
    page.goto(f"/runs?query=tag:{TAG} e2e_optim:adamw&columns=config.e2e_lr&sort=-config.e2e_lr")
    page.fill("#view-name", "e2e lr sweep")
    with page.expect_navigation():
        page.get_by_role("button", name="Save view").click()
    assert "view" in params(page)
    link = page.get_by_test_id("saved-views").get_by_role("link", name="e2e lr sweep")
    expect(link).to_have_attribute("aria-current", "page")
    assert uids_shown(page) == ["e2e-runs-b", "e2e-runs-a", "e2e-runs-c"]
    view_url = page.url
    # Another reader (here: a fresh browser context of a signed-in user) opens the URL.
    context = browser.new_context(
        base_url=server["url"], storage_state=page.context.storage_state()
    )
    other = context.new_page()
    other.goto(view_url)
    assert uids_shown(other) == ["e2e-runs-b", "e2e-runs-a", "e2e-runs-c"]
    expect(other.locator('th[data-col="config.e2e_lr"]')).to_have_attribute(
        "aria-sort", "descending"
    )
    context.close()
    # Deleting it takes it off the list.
    page.get_by_role("button", name="Delete view e2e lr sweep").click()
    expect(link).to_have_count(0)


def test_bare_runs_reopens_the_last_table(page, runs_jobs):
    page.goto(f"/runs?query=tag:{TAG}&columns=config.e2e_lr&sort=config.e2e_lr")
    page.goto("/runs")
    page.wait_for_url(re.compile(r"/runs\?query="))
    assert params(page)["sort"] == ["config.e2e_lr"]
    assert uids_shown(page) == ["e2e-runs-c", "e2e-runs-a", "e2e-runs-b"]


def test_keyboard_selects_rows_into_compare_and_rows_stay_live(page, report, runs_jobs):
    page.goto(f"/runs?query=tag:{TAG}&columns=status,step&sort=name")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    first = page.locator("#runs-body tr").first
    first.focus()
    page.keyboard.press("x")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#runs-body tr").nth(1)).to_be_focused()
    page.keyboard.press("x")
    compare = page.locator("#compare-open")
    expect(compare).to_have_text("Compare (2)")
    assert compare.get_attribute("href") == "/compare?jobs=e2e-runs-a,e2e-runs-b"
    # A status change pushed on /ws/dashboard/ updates the visible row in place.
    report("/api/jobs/e2e-runs-c/status", {"status": "running", "step": 4321})
    row = page.locator('tr[data-uid="e2e-runs-c"]')
    expect(row.locator('[data-cell="step"]')).to_have_text("4\u2009321")
    report("/api/jobs/e2e-runs-c/status", {"status": "completed"})
    expect(row.locator('[data-cell="status"]')).to_have_text("Completed")
    expect(row).to_have_attribute("data-status", "completed")


def test_the_dashboard_links_to_the_runs_table(page):
    page.goto("/")
    with page.expect_navigation():
        page.get_by_test_id("runs-link").click()
    assert urlparse(page.url).path == "/runs"
