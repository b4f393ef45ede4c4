"""Reports in a real Chromium: the downloaded file opened with the network blocked, the
PDF's text and pages, and the job page printed.

The report is opened twice over: served at an address whose every other request is
aborted (and recorded), and from disk as a `file://` page. Either way every chart must
be drawn, the console stay clean and no request leave the file.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from jobs.web.templatetags.tuneboard import metric

pytestmark = pytest.mark.e2e

RUNNING = "llama3-8b-alpaca-lora"
FAILED = "llama2-13b-oasst-oom"
OTHER = "distilbert-sst2"
REPORT_URL = "http://report.invalid/report.html"
DATA_RE = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)
CHARTS_DRAWN = """() => ({
  instances: Object.keys(window.Chart ? Chart.instances : {}).length,
  canvases: document.querySelectorAll("canvas").length,
  drawn: [...document.querySelectorAll("canvas[data-chart]")]
    .filter((c) => Number(c.dataset.drawn) > 0).length,
})"""


def chart_ids(html):
    return [chart["id"] for chart in json.loads(DATA_RE.search(html).group(1))["charts"]]


def download(page, summary_text, testid):
    page.locator("summary", has_text=summary_text).click()
    with page.expect_download() as info:
        page.get_by_test_id(testid).click()
    return Path(info.value.path()).read_text(encoding="utf-8")


class Offline:
    """A page in a fresh context (no cookies, no server) that aborts every request but
    the report's own (served at REPORT_URL, or the file at `file_url`) and records each
    request the page attempts."""

    def __init__(self, browser, html, file_url=None):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.requests = []
        self.errors = []

        def route(route):
            if route.request.url == REPORT_URL:
                route.fulfill(body=html, content_type="text/html; charset=utf-8")
            elif file_url and route.request.url == file_url:
                route.continue_()
            else:
                route.abort()

        self.context.route("**/*", route)
        self.page = self.context.new_page()
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message):
        if message.type == "error":
            self.errors.append(message.text)

    def close(self):
        self.context.close()


def assert_every_chart_drawn_offline(browser, html, tmp_path):
    expected = len(chart_ids(html))
    assert expected > 0
    # Served at an address where every other request is aborted.
    offline = Offline(browser, html)
    try:
        offline.page.goto(REPORT_URL)
        counts = offline.page.evaluate(CHARTS_DRAWN)
        assert counts == {"instances": expected, "canvases": expected, "drawn": expected}
        assert offline.requests == [REPORT_URL]
        assert offline.errors == []
    finally:
        offline.close()
    # From disk, as someone opens the attachment.
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    offline = Offline(browser, html, file_url=path.as_uri())
    try:
        offline.page.goto(path.as_uri())
        assert offline.page.evaluate(CHARTS_DRAWN)["drawn"] == expected
        assert offline.requests == [path.as_uri()]
        assert offline.errors == []
    finally:
        offline.close()


def test_the_job_report_downloaded_from_the_page_draws_every_chart_offline(
    page, browser, tmp_path, artifacts
):
    page.goto(f"/job/{RUNNING}")
    html = download(page, "Export", "report-html")
    assert "<h1>llama3-8b-alpaca-lora</h1>" in html or RUNNING in html
    assert_every_chart_drawn_offline(browser, html, tmp_path)

    # Interactive without a server: hover shows values, drag zooms, double-click resets.
    offline = Offline(browser, html)
    try:
        view = offline.page
        view.goto(REPORT_URL)
        canvas = view.locator('canvas[data-chart="loss"]')
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        view.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        # Chart.js handles pointer events on the next animation frame.
        view.wait_for_function(
            """() => Chart.getChart(document.querySelector('canvas[data-chart="loss"]'))
                   .tooltip.getActiveElements().length > 0"""
        )
        x_range = """() => {
          const s = Chart.getChart(document.querySelector('canvas[data-chart="loss"]')).scales.x;
          return [s.min, s.max];
        }"""
        before = view.evaluate(x_range)
        view.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5)
        view.mouse.down()
        view.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5, steps=4)
        view.mouse.up()
        zoomed = view.evaluate(x_range)
        assert before[0] < zoomed[0] < zoomed[1] < before[1]
        canvas.dblclick()
        assert view.evaluate(x_range) == before
        view.screenshot(path=artifacts / "report-job.png")
        assert offline.errors == [] and offline.requests == [REPORT_URL]
    finally:
        offline.close()


def test_the_compare_report_draws_the_overlaid_charts_offline(page, browser, tmp_path):
    page.goto(f"/compare?jobs={RUNNING},{OTHER}")
    expect(page.locator(".compare-chart").first).to_be_visible()
    shared = page.locator(".compare-chart").count()
    html = download(page, "Report", "compare-report-html")
    assert len(chart_ids(html)) == shared
    data = json.loads(DATA_RE.search(html).group(1))
    assert all(len(chart["series"]) == 2 for chart in data["charts"])
    assert_every_chart_drawn_offline(browser, html, tmp_path)


def pdf_pages(path):
    pages = int(re.search(r"Pages:\s+(\d+)", run("pdfinfo", path)).group(1))
    return [run("pdftotext", "-f", str(n), "-l", str(n), path, "-") for n in range(1, pages + 1)]


def run(*command):
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


def test_the_pdf_report_holds_the_job_and_its_final_metrics_with_no_chart_cut_in_two(
    page, tmp_path, artifacts
):
    job = page.request.get(f"/api/jobs/{FAILED}").json()
    html = page.request.get(f"/api/jobs/{FAILED}/report?format=html").text()
    response = page.request.get(f"/api/jobs/{FAILED}/report?format=pdf", timeout=90_000)
    assert response.status == 200, response.text()
    assert response.headers["content-type"] == "application/pdf"
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.body())
    (artifacts / "report-failed.pdf").write_bytes(response.body())

    pages = pdf_pages(pdf)
    text = "\n".join(pages)
    assert job["name"] in text
    assert "CUDA out of memory" in text and "Suggested fixes" in text
    for key in ("train/loss", "val/loss"):
        assert metric(job["latest_metrics"][key]["value"]) in text, key

    # Each figure's title and caption (the canvas lies between them) print on one page.
    figures = len(chart_ids(html))
    assert figures >= 4
    for number in range(1, figures + 1):
        title = [n for n, page_text in enumerate(pages) if f"Figure {number} ·" in page_text]
        caption = [n for n, page_text in enumerate(pages) if f"Figure {number}:" in page_text]
        assert len(title) == 1 and title == caption, (number, title, caption)

    # Every page renders as an image, and the charts were drawn on paper.
    from PIL import Image

    run("pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page"))
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == len(pages)
    accent = 0
    for image_path in images:
        with Image.open(image_path) as image:
            raw = image.convert("RGB").tobytes()
            pixels = list(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))
            assert any(pixel != (255, 255, 255) for pixel in pixels)
            accent += sum(
                1 for r, g, b in pixels if abs(r - 91) < 40 and abs(g - 91) < 40 and b > 170
            )
    assert accent > 200, "no chart line drawn in the PDF"


def test_the_job_page_prints_light_without_navigation_even_in_the_dark_theme(page):
    page.emulate_media(color_scheme="dark")
    page.goto(f"/job/{OTHER}")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark != "rgb(255, 255, 255)"
    page.emulate_media(color_scheme="dark", media="print")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    expect(page.locator(".topbar")).to_be_hidden()
    expect(page.locator(".job-head__actions")).to_be_hidden()
    inside = page.evaluate("getComputedStyle(document.querySelector('.chart-panel')).breakInside")
    assert inside == "avoid"
