"""The pages in a real Chromium against a real server: what a person sees and does.

Tests that change data use their own jobs (a running job per live test); screenshots
run first and show jobs no test changes, so the README pictures show the demo data only.
"""

import os
import re
import shutil

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

RUNNING = "llama3-8b-alpaca-lora"  # shown in screenshots; never changed by a test
LIVE = "mistral-7b-dolly-qlora"  # receives metrics, logs and a stage move over the socket
POLLED = "qwen25-15b-gsm8k-sft"  # receives metrics while its socket is refused
SILENT = "phi3-mini-ultrachat"  # receives metrics while its socket stays silent
FAILED = "llama2-13b-oasst-oom"
QUEUED = "gemma2-2b-samsum"
COMPLETED = "distilbert-sst2"
SCREENS = {
    "dashboard": "/",
    "running": f"/job/{RUNNING}",
    "failed": f"/job/{FAILED}",
    "queued": f"/job/{QUEUED}",
    "completed": f"/job/{COMPLETED}",
}


def charts_filled(page):
    """Wait until the loss chart has drawn what the API returned."""
    expect(page.locator("#loss-chart-box")).not_to_have_class(re.compile("is-loading"))


def wait_live(page):
    """The socket is open; on a job page, its first reads (load, then catch-up) are done."""
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    if "/job/" in page.url:
        expect(page.locator("body")).to_have_attribute("data-synced", "true")


def latest_step(page):
    page.wait_for_function("document.querySelector('#loss-chart').dataset.lastX !== undefined")
    return int(float(page.locator("#loss-chart").get_attribute("data-last-x")))


def loss_point(step, value):
    return {"key": "train/loss", "step": step, "value": value}


def no_horizontal_scroll(page):
    return page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


# --- screenshots and phone size (first, before other tests add jobs and points) ------


@pytest.mark.parametrize("name", list(SCREENS))
def test_pages_at_desktop_size_render_for_screenshots(page, artifacts, name):
    page.goto(SCREENS[name])
    if name in ("running", "failed", "completed"):
        charts_filled(page)
        expect(page.locator("#resources .chart-box.is-loading")).to_have_count(0)
    elif name == "dashboard":
        expect(page.locator(".job-card").first).to_be_visible()
    page.evaluate("document.fonts.ready.then(() => true)")
    path = artifacts / f"{name}-desktop.png"
    page.screenshot(path=path, full_page=True)
    assert path.stat().st_size > 10_000
    if name in ("dashboard", "running") and os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        # The README's pictures change only when asked, so a test run leaves git clean.
        docs = artifacts.parent / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, docs / f"{name}.png")


@pytest.mark.parametrize("name", list(SCREENS))
def test_pages_at_375_px_have_no_horizontal_scroll(phone_page, artifacts, name):
    phone_page.goto(SCREENS[name])
    if name in ("running", "failed", "completed"):
        charts_filled(phone_page)
    assert no_horizontal_scroll(phone_page)
    phone_page.screenshot(path=artifacts / f"{name}-mobile.png", full_page=True)


# --- dashboard -------------------------------------------------------------------------


FIXTURE_UIDS = [
    "llama3-8b-alpaca-lora", "mistral-7b-dolly-qlora", "qwen25-15b-gsm8k-sft",
    "phi3-mini-ultrachat", "gemma2-2b-samsum", "llama31-8b-orca-dpo", "bert-base-imdb-cls",
    "distilbert-sst2", "roberta-large-mnli", "mistral-7b-openhermes-lora",
    "t5-base-cnn-summarize", "llama2-13b-oasst-oom", "falcon-7b-guanaco-nan",
    "qwen2-7b-codealpaca-tok", "deberta-v3-squad-disk", "gpt2-medium-wikitext-cxl",
]  # fmt: skip


def card_count(page):
    """How many cards the dashboard shows once it has painted (tests may add jobs)."""
    expect(page.locator(".job-card").first).to_be_visible()
    return page.locator(".job-card").count()


def test_dashboard_lists_the_fixture_jobs(page):
    page.goto("/")
    for uid in FIXTURE_UIDS:
        expect(page.locator(f'.job-card[data-uid="{uid}"] .job-card__link')).to_have_attribute(
            "href", f"/job/{uid}"
        )
    expect(page.locator('[data-stat="total"]')).to_have_text(str(card_count(page)))
    card = page.locator(f'.job-card[data-uid="{FAILED}"]')
    expect(card.locator(".badge")).to_have_text("Failed")
    expect(card).to_contain_text("OutOfMemoryError")


def test_typing_in_search_filters_the_cards_and_the_url_keeps_it(page):
    page.goto("/")
    card_count(page)
    page.keyboard.press("/")
    expect(page.locator("#q")).to_be_focused()
    page.keyboard.type("falcon")
    expect(page.locator(".job-card")).to_have_count(1)
    expect(page.locator(".job-card")).to_have_attribute("data-uid", "falcon-7b-guanaco-nan")
    expect(page).to_have_url(re.compile(r"\?q=falcon$"))

    page.reload()
    expect(page.locator(".job-card")).to_have_count(1)
    expect(page.locator("#q")).to_have_value("falcon")


def test_status_filter_is_shareable_and_the_back_button_restores_the_list(page):
    page.goto("/")
    total = card_count(page)
    # The fixtures' four failures, and any a test before this one reported.
    failed = page.request.get("/api/jobs?status=failed").json()["count"]
    assert failed >= 4
    page.get_by_role("navigation", name="Status").get_by_role("link", name="Failed").click()
    expect(page).to_have_url(re.compile(r"\?status=failed$"))
    expect(page.locator(".job-card")).to_have_count(failed)
    page.locator("#f-tag").select_option("lora")
    expect(page).to_have_url(re.compile(r"status=failed&tag=lora"))
    expect(page.locator(".job-card")).to_have_count(2)

    page.go_back()
    expect(page.locator(".job-card")).to_have_count(failed)
    page.go_back()
    expect(page.locator(".job-card")).to_have_count(total)


def test_a_search_without_matches_shows_the_empty_state(page):
    page.goto("/?q=no-such-model-anywhere")
    expect(page.locator(".job-card")).to_have_count(0)
    expect(page.locator("#empty")).to_contain_text("No jobs match these filters")


def test_clicking_a_card_opens_its_job_page(page):
    page.goto("/")
    page.locator(f'.job-card[data-uid="{RUNNING}"]').click()
    expect(page).to_have_url(re.compile(f"/job/{RUNNING}$"))
    expect(page.locator("h1")).to_have_text(RUNNING)
    expect(page.locator("#job-status")).to_have_text("Running")


def test_a_new_job_appears_on_the_dashboard_without_reload(page, report):
    page.goto("/")
    wait_live(page)
    report("/api/jobs", {"uid": "e2e-new-job", "name": "e2e-new-job", "model": "gpt2"})
    card = page.locator('.job-card[data-uid="e2e-new-job"]')
    expect(card).to_be_visible(timeout=2000)
    expect(card.locator(".badge")).to_have_text("Queued")


# --- job pages -------------------------------------------------------------------------


def test_running_job_shows_pushed_metrics_logs_and_stage_moves_without_reload(page, report):
    page.goto(f"/job/{LIVE}")
    wait_live(page)
    charts_filled(page)
    step = latest_step(page) + 10
    train_loss = page.locator('.metric[data-key="train/loss"] [data-f="value"]')

    report(
        f"/api/jobs/{LIVE}/metrics",
        {"points": [{"key": "train/loss", "step": step, "value": 0.3141}]},
    )
    report(f"/api/jobs/{LIVE}/logs", {"lines": [{"seq": 90_001, "message": "e2e: pushed line"}]})
    expect(train_loss).to_have_text("0.3141", timeout=2000)
    expect(page.locator("#loss-chart")).to_have_attribute("data-last-x", str(step), timeout=2000)
    expect(page.locator("#log-scroll")).to_contain_text("e2e: pushed line", timeout=2000)

    report(f"/api/jobs/{LIVE}/stages", {"stage": "validation", "status": "active"})
    expect(page.locator('.stage[data-stage="validation"]')).to_have_attribute(
        "data-status", "active", timeout=2000
    )


def test_after_pause_a_new_batch_waits_until_live_is_pressed(page, report):
    page.goto(f"/job/{LIVE}")
    wait_live(page)
    charts_filled(page)
    step = latest_step(page) + 10
    train_loss = page.locator('.metric[data-key="train/loss"] [data-f="value"]')
    before = train_loss.inner_text()

    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#conn")).to_have_attribute("data-state", "paused")
    report(
        f"/api/jobs/{LIVE}/metrics",
        {"points": [{"key": "train/loss", "step": step, "value": 0.2718}]},
    )
    # Nothing can be awaited to prove an absence: give a live page the 2 s it would need.
    page.wait_for_timeout(2000)
    expect(train_loss).to_have_text(before)

    page.keyboard.press("l")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(train_loss).to_have_text("0.2718", timeout=3000)


def test_with_the_websocket_refused_the_page_updates_by_polling(page, report):
    page.console.allow("WebSocket")
    page.route_web_socket(re.compile(r"/ws/"), lambda ws: ws.close())
    page.goto(f"/job/{POLLED}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "polling")
    report(
        f"/api/jobs/{POLLED}/metrics",
        {"points": [{"key": "train/loss", "step": 5, "value": 1.5}]},
    )
    report(f"/api/jobs/{POLLED}/logs", {"lines": [{"seq": 90_001, "message": "e2e: polled line"}]})
    expect(page.locator('.metric[data-key="train/loss"] [data-f="value"]')).to_have_text(
        "1.5", timeout=5000
    )
    expect(page.locator("#log-scroll")).to_contain_text("e2e: polled line", timeout=5000)
    expect(page.locator("#conn-ago")).to_have_text(re.compile(r"updated \ds ago"))


def test_a_socket_that_stays_silent_while_data_arrives_falls_back_to_polling(page, report):
    # A socket that answers pings but never pushes: what a page sees when the writer runs
    # in another process without a shared channel layer.
    def silent(ws):
        ws.on_message(lambda message: ws.send('{"type": "pong"}'))

    page.route_web_socket(re.compile(r"/ws/"), silent)
    page.goto(f"/job/{SILENT}")
    wait_live(page)
    report(f"/api/jobs/{SILENT}/metrics", {"points": [loss_point(5, 2.5)]})
    # The page checks a silent socket after 3 s of quiet, on its 3 s poll tick.
    expect(page.locator('.metric[data-key="train/loss"] [data-f="value"]')).to_have_text(
        "2.5", timeout=10_000
    )
    expect(page.locator("#conn")).to_have_attribute("data-state", "polling")


def test_the_log_panel_stops_following_when_the_reader_scrolls_up(page, report):
    page.goto(f"/job/{LIVE}")
    wait_live(page)
    logs = page.locator("#log-scroll")
    logs.evaluate("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }")
    report(f"/api/jobs/{LIVE}/logs", {"lines": [{"seq": 90_100, "message": "e2e: while reading"}]})
    expect(logs).to_contain_text("e2e: while reading", timeout=2000)
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_visible()
    assert logs.evaluate("el => el.scrollTop") == 0  # the reader's place is kept
    jump.click()
    expect(jump).to_be_hidden()
    assert logs.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 24")

    page.locator("#log-level").select_option("WARNING")
    expect(logs.locator(".log", has_text="e2e: while reading")).to_be_hidden()
    page.locator("#log-level").select_option("")
    page.locator("#log-search").fill("while reading")
    expect(logs.locator(".log:visible")).to_have_count(1)


def test_failed_job_page_shows_the_error_panel(page):
    page.goto(f"/job/{FAILED}")
    panel = page.locator("#error-panel")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("CUDA out of memory")
    expect(panel).to_contain_text("Training")
    expect(panel.locator(".checklist li").first).to_be_visible()
    panel.locator("details.traceback summary").click()
    expect(panel.locator("details.traceback pre")).to_contain_text("torch.OutOfMemoryError")
    expect(page.locator('.stage[data-stage="training"]')).to_have_attribute("data-status", "failed")


def test_queued_job_page_shows_the_config_preview(page):
    page.goto(f"/job/{QUEUED}")
    expect(page.get_by_role("heading", name="Configuration")).to_be_visible()
    expect(page.locator(".kv").first).to_contain_text("learning_rate")
    expect(page.locator(".queue-note")).to_contain_text("in the queue")
    expect(page.locator("#loss-chart")).to_have_count(0)


def test_an_unknown_job_gets_the_404_page(page):
    page.console.allow("status of 404")  # the browser reports the page's own status
    response = page.goto("/job/no-such-job")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Nothing here")).to_be_visible()


def test_the_theme_toggle_persists_across_pages(page):
    page.goto("/")
    page.emulate_media(color_scheme="light")
    page.get_by_role("button", name="Switch to dark theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    page.goto(f"/job/{RUNNING}")
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")


def test_an_unreachable_backend_shows_a_banner_not_a_broken_page(page):
    page.console.allow("WebSocket")
    page.console.allow("Failed to load resource")
    page.goto(f"/job/{RUNNING}")
    charts_filled(page)
    page.route_web_socket(re.compile(r"/ws/"), lambda ws: ws.close())
    page.route(re.compile(r"/api/"), lambda route: route.abort())
    page.get_by_role("button", name="Refresh").click()
    expect(page.locator("#banner")).to_be_visible()
    expect(page.locator("#banner")).to_contain_text("Can’t reach the Tuneboard server")
    expect(page.locator("h1")).to_have_text(RUNNING)  # the page keeps what it had
    expect(page.locator("#loss-chart")).to_be_visible()


def test_question_mark_lists_the_keyboard_shortcuts(page):
    page.goto("/")
    expect(page.locator(".job-card").first).to_be_visible()
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Toggle Live / Pause")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_signed_out_visitors_get_the_login_page_and_return_after_signing_in(browser, server):
    from tests.e2e.conftest import PASSWORD, USERNAME, ConsoleWatch

    context = browser.new_context(base_url=server["url"])
    page = context.new_page()
    console = ConsoleWatch(page)
    page.goto(f"/job/{FAILED}")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(f"/job/{FAILED}$"))
    expect(page.locator("#error-panel")).to_be_visible()
    context.close()
    assert not console.unexpected()
