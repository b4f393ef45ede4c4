"""A real Chromium opens pages full of hostile strings: no script runs, nothing is injected.

The strings arrive both ways a page gets them: painted by the server on first load, and
pushed live over the WebSocket (rendered by the page's scripts) while it is open.
"""

import os
import shutil

import pytest

from tests.reliability.servers import Site

pytestmark = [pytest.mark.e2e, pytest.mark.processes]

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(2)>'
SVG = "<svg onload=alert(3)>"
CONTROL = "ctl\x01\x1b[31m\u202e"
HOSTILE = f"{SCRIPT}{IMG}{SVG}{CONTROL}"
# Notes are markdown rendered to HTML on the server: links and images are the risk.
NOTES = (
    f"{SCRIPT}\n\n[click me](javascript:alert(4)) [data](data:text/html,{SCRIPT})\n\n"
    "[plain](javascript:document.title=1) [b64](data:text/html;base64,PHNjcmlwdD4=)\n\n"
    '![pic](x" onerror="alert(5)) <iframe src="javascript:alert(6)"></iframe>'
)
# Elements the hostile strings would create if any of them were parsed as HTML.
INJECTED = (
    "img[src='x'], svg[onload], [onerror], [onload], iframe, "
    "a[href^='javascript:' i], a[href^='data:' i]"
)
EXECUTABLE_ALERTS = """() => [...document.scripts].filter(
    s => (!s.type || s.type.includes('javascript') || s.type === 'module')
         && s.textContent.includes('alert(')).length"""


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (make test installs it)")
    site = Site(tmp_path_factory.mktemp("hostile-site"))
    server = site.daphne(env={"LOG_LEVEL": "WARNING"})
    job = {
        "uid": "hostile",
        "name": HOSTILE,
        "model": IMG,
        "dataset": SVG,
        "tags": [SCRIPT, IMG, "ok-tag"],
        "config": {SCRIPT: IMG, "lr": 0.001},
        "total_steps": 100,
    }
    assert server.request("POST", "/api/jobs", job).status == 201
    assert server.request("POST", "/api/jobs/hostile/status", {"status": "running"}).status == 200
    assert (
        server.request(
            "POST",
            "/api/jobs/hostile/metrics",
            {
                "points": [
                    {"key": SCRIPT, "step": 1, "value": 0.5},
                    {"key": "train/loss", "step": 1, "value": 1},
                ]
            },
        ).status
        == 200
    )
    site.shell(
        "from jobs.models import Job; from jobs.services import job_update_details;"
        f"job_update_details(job=Job.objects.get(uid='hostile'), notes={NOTES!r})"
    )
    lines = [{"seq": i, "level": "ERROR", "message": HOSTILE} for i in range(3)]
    assert server.request("POST", "/api/jobs/hostile/logs", {"lines": lines}).status == 200
    yield server
    site.close()


@pytest.fixture(scope="module")
def browser(hostile_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, hostile_server):
    context = browser.new_context(base_url=hostile_server.url)
    context.add_cookies(
        [{"name": "sessionid", "value": hostile_server.site.session, "url": hostile_server.url}]
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.dialogs = []
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    yield page
    context.close()


def assert_nothing_ran(page):
    assert page.dialogs == []
    assert page.locator(INJECTED).count() == 0
    assert page.evaluate(EXECUTABLE_ALERTS) == 0


def test_the_dashboard_shows_hostile_names_and_tags_as_text(page):
    page.goto("/")
    card = page.locator("[data-uid='hostile']").first
    card.wait_for()
    assert SCRIPT in card.inner_text()
    page.wait_for_load_state("networkidle")
    assert_nothing_ran(page)


def test_the_job_page_shows_hostile_strings_painted_and_pushed_as_text(page, hostile_server):
    page.goto("/job/hostile")
    page.locator(".log__msg").first.wait_for()
    assert_nothing_ran(page)
    assert "click me" in page.locator("#notes-view").inner_text()
    assert SCRIPT in page.locator("h1").first.inner_text()
    assert page.locator(".log__msg").first.inner_text().startswith(SCRIPT)
    # Wait for the socket, then push more hostile text: the page's scripts render it.
    page.wait_for_function("() => document.getElementById('conn')?.textContent.match(/live/i)")
    lines = [{"seq": 10, "level": "ERROR", "message": "pushed " + HOSTILE}]
    assert hostile_server.request("POST", "/api/jobs/hostile/logs", {"lines": lines}).status == 200
    points = [{"key": IMG, "step": 2, "value": 0.25}, {"key": SCRIPT, "step": 2, "value": 0.4}]
    assert (
        hostile_server.request("POST", "/api/jobs/hostile/metrics", {"points": points}).status
        == 200
    )
    page.locator(".log__msg", has_text="pushed ").wait_for()
    page.locator(".small-chart h3", has_text="onerror").wait_for()
    assert_nothing_ran(page)
    assert page.locator(".log__msg", has_text="pushed ").inner_text() == "pushed " + HOSTILE
