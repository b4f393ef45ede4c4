"""Compare, diagnostics on failed jobs, and job notes, in a real Chromium.

These run before test_pages.py (file order) whose screenshots show the demo data, so
they change nothing the dashboard shows: the notes test edits notes (not on cards) of a
job no screenshot opens, and puts its tags back.
"""

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

A = "llama3-8b-alpaca-lora"
B = "distilbert-sst2"
NOTED = "phi3-mini-ultrachat"
FAILURES = [
    ("llama2-13b-oasst-oom", "CUDA out of memory", "gradient_checkpointing"),
    ("falcon-7b-guanaco-nan", "Loss became NaN", "bf16"),
    ("qwen2-7b-codealpaca-tok", "Dataset column 'text' not found", None),
]
DATASETS_WITH_DATA = """(key) => {
  const canvas = document.querySelector(`.compare-chart[data-key="${key}"] canvas`);
  const chart = canvas && window.Chart.getChart(canvas);
  if (!chart) return null;
  return chart.data.datasets
    .filter((d) => d.$role === "raw" && d.data.length > 0)
    .map((d) => d.label);
}"""


def open_compare_from_dashboard(page, artifacts):
    page.goto("/")
    for uid in (A, B):
        page.locator(f'.job-card[data-uid="{uid}"] [data-f="select"]').check()
    button = page.locator("#compare-open")
    expect(button).to_have_text("Compare (2)")
    page.screenshot(path=artifacts / "dashboard-selection.png")
    # Cards leave and come back (re-rendered from the API): the ticks stay.
    page.locator('.segmented a[data-status="completed"]').click()
    expect(page.locator(f'.job-card[data-uid="{A}"]')).to_have_count(0)
    page.locator('.segmented a[data-status=""]').click()
    expect(page.locator(f'.job-card[data-uid="{A}"] [data-f="select"]')).to_be_checked()
    expect(page.locator(f'.job-card[data-uid="{B}"] [data-f="select"]')).to_be_checked()
    expect(button).to_have_text("Compare (2)")
    button.click()
    page.wait_for_url(re.compile(r"/compare\?jobs="))
    expect(page.locator(".compare-chart .chart-box.is-loading")).to_have_count(0)


def no_horizontal_scroll(page):
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_two_jobs_picked_on_the_dashboard_share_one_chart_and_a_config_diff(page, artifacts):
    open_compare_from_dashboard(page, artifacts)
    assert f"jobs={A},{B}" in page.url
    labels = page.evaluate(DATASETS_WITH_DATA, "train/loss")
    assert len(labels) == 2, labels
    expect(page.locator("#compare-legend li")).to_have_count(2)

    different = page.locator("#diff-table tbody tr.is-different")
    assert different.count() >= 1
    expect(different.first).to_be_visible()
    same = page.locator("#diff-table tbody tr:not(.is-different)")
    page.locator("#only-diff").check()
    if same.count():
        expect(same.first).to_be_hidden()
    expect(different.first).to_be_visible()
    page.locator("#only-diff").uncheck()

    page.get_by_role("button", name="By time").click()
    expect(page.get_by_role("button", name="By time")).to_have_attribute("aria-pressed", "true")
    assert len(page.evaluate(DATASETS_WITH_DATA, "train/loss")) == 2
    page.screenshot(path=artifacts / "compare-by-time.png")
    page.get_by_role("button", name="By step").click()

    page.evaluate("document.fonts.ready.then(() => true)")
    page.screenshot(path=artifacts / "compare-desktop.png", full_page=True)
    page.locator("#theme-toggle").click()
    page.screenshot(path=artifacts / "compare-desktop-dark.png", full_page=True)
    with page.expect_download() as download:
        page.locator('.compare-chart[data-key="val/loss"] [data-png]').click()
    download.value.save_as(artifacts / "compare-chart-dark.png")


def test_the_final_metrics_table_downloads_as_csv_and_charts_as_png(page):
    page.goto(f"/compare?jobs={A},{B}")
    expect(page.locator(".compare-chart .chart-box.is-loading")).to_have_count(0)
    with page.expect_download() as download:
        page.locator("#download-csv").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][:4] == ["Job", "Status", "Duration", "Steps"]
    assert [row[1] for row in rows[1:]] == ["running", "completed"]
    assert len({len(row) for row in rows}) == 1
    with page.expect_download() as download:
        page.locator('.compare-chart[data-key="train/loss"] [data-png]').click()
    assert download.value.suggested_filename == "compare-train_loss.png"
    assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_fits_a_375_px_phone(phone_page, artifacts):
    phone_page.goto(f"/compare?jobs={A},{B}")
    expect(phone_page.locator(".compare-chart .chart-box.is-loading")).to_have_count(0)
    assert no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=artifacts / "compare-mobile.png", full_page=True)


def test_compare_with_on_a_job_page_starts_a_selection_on_the_dashboard(page):
    page.goto(f"/job/{B}")
    page.locator("#compare-with").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator(f'.job-card[data-uid="{B}"] [data-f="select"]')).to_be_checked()
    expect(page.locator("#compare-count")).to_contain_text("pick another")
    expect(page.locator("#compare-open")).to_be_hidden()
    page.locator(f'.job-card[data-uid="{A}"] [data-f="select"]').check()
    page.locator("#compare-open").click()
    page.wait_for_url(re.compile(rf"/compare\?jobs={B},{A}$"))


def test_unknown_uids_are_listed_on_the_compare_page(page):
    page.console.allow("404 (Not Found)")
    page.goto(f"/compare?jobs={A},no-such-job")
    expect(page.locator("#compare-problem")).to_contain_text("No job with this id: no-such-job")


@pytest.mark.parametrize(("uid", "title", "fix"), FAILURES)
def test_fixture_failures_show_their_diagnosis_and_fixes(page, uid, title, fix):
    page.goto(f"/job/{uid}")
    expect(page.locator("#error-title")).to_contain_text(title)
    finding = page.locator(".finding").first
    expect(finding.locator(".finding__title")).to_have_text(title)
    fixes = finding.locator(".checklist li")
    assert fixes.count() >= 1
    if fix:
        expect(fixes.filter(has_text=fix).first).to_be_visible()


def test_a_note_with_markdown_and_a_script_renders_escaped_and_runs_nothing(page, artifacts):
    page.console.allow("400 (Bad Request)")  # the refused tags, on purpose
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    other = page.context.new_page()  # another reader of the same job, following it live
    other.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    other.goto(f"/job/{NOTED}")
    expect(other.locator("#conn")).to_have_attribute("data-state", "live")
    page.goto(f"/job/{NOTED}")
    original_tags = page.locator("#job-tags .tag").all_text_contents()
    page.locator('#details-edit[data-ready="true"]').click()
    page.locator("#notes-input").fill(
        "**Tried** lr *1e-4*\n- warmup `100`\n- [run](https://example.com/r)\n\n"
        "<script>alert('x')</script> <img src=x onerror=\"alert('y')\">"
    )
    page.locator("#tags-input").fill("ok, bad,, " + "x" * 70)
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#tags-error")).to_contain_text("1–64 characters")
    expect(page.locator("#notes-view strong")).to_have_count(0)

    page.locator("#tags-input").fill(", ".join(t.lstrip("#") for t in original_tags))
    page.get_by_role("button", name="Save").click()
    view = page.locator("#notes-view")
    expect(view.locator("strong")).to_have_text("Tried")
    expect(view.locator("em")).to_have_text("1e-4")
    expect(view.locator("li code")).to_have_text("100")
    link = view.locator("a")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(view).to_contain_text("<script>alert('x')</script>")
    assert view.locator("script, img").count() == 0
    expect(other.locator("#notes-view strong")).to_have_text("Tried")
    expect(other.locator("#notes-view")).to_contain_text("<img src=x onerror=")
    assert other.locator("#notes-view script, #notes-view img").count() == 0
    page.screenshot(
        path=artifacts / "job-notes.png", clip={"x": 0, "y": 0, "width": 1440, "height": 420}
    )
    page.reload()
    expect(page.locator("#notes-view strong")).to_have_text("Tried")
    assert page.locator("#notes-view script, #notes-view img").count() == 0
    assert page.locator("#job-tags .tag").all_text_contents() == original_tags
    assert dialogs == []
