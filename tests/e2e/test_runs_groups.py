"""Compare grouped in Chromium: each group's mean line with a ± std band across its jobs,
aligned by step, and a queued job in the selection that leaves the charts drawn.

The jobs are this module's own (after test_pages.py, whose screenshots show the demo
data only): two seeds at lr 0.001, two at lr 0.002, and one queued job with no metric.
"""

import math

import pytest
from playwright.sync_api import expect

from .conftest import api_post

pytestmark = pytest.mark.e2e

KEY = "e2e/band-loss"
# uid -> (lr, value at step s): within a group the two seeds differ by a constant, so
# the mean and std are known at every step, also where one job logged and the other
# did not (its value is interpolated between its own points).
SEEDS = {
    "e2e-band-a1": (0.001, lambda s: 1.0 + s),
    "e2e-band-a2": (0.001, lambda s: 3.0 + s),
    "e2e-band-b1": (0.002, lambda s: 10.0),
    "e2e-band-b2": (0.002, lambda s: 14.0),
}
STEPS = {"e2e-band-a1": range(11), "e2e-band-a2": range(0, 11, 2)}
QUEUED = "e2e-band-queued"

GROUP_DATASETS = """(key) => {
  const canvas = document.querySelector(`.compare-chart[data-key="${key}"] canvas`);
  const chart = canvas && window.Chart.getChart(canvas);
  if (!chart) return null;
  return chart.data.datasets
    .filter((d) => d.$role !== "marker" && d.data.length > 0)
    .map((d) => ({ role: d.$role, group: d.$group || null, fill: d.fill ?? null,
                   points: d.data.map((p) => [p.x, p.y]) }));
}"""


@pytest.fixture(scope="module")
def band_jobs(report):
    for uid, (lr, value) in SEEDS.items():
        tags = ["e2e-band", "e2e-wide"] if lr == 0.002 else ["e2e-band"]
        job = {"uid": uid, "name": uid, "model": "tiny", "tags": tags, "config": {"e2e_lr": lr}}
        report("/api/jobs", job)
        report(f"/api/jobs/{uid}/status", {"status": "running", "step": 10})
        steps = STEPS.get(uid, range(11))
        points = [{"key": KEY, "step": s, "value": value(s)} for s in steps]
        report(f"/api/jobs/{uid}/metrics", {"points": points})
    report("/api/jobs", {"uid": QUEUED, "name": QUEUED, "model": "tiny"})
    return [*SEEDS, QUEUED]


@pytest.fixture(scope="module")
def report(server):
    """`api_post` to the package's server (module-scoped, for the module's jobs)."""
    return lambda path, body: api_post(server, path, body)


def group_datasets(page, role="mean", count=None):
    """The chart's datasets once one with `role` has data (`count` of them, if given)."""
    wait = (
        "([key, role, count]) => {"
        + f"const found = (({GROUP_DATASETS})(key) || []).filter((d) => d.role === role).length;"
        + "return count === null ? found > 0 : found === count; }"
    )
    page.wait_for_function(wait, arg=[KEY, role, count])
    return page.evaluate(GROUP_DATASETS, KEY)


def test_grouping_by_a_config_key_draws_each_groups_mean_and_std_band(page, band_jobs):
    page.goto(f"/compare?jobs={','.join(band_jobs)}")
    # The queued job logged nothing: the keys the others share are still charted.
    chart = page.locator(f'.compare-chart[data-key="{KEY}"]')
    expect(chart).to_be_visible()
    expect(page.locator(".compare-chart .chart-box.is-loading")).to_have_count(0)

    page.select_option("#group-by", "config.e2e_lr")
    assert "group=config.e2e_lr" in page.url
    datasets = group_datasets(page)
    # Grouped, the jobs' own lines are empty: only the groups' datasets draw.
    assert {d["role"] for d in datasets} == {"band-low", "band-high", "mean"}
    by_group = {}
    for d in datasets:
        by_group.setdefault(d["group"], {})[d["role"]] = d
    assert set(by_group) == {"0.001", "0.002"}
    # The upper edge fills down to the lower one: the band.
    assert all(g["band-high"]["fill"] == "-1" for g in by_group.values())

    a = by_group["0.001"]
    std_a = math.sqrt(2.0)  # seeds 2 apart: sample std of {v, v + 2}
    assert [x for x, _ in a["mean"]["points"]] == list(range(11))
    for (x, mean), (_, low), (_, high) in zip(
        a["mean"]["points"], a["band-low"]["points"], a["band-high"]["points"], strict=True
    ):
        assert mean == pytest.approx(2.0 + x)
        assert low == pytest.approx(2.0 + x - std_a)
        assert high == pytest.approx(2.0 + x + std_a)
    b = by_group["0.002"]
    assert all(y == pytest.approx(12.0) for _, y in b["mean"]["points"])
    assert all(y == pytest.approx(12.0 + math.sqrt(8.0)) for _, y in b["band-high"]["points"])

    legend = page.locator("#group-legend li")
    expect(legend).to_have_count(2)
    expect(legend.first).to_contain_text("0.001 · 2 jobs · mean ± std")

    # Back to one line per job (the queued one has none).
    page.select_option("#group-by", "")
    assert {d["role"] for d in group_datasets(page, "raw", 4)} == {"raw"}
    expect(page.locator("#group-legend")).to_be_hidden()


def test_a_grouped_compare_url_opens_grouped_and_a_job_may_be_in_several_groups(page, band_jobs):
    page.goto(f"/compare?jobs={','.join(band_jobs)}&group=model")
    expect(page.locator("#group-by")).to_have_value("model")
    datasets = group_datasets(page)
    means = [d for d in datasets if d["role"] == "mean"]
    # One model for all four jobs with data: one mean line over the four.
    assert [d["group"] for d in means] == ["tiny"]
    assert means[0]["points"][0] == [0, pytest.approx((1.0 + 3.0 + 10.0 + 14.0) / 4)]

    # By tag a job is in each of its tags' groups; the queued job's "(none)" has no line.
    page.select_option("#group-by", "tag")
    datasets = group_datasets(page, "mean", 2)
    firsts = {d["group"]: d["points"][0] for d in datasets if d["role"] == "mean"}
    assert firsts == {"e2e-band": [0, pytest.approx(7.0)], "e2e-wide": [0, pytest.approx(12.0)]}
    expect(page.locator("#group-legend li")).to_have_text(
        ["e2e-band · 4 jobs · mean ± std", "e2e-wide · 2 jobs · mean ± std"]
    )
