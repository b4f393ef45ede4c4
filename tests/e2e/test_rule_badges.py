"""The alert-rule badge in Chromium: a rule fires on a job while the dashboard is open, and
the job's card shows it live (count, severity, the rule's name); when the condition
clears the badge goes, without a reload. The job page shows it beside the title."""

import json
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def api(server, method, path, body=None):
    request = urllib.request.Request(
        server["url"] + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {server['token']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or "null")


def loss(server, uid, step, value):
    api(
        server,
        "POST",
        f"/api/jobs/{uid}/metrics",
        {"points": [{"key": "train/loss", "step": step, "value": value}]},
    )


def test_a_firing_rule_badges_the_dashboard_card_live_and_clears_when_it_resolves(page, server):
    tag = f"badge-{uuid.uuid4().hex[:6]}"
    rule = api(
        server,
        "POST",
        "/api/alert-rules",
        {
            "name": "loss too high",
            "severity": "critical",
            "scope": {"tag": tag},
            "condition": {"type": "threshold", "key": "train/loss", "op": ">", "value": 5},
        },
    )
    try:
        page.goto("/")
        uid = f"badged-{tag}"
        api(server, "POST", "/api/jobs", {"uid": uid, "name": "badged run", "tags": [tag]})
        api(server, "POST", f"/api/jobs/{uid}/status", {"status": "running"})
        card = page.locator(f'.job-card[data-uid="{uid}"]')
        expect(card).to_be_visible(timeout=15000)  # arrived live
        badge = card.locator('[data-f="firing"]')
        expect(badge).to_be_hidden()

        loss(server, uid, 1, 9.0)
        expect(badge).to_be_visible(timeout=15000)
        expect(badge).to_have_text("1")
        expect(badge).to_have_class("rule-badge rule-badge--critical")
        expect(badge).to_have_attribute("title", "Firing: loss too high")

        loss(server, uid, 2, 1.0)  # below the threshold: the episode resolves
        expect(badge).to_be_hidden(timeout=15000)

        loss(server, uid, 3, 7.0)
        page.goto(f"/job/{uid}")
        header = page.locator("#job-firing")
        expect(header).to_be_visible()
        expect(header).to_have_text("1")
        loss(server, uid, 4, 2.0)
        expect(header).to_be_hidden(timeout=15000)  # live on the job page too
    finally:
        api(server, "DELETE", f"/api/alert-rules/{rule['id']}")
