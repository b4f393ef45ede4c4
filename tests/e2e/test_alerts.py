"""Alerts in Chromium: create a channel and a rule on /settings/alerts, send a test to a
real receiver, trigger the rule with the Python client, see the bell count it and the job
page list it live."""

import json
import time

import pytest
import tuneboard
from playwright.sync_api import expect

from tests.support.receivers import HttpReceiver

pytestmark = pytest.mark.e2e
TAG = "e2e-alerts"


def wait_for_job(page, uid, timeout=10.0):
    """Until the client's transport has created the job (it reports in the background)."""
    deadline = time.monotonic() + timeout
    while page.request.get(f"/api/jobs/{uid}").status != 200:
        assert time.monotonic() < deadline, f"the client never created {uid}"
        time.sleep(0.1)


@pytest.fixture
def receiver():
    hook = HttpReceiver()
    yield hook
    hook.close()


def test_a_rule_made_in_the_ui_fires_on_the_clients_nan_and_rings_the_bell(page, server, receiver):
    page.goto("/settings/alerts")
    # A channel, and its "Send test" reaching the receiver.
    channel_form = page.locator("#channel-form")
    channel_form.locator("input[name=name]").fill("e2e team")
    channel_form.locator("select[name=kind]").select_option("slack")
    channel_form.locator("input[name=target]").fill(receiver.url)
    channel_form.get_by_role("button", name="Add channel").click()
    row = page.locator("#channel-list li", has_text="e2e team")
    row.get_by_role("button", name="Send test").click()
    expect(page.get_by_test_id("test-result")).to_have_text("Test sent (HTTP 200).")
    receiver.wait_for(1)
    assert "test of the alert channel 'e2e team'" in json.loads(receiver.requests[0][1])["text"]

    # A rule, first with a mistake the form names inline (a 400 page), then right.
    page.console.allow("status of 400")
    form = page.locator("#rule-form")
    form.locator("input[name=name]").fill("e2e nan watch")
    form.locator("select[name=type]").select_option("nan")
    expect(form.locator("input[name=value]")).to_be_hidden()
    form.locator("input[name=scope_tag]").fill(TAG)
    expect(page.locator("#rule-preview")).to_have_text(f"… is NaN or infinite on #{TAG}")
    form.get_by_role("button", name="Create rule").click()
    expect(page.locator("#err-key")).to_contain_text("A metric key")
    form = page.locator("#rule-form")
    form.locator("input[name=key]").fill("train/loss")
    expect(page.locator("#rule-preview")).to_have_text(f"train/loss is NaN or infinite on #{TAG}")
    form.get_by_label("e2e team").check()
    form.get_by_role("button", name="Create rule").click()
    rule = page.locator("#rule-list li", has_text="e2e nan watch")
    expect(rule.locator(".rule-sentence")).to_have_text("train/loss is NaN or infinite")
    expect(rule).to_contain_text("→ e2e team")

    # A training script with the client reports a NaN loss; the job page is open.
    run = tuneboard.init(
        server=server["url"],
        token=server["token"],
        name="e2e alerts run",
        tags=[TAG],
        system_metrics=False,
        capture_console=False,
    )
    try:
        run.log({"train/loss": 0.9}, step=1)
        wait_for_job(page, run.uid)
        page.goto(f"/job/{run.uid}")
        expect(page.locator("#fired-panel")).to_be_hidden()
        run.log({"train/loss": float("nan")}, step=2)
        # Live: the push makes the page and the bell read the reader's alerts.
        fired = page.locator("#fired-panel")
        expect(fired).to_be_visible(timeout=15000)
        expect(fired).to_contain_text("e2e nan watch")
        expect(fired).to_contain_text("train/loss is NaN or infinite: NaN at step 2")
        count = page.locator("#bell-count")
        expect(count).to_be_visible()
        unread = int(count.inner_text())
        assert unread >= 1
        page.locator("[data-testid=bell]").click()
        alert = page.locator('.bell__item[data-kind="alert"]').first
        expect(alert).to_contain_text("e2e nan watch fired on e2e alerts run")
        page.locator(".bell__read button").click()
        expect(count).to_be_hidden()
    finally:
        run.finish()
