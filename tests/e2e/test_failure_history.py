"""A failed job's page in Chromium: the earlier jobs that failed the same way, and what the
next successful run of the same model and dataset changed; the dashboard's top failure
causes lead to the failures of one signature."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
MODEL, DATASET = "e2e-org/e2e-model-7b", "e2e-org/e2e-dataset"
CONFIG = {"per_device_train_batch_size": 8, "gradient_checkpointing": False, "max_seq_length": 2048}
OOM = "CUDA out of memory. Tried to allocate {size}. GPU 0 has a total capacity of 79.14 GiB"


def run(report, uid, *, config, error=None):
    report(
        "/api/jobs",
        {"uid": uid, "name": uid, "model": MODEL, "dataset": DATASET, "config": config},
    )
    report(f"/api/jobs/{uid}/stages", {"stage": "training", "status": "active"})
    if error:
        report(f"/api/jobs/{uid}/status", {"status": "failed", "step": 40, "error": error})
    else:
        report(f"/api/jobs/{uid}/status", {"status": "completed"})


def test_a_failed_job_shows_earlier_failures_and_the_next_runs_config_change(page, report):
    oom = {"type": "torch.OutOfMemoryError", "stage": "training"}
    run(report, "hist-oom-1", config=CONFIG, error={**oom, "message": OOM.format(size="2.00 GiB")})
    run(report, "hist-oom-2", config=CONFIG, error={**oom, "message": OOM.format(size="512 MiB")})
    fixed = {**CONFIG, "per_device_train_batch_size": 4, "gradient_checkpointing": True}
    run(report, "hist-fixed", config=fixed)

    page.goto("/job/hist-oom-2")
    expect(page.locator(".finding").first.locator(".finding__title")).to_have_text(
        "CUDA out of memory"
    )
    history = page.get_by_test_id("failure-history")
    expect(history).to_be_visible()
    expect(
        history.get_by_test_id("earlier-failures").get_by_role("link", name="hist-oom-1")
    ).to_be_visible()
    change = history.get_by_test_id("next-success")
    expect(change).to_contain_text("per_device_train_batch_size 8 → 4")
    expect(change).to_contain_text("gradient_checkpointing false → true")
    change.get_by_role("link", name="hist-fixed").click()
    expect(page).to_have_url(re.compile(r"/job/hist-fixed$"))

    page.goto("/")
    top = page.get_by_test_id("top-failures")
    top.get_by_role("link", name=re.compile(r"OutOfMemoryError: CUDA out of memory")).click()
    expect(page.get_by_test_id("signature-filter")).to_be_visible()
    cards = page.locator("#cards")
    expect(cards).to_contain_text("hist-oom-1")
    expect(cards).to_contain_text("hist-oom-2")
    expect(cards).not_to_contain_text("hist-fixed")
