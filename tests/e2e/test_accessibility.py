"""Every page against axe-core's WCAG 2 A and AA rules, in the light and the dark theme.

axe-core (vendored under `vendor/axe-core`, MPL-2.0) is injected into the loaded page
and run on the whole document with the rules tagged wcag2a, wcag2aa, wcag21a and
wcag21aa; a page passes with no violation at all. On failure the message lists each
rule, its impact and the elements it found, with axe's own summary of what to fix.
"""

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import _page

pytestmark = pytest.mark.e2e

AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text(encoding="utf-8")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
THEMES = ["light", "dark"]
VIEWPORT = {"width": 1440, "height": 900}

RUNNING = "llama3-8b-alpaca-lora"
COMPLETED = "distilbert-sst2"
FAILED = "llama2-13b-oasst-oom"
QUEUED = "gemma2-2b-samsum"

RUN_AXE = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: { type: "tag", values: tags },
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), summary: n.failureSummary })),
  }));
}"""


def axe_violations(page):
    page.evaluate(AXE)
    return page.evaluate(RUN_AXE, TAGS)


def readable(violations):
    """Each rule with its elements, those failing the same way (same colours) together."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s)")
        by_summary = {}
        for node in v["nodes"]:
            by_summary.setdefault(" ".join(node["summary"].split()), []).append(node["target"])
        for summary, targets in by_summary.items():
            more = f" and {len(targets) - 3} more" if len(targets) > 3 else ""
            lines.append(f"    {', '.join(targets[:3])}{more}\n        {summary}")
    return "\n".join(lines)


def assert_accessible(page):
    violations = axe_violations(page)
    assert violations == [], "axe-core WCAG 2 A/AA violations:\n" + readable(violations)


def wait_job_page(page):
    expect(page.locator("body")).to_have_attribute("data-synced", "true")
    expect(page.locator("#loss-chart-box")).not_to_have_class(re.compile("is-loading"))


def wait_cards(page):
    expect(page.locator("[data-uid]").first).to_be_visible()


def wait_runs(page):
    expect(page.locator("#runs-table tbody tr").first).to_be_visible()


def wait_compare(page):
    expect(page.locator("canvas").first).to_be_visible()


SIGNED_IN = {
    "dashboard": ("/", wait_cards),
    "runs": ("/runs?columns=status,model,step,config.lr,train/loss.last", wait_runs),
    "runs grouped": ("/runs?columns=status,model,train/loss.last&group=model", wait_runs),
    "job running": (f"/job/{RUNNING}", wait_job_page),
    "job completed": (f"/job/{COMPLETED}", wait_job_page),
    "job failed": (f"/job/{FAILED}", wait_job_page),
    "job queued": (f"/job/{QUEUED}", lambda page: None),
    "compare": (f"/compare?jobs={RUNNING},{COMPLETED}", wait_compare),
    "compare grouped": (f"/compare?jobs={RUNNING},{COMPLETED},{QUEUED}&group=tag", wait_compare),
    "alert settings": ("/settings/alerts", lambda page: None),
}


@pytest.fixture(params=THEMES)
def themed(request, browser, server, signed_in_state):
    """A signed-in page whose system theme is light or dark (no pinned theme)."""

    def open_page(state=signed_in_state):
        context, page = _page(browser, server, state, VIEWPORT)
        page.emulate_media(color_scheme=request.param)
        opened.append(context)
        return page

    opened = []
    yield open_page
    for context in opened:
        context.close()


@pytest.mark.parametrize("name", SIGNED_IN)
def test_signed_in_pages_have_no_wcag_violations(themed, name):
    page = themed()
    path, wait = SIGNED_IN[name]
    response = page.goto(path)
    assert response.status == 200
    page.wait_for_load_state("load")
    wait(page)
    assert_accessible(page)
    assert page.console.unexpected() == []


def test_the_login_page_has_no_wcag_violations(themed):
    page = themed(state=None)
    page.goto("/login/")
    expect(page.locator("#id_username")).to_be_visible()
    assert_accessible(page)


def test_a_job_share_link_page_has_no_wcag_violations(themed, report):
    link = report(f"/api/jobs/{RUNNING}/share-links", {})
    page = themed(state=None)
    page.goto(link["url"])
    expect(page.locator("#share-banner")).to_be_visible()
    wait_job_page(page)
    assert_accessible(page)


def test_a_comparison_share_link_page_has_no_wcag_violations(themed, report):
    link = report("/api/share-links", {"compare": [RUNNING, COMPLETED]})
    page = themed(state=None)
    page.goto(link["url"])
    expect(page.locator("#share-banner")).to_be_visible()
    wait_compare(page)
    assert_accessible(page)


@pytest.mark.parametrize(
    "path", [f"/api/jobs/{FAILED}/report", f"/api/compare/report?jobs={RUNNING},{COMPLETED}"]
)
def test_the_html_reports_have_no_wcag_violations(themed, server, path):
    page = themed()
    response = page.request.get(f"{server['url']}{path}")
    assert response.status == 200
    html = response.text()
    report_url = "http://report.invalid/report.html"
    page.route(
        report_url,
        lambda route: route.fulfill(body=html, content_type="text/html; charset=utf-8"),
    )
    page.goto(report_url)
    expect(page.locator("canvas").first).to_be_attached()
    assert_accessible(page)


def test_the_axe_check_finds_an_unlabelled_field_and_names_it(themed):
    """The check itself works: a page with an unlabelled field fails it, readably."""
    page = themed()
    page.goto("/")
    page.evaluate(
        """() => { const input = document.createElement("input");
                   input.id = "axe-probe"; document.querySelector("main").append(input); }"""
    )
    violations = axe_violations(page)
    assert "label" in [v["id"] for v in violations], json.dumps(violations)
    assert "#axe-probe" in readable(violations)
