"""The samples and checkpoints panels of the job page in Chromium: the prompt picker,
the step slider, the word diff, the reference beside the output, scores by step, new
samples arriving live, checkpoints on their timeline with the best one marked, and the
demo jobs showing both.

Each test reports its own job through the API, as a training script would.
"""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e

SUMMARY = "Summarise: the council extended the night bus to the airport."
REFERENCE = "The council extended the night bus."
OUTPUTS = {
    10: "The the the council bus",
    20: "The council extended a bus",
    30: "The council extended the night bus.",
}


def start_job(report, uid):
    report("/api/jobs", {"uid": uid, "name": uid, "model": "tiny-gpt", "total_steps": 100})
    report(f"/api/jobs/{uid}/stages", {"stage": "training", "status": "active"})
    report(f"/api/jobs/{uid}/metrics", {"points": [{"key": "train/loss", "step": 1, "value": 2}]})
    for step, output in OUTPUTS.items():
        report(
            f"/api/jobs/{uid}/samples",
            {
                "step": step,
                "samples": [
                    {"prompt": SUMMARY, "output": output, "reference": REFERENCE, "score": step},
                    {"prompt": "Say hello", "output": f"hello {step}"},
                ],
            },
        )


def open_job(page, uid):
    page.goto(f"/job/{uid}")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#samples-panel")).to_have_attribute("data-state", "ready")


def test_the_slider_walks_a_prompts_outputs_and_the_diff_compares_two_steps(page, report):
    uid = "e2e-samples-slider"
    start_job(report, uid)
    open_job(page, uid)

    # The panel opens on the first prompt, at its latest output, reference beside it.
    expect(page.locator("#samples-prompt")).to_have_value(
        page.locator("#samples-prompt option").nth(1).get_attribute("value")
    )
    expect(page.locator("#samples-prompt-text")).to_have_text(SUMMARY)
    expect(page.locator("#samples-output")).to_have_text(OUTPUTS[30])
    expect(page.locator("#samples-reference")).to_have_text(REFERENCE)
    expect(page.locator("#samples-step-label")).to_have_text("30")

    # The slider steps back through the outputs.
    slider = page.locator("#samples-step")
    slider.fill("0")
    expect(page.locator("#samples-output")).to_have_text(OUTPUTS[10])
    expect(page.locator("#samples-output-step")).to_have_text("10")
    slider.focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#samples-output")).to_have_text(OUTPUTS[20])

    # The diff compares the first and the latest output by default, word by word.
    diff = page.locator("#samples-diff")
    expect(diff).to_have_text(OUTPUTS[10].replace("bus", "") + "extended the night bus.")
    expect(diff.locator("del")).to_have_text(["the the "])
    expect(diff.locator("ins")).to_have_text(["extended the night ", "."])
    expect(page.locator("#samples-diff-stats")).to_have_text("−2 +3 words")
    # Any two steps.
    page.locator("#samples-diff-from").select_option("20")
    expect(diff.locator("del")).to_have_text(["a "])
    expect(diff.locator("ins")).to_have_text(["the night ", "."])

    # Scores are charted by step (three points).
    expect(page.locator("#samples-score")).to_be_visible()
    points = page.evaluate(
        """() => window.Chart.getChart(document.getElementById('samples-score-chart'))
              .data.datasets.find((d) => d.$role === 'raw').data.map((p) => [p.x, p.y])"""
    )
    assert points == [[10, 10], [20, 20], [30, 30]]

    # Another prompt, and "All prompts" at a step.
    page.locator("#samples-prompt").select_option(label="Say hello")
    expect(page.locator("#samples-output")).to_have_text("hello 30")
    expect(page.locator("#samples-reference-box")).to_be_hidden()
    page.locator("#samples-prompt").select_option("")
    expect(page.locator("#samples-list .samples-item")).to_have_count(2)
    page.locator("#samples-step").fill("0")
    expect(page.locator("#samples-list pre")).to_have_text([OUTPUTS[10], "hello 10"])


def test_new_samples_appear_live_and_the_panel_follows_the_latest(page, report):
    uid = "e2e-samples-live"
    start_job(report, uid)
    open_job(page, uid)
    expect(page.locator("#samples-output")).to_have_text(OUTPUTS[30])

    report(
        f"/api/jobs/{uid}/samples",
        {
            "step": 40,
            "samples": [
                {"prompt": SUMMARY, "output": "The council extended the night bus to it."},
                {"prompt": "A brand new prompt", "output": "first words"},
            ],
        },
    )
    # It was at the latest output: it moves on to the new one, and the diff follows.
    expect(page.locator("#samples-output")).to_have_text(
        "The council extended the night bus to it."
    )
    expect(page.locator("#samples-step-label")).to_have_text("40")
    expect(page.locator("#samples-diff-to")).to_have_value("40")
    expect(page.locator("#samples-prompt option")).to_have_count(4)  # all + 3 prompts
    expect(page.locator("#samples-hint")).to_have_text("3 prompts · 4 steps")


def test_checkpoints_line_up_on_their_timeline_with_the_best_marked(page, report):
    uid = "e2e-checkpoints"
    start_job(report, uid)
    open_job(page, uid)
    expect(page.locator("#checkpoints-panel")).to_be_hidden()

    for step, val, acc in ((25, 1.2, 0.61), (50, 0.8, 0.7), (75, 0.9, 0.74)):
        report(
            f"/api/jobs/{uid}/checkpoints",
            {
                "step": step,
                "path": f"/ckpt/{uid}/checkpoint-{step}",
                "size": 1024**2 * step,
                "metrics": {"val/loss": val, "val/accuracy": acc},
            },
        )
    expect(page.locator("#checkpoints-panel")).to_be_visible()
    markers = page.locator("#ckpt-timeline .ckpt-marker")
    expect(markers).to_have_count(3)
    # Positioned by step over the job's 100 steps.
    lefts = markers.evaluate_all("(els) => els.map((el) => el.style.left)")
    assert lefts == ["25%", "50%", "75%"]
    # Best by val/loss (lower), then by val/accuracy (higher) when chosen.
    expect(page.locator("#ckpt-timeline .is-best")).to_have_attribute("data-step", "50")
    expect(page.locator("#ckpt-rows tr.is-best td").nth(1)).to_have_text(
        f"/ckpt/{uid}/checkpoint-50"
    )
    expect(page.locator("#ckpt-rows tr.is-best td").nth(2)).to_have_text("50.0 MiB")
    # The same marks on the loss chart's x axis.
    ticks = """() => window.Chart.getChart(document.getElementById('loss-chart')).$tb.stepTicks"""
    assert page.evaluate(ticks) == {"steps": [25, 50, 75], "best": 50}
    page.locator("#ckpt-metric").select_option("val/accuracy")
    expect(page.locator("#ckpt-timeline .is-best")).to_have_attribute("data-step", "75")
    assert page.evaluate(ticks)["best"] == 75


def test_the_demo_jobs_show_samples_checkpoints_and_the_deployed_one(page):
    # A completed demo job: its summaries improve towards the reference over the steps.
    page.goto("/job/t5-base-cnn-summarize")
    expect(page.locator("#samples-panel")).to_have_attribute("data-state", "ready")
    expect(page.locator("#samples-reference-box")).to_be_visible()
    expect(page.locator("#samples-diff ins").first).to_be_visible()
    expect(page.locator("#checkpoints-panel")).to_be_visible()
    expect(page.locator("#ckpt-timeline .is-best")).to_have_count(1)
    # Its deployment names the checkpoint it came from (the artifact path matches).
    expect(page.locator("#deployed-checkpoint")).to_contain_text("step 17")
    # A running demo job has samples too.
    page.goto("/job/llama3-8b-alpaca-lora")
    expect(page.locator("#samples-panel")).to_have_attribute("data-state", "ready")
    expect(page.locator("#samples-output")).not_to_be_empty()


def test_compare_shows_the_same_prompts_outputs_side_by_side_at_a_step(page, report):
    for uid, steps in (("e2e-cmp-a", (10, 20, 30)), ("e2e-cmp-b", (15, 25))):
        report("/api/jobs", {"uid": uid, "name": uid, "model": "tiny-gpt"})
        for step in steps:
            report(
                f"/api/jobs/{uid}/samples",
                {"step": step, "samples": [{"prompt": SUMMARY, "output": f"{uid} says {step}"}]},
            )
    report(
        "/api/jobs/e2e-cmp-b/samples", {"step": 5, "samples": [{"prompt": "Only b", "output": "x"}]}
    )
    page.goto("/compare?jobs=e2e-cmp-a,e2e-cmp-b")
    section = page.locator("#compare-samples")
    expect(section).to_have_attribute("data-state", "ready")
    # The prompt both jobs answered comes first; the other says whose it is.
    expect(page.locator("#cmp-sample-prompt option")).to_have_text(
        [SUMMARY, "Only b (1 of 2 jobs)"]
    )
    columns = section.locator(".cmp-sample pre")
    expect(columns).to_have_text(["e2e-cmp-a says 30", "e2e-cmp-b says 25"])
    # At step 20: each job's latest output at or before it.
    page.locator("#cmp-sample-step").select_option("20")
    expect(columns).to_have_text(["e2e-cmp-a says 20", "e2e-cmp-b says 15"])
    expect(section.locator(".cmp-sample__step")).to_have_text(["step 20", "step 15"])
    page.locator("#cmp-sample-prompt").select_option(label="Only b (1 of 2 jobs)")
    expect(columns).to_have_text(["", "x"])
    expect(section.locator(".cmp-sample__step").first).to_have_text("no output yet")
