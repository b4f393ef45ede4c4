"""The job page's metric area in Chromium: sections by key prefix that collapse, the filter
box, the Summary card of single-value keys, charts created only near the viewport, and
keys that arrive live finding their place.

Each test reports its own job through the API, as a training script would.
"""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

SERIES_KEYS = [
    "train/grad_norm",
    "val/accuracy",
    "eval/bleu",
    "system/gpu_util",
    "lr/group0",
    "lr/group1",
    "learning_rate",
]
SINGLE_KEYS = {"total_flos": 1.5e15, "train_runtime": 312.5}
MARKED = "train_samples_per_second"  # several points, but the config marks it a summary

CREATED_CHARTS = "document.querySelectorAll('.small-chart canvas').length"


def start_job(report, uid, keys, *, steps=20, config=None, singles=None):
    """A running job with `steps` points of each of `keys` (and of train/loss), plus one
    point of each of `singles`."""
    report("/api/jobs", {"uid": uid, "name": uid, "model": "bert-tiny", "config": config or {}})
    report(f"/api/jobs/{uid}/stages", {"stage": "training", "status": "active"})
    points = [
        {"key": key, "step": step, "value": round(1 / (step + 1) + index / 100, 6)}
        for index, key in enumerate(["train/loss", *keys])
        for step in range(1, steps + 1)
    ]
    points += [
        {"key": key, "step": steps, "value": value} for key, value in (singles or {}).items()
    ]
    for start in range(0, len(points), 5000):
        report(f"/api/jobs/{uid}/metrics", {"points": points[start : start + 5000]})
    report(f"/api/jobs/{uid}/status", {"status": "running", "step": steps})


def open_job(page, uid):
    page.goto(f"/job/{uid}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#loss-chart-box")).not_to_have_class(re.compile("is-loading"))


def section_ids(page):
    return page.locator(".metric-section").evaluate_all("els => els.map(el => el.dataset.section)")


def chart_keys(page, section):
    return page.locator(f'.metric-section[data-section="{section}"] .small-chart').evaluate_all(
        "els => els.map(el => el.dataset.key)"
    )


def test_charts_sit_in_sections_by_prefix_that_collapse_and_stay_collapsed(page, report):
    start_job(report, "e2e-sections", SERIES_KEYS)
    open_job(page, "e2e-sections")
    assert section_ids(page) == ["train", "val", "lr", "system", "other"]
    assert chart_keys(page, "train") == ["train/grad_norm"]  # train/loss: the loss chart
    assert chart_keys(page, "val") == ["eval/bleu", "val/accuracy"]
    assert chart_keys(page, "lr") == ["lr/group0", "lr/group1"]
    assert chart_keys(page, "other") == ["learning_rate"]
    system = page.locator('.metric-section[data-section="system"]')
    expect(system.locator(".metric-section__toggle")).to_contain_text("System")
    expect(page.locator('.metric-section[data-section="val"]')).to_contain_text("Validation")

    toggle = system.locator(".metric-section__toggle")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(system.locator('.small-chart[data-key="system/gpu_util"]')).to_be_hidden()
    # The state is the reader's: it holds after a reload (and on other jobs).
    open_job(page, "e2e-sections")
    system = page.locator('.metric-section[data-section="system"]')
    expect(system.locator(".metric-section__toggle")).to_have_attribute("aria-expanded", "false")
    expect(system.locator(".small-chart")).to_be_hidden()
    system.locator(".metric-section__toggle").click()
    chart = system.locator('.small-chart[data-key="system/gpu_util"]')
    chart.scroll_into_view_if_needed()
    expect(chart.locator("canvas")).to_have_attribute("data-points", "20")


def test_the_filter_box_keeps_matching_charts_and_hides_empty_sections(page, report):
    start_job(report, "e2e-filter", SERIES_KEYS, singles=SINGLE_KEYS)
    open_job(page, "e2e-filter")
    page.locator("#metric-filter").fill("GROUP")  # case does not matter
    expect(page.locator(".small-chart:visible")).to_have_count(2)
    expect(page.locator(".metric-section:visible")).to_have_count(1)
    assert chart_keys(page, "lr") == ["lr/group0", "lr/group1"]
    expect(page.locator("#metric-summary")).to_be_hidden()

    page.locator("#metric-filter").fill("flos")
    expect(page.locator(".small-chart:visible")).to_have_count(0)
    expect(page.locator("#metric-summary .summary-row:visible")).to_have_count(1)

    page.locator("#metric-filter").fill("no-such-key")
    expect(page.locator("#metric-filter-empty")).to_be_visible()

    page.locator("#metric-filter").fill("")
    expect(page.locator(".small-chart")).to_have_count(len(SERIES_KEYS))
    expect(page.locator(".metric-section:visible")).to_have_count(5)
    expect(page.locator("#metric-filter-empty")).to_be_hidden()


def test_single_value_keys_are_summary_rows_until_a_second_point_makes_a_chart(page, report):
    start_job(
        report,
        "e2e-summary",
        ["val/accuracy", MARKED],
        singles=SINGLE_KEYS,
        config={"lr": 2e-5, "summary": [MARKED]},
    )
    open_job(page, "e2e-summary")
    rows = page.locator("#metric-summary .summary-row")
    expect(rows).to_have_count(3)
    flos = rows.filter(has_text="total_flos")
    expect(flos.locator('[data-f="value"]')).to_have_text("1.50e+15")
    expect(flos.locator('[data-f="step"]')).to_have_text("step 20")
    expect(rows.filter(has_text=MARKED)).to_have_count(1)
    for key in [*SINGLE_KEYS, MARKED]:
        expect(page.locator(f'.small-chart[data-key="{key}"]')).to_have_count(0)
    expect(page.locator('.small-chart[data-key="val/accuracy"]')).to_have_count(1)

    # A second point: train_runtime is a series after all. The marked key stays a row.
    report(
        "/api/jobs/e2e-summary/metrics",
        {
            "points": [
                {"key": "train_runtime", "step": 30, "value": 400.0},
                {"key": MARKED, "step": 30, "value": 61.0},
            ]
        },
    )
    chart = page.locator(
        '.metric-section[data-section="other"] .small-chart[data-key="train_runtime"]'
    )
    expect(chart).to_have_count(1)
    expect(rows.filter(has_text="train_runtime")).to_have_count(0)
    expect(rows.filter(has_text=MARKED).locator('[data-f="value"]')).to_have_text("61")
    chart.scroll_into_view_if_needed()
    # Its first point comes with the chart's read, the second was pushed.
    expect(chart.locator("canvas")).to_have_attribute("data-points", "2")


def test_a_job_with_many_keys_creates_charts_near_the_viewport_and_more_on_scroll(page, report):
    keys = [f"{prefix}/m{n:03d}" for n in range(75) for prefix in ("train", "val", "system", "grp")]
    start_job(report, "e2e-many-keys", keys, steps=10)
    reads = []
    page.on("request", lambda r: "/metrics" in r.url and reads.append(r.url))
    open_job(page, "e2e-many-keys")
    expect(page.locator(".small-chart")).to_have_count(300)
    page.wait_for_function(f"{CREATED_CHARTS} > 0")
    page.wait_for_timeout(500)  # give any stray chart time to appear
    first = page.evaluate(CREATED_CHARTS)
    assert 0 < first <= 40, first
    assert len(reads) <= 4, reads

    page.locator('.small-chart[data-key="system/m040"]').scroll_into_view_if_needed()
    chart = page.locator('.small-chart[data-key="system/m040"] canvas')
    expect(chart).to_have_attribute("data-points", "10")
    more = page.evaluate(CREATED_CHARTS)
    assert first < more < 300, more
    # Charts that came into view together shared their reads.
    assert len(reads) < 20, reads


def test_a_key_that_arrives_live_gets_its_chart_in_its_section(page, report):
    start_job(report, "e2e-live-key", ["train/grad_norm", "val/accuracy"])
    open_job(page, "e2e-live-key")
    report(
        "/api/jobs/e2e-live-key/metrics",
        {
            "points": [
                {"key": "eval/rouge", "step": 21, "value": 0.31},
                {"key": "eval/rouge", "step": 22, "value": 0.33},
                {"key": "optim/momentum", "step": 22, "value": 0.9},
            ]
        },
    )
    rouge = page.locator('.metric-section[data-section="val"] .small-chart[data-key="eval/rouge"]')
    expect(rouge).to_have_count(1)
    assert chart_keys(page, "val") == ["eval/rouge", "val/accuracy"]
    rouge.scroll_into_view_if_needed()
    expect(rouge.locator("canvas")).to_have_attribute("data-points", "2")
    expect(rouge.locator('[data-f="value"]')).to_have_text("0.33")
    # A new prefix is a new section, in its place: after validation, before other keys.
    expect(page.locator('.metric-section[data-section="optim"] .small-chart')).to_have_count(1)
    assert section_ids(page) == ["train", "val", "optim"]
