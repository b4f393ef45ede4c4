"""The job page's metric area: sections by key prefix, the summary rule, the first read."""

import json

import pytest

from jobs import services
from jobs.layout import is_summary, metric_section, section_rank, summary_marked
from jobs.models import JobStatus
from jobs.web.presenters import PREFETCH_CHART_KEYS
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db

BOOT_TAG = '<script id="job-boot" type="application/json">'


@pytest.fixture
def signed_in(client):
    client.force_login(make_user("viewer"))
    return client


def boot_data(html):
    start = html.index(BOOT_TAG) + len(BOOT_TAG)
    return json.loads(html[start : html.index("</script>", start)])


@pytest.mark.parametrize(
    ("key", "section"),
    [
        ("train/grad_norm", "train"),
        ("val/accuracy", "val"),
        ("eval/bleu", "val"),
        ("system/gpu_util", "system"),
        ("lr/group0", "lr"),
        ("layer/3/norm", "layer"),
        ("learning_rate", "other"),
        ("/odd", "other"),
    ],
)
def test_a_key_belongs_to_the_section_of_its_prefix(key, section):
    assert metric_section(key) == section


def test_sections_come_in_page_order():
    ids = ["other", "system", "zeta", "val", "alpha", "train"]
    assert sorted(ids, key=section_rank) == ["train", "val", "alpha", "zeta", "system", "other"]


def test_the_summary_rule_takes_single_points_and_marked_keys_never_the_loss():
    marked = summary_marked({"summary": ["train_runtime"]})
    assert is_summary("total_flos", 1, marked)
    assert is_summary("train_runtime", 40, marked)
    assert not is_summary("grad_norm", 2, marked)
    assert not is_summary("train/loss", 1, marked)
    assert summary_marked({"summary": {"a": 1.5}}) == {"a": 1.5}
    assert summary_marked({"summary": "nonsense"}) == {}
    assert summary_marked(None) == {}


def test_the_page_groups_charts_and_lists_single_values_in_the_summary(signed_in):
    job = make_job(
        uid="hf-run",
        status=JobStatus.RUNNING,
        config={"summary": {"train_samples_per_second": None, "model_params": 110_000_000}},
    )
    points = [
        {"key": key, "step": step, "value": 0.5 + step / 100}
        for key in ("train/loss", "train/grad_norm", "eval/bleu", "train_samples_per_second")
        for step in (10, 20)
    ]
    points += [{"key": "total_flos", "step": 20, "value": 1.5e15}]
    services.metrics_ingest(job=job, points=points)
    html = signed_in.get("/job/hf-run").content.decode()
    boot = boot_data(html)
    assert boot["summaryKeys"] == ["model_params", "total_flos", "train_samples_per_second"]
    assert boot["summaryMarked"] == ["model_params", "train_samples_per_second"]
    assert 'data-section="train"' in html and 'data-section="val"' in html
    assert 'class="panel small-chart" data-key="eval/bleu"' in html
    assert 'class="panel small-chart" data-key="total_flos"' not in html
    assert 'class="summary-row" role="listitem" data-key="total_flos" data-step="20"' in html
    assert "1.50e+15" in html
    # The first read: the loss chart and the first charts, by name.
    assert boot["firstKeys"] == ["train/loss", "train/grad_norm", "eval/bleu"]
    assert boot["firstUrl"] == (
        "/api/jobs/hf-run/metrics?max_points=1000&keys=train%2Floss,train%2Fgrad_norm,eval%2Fbleu"
    )


def test_a_job_with_many_keys_reads_only_its_first_charts_first(
    signed_in, django_assert_max_num_queries
):
    job = make_job(uid="wide", status=JobStatus.RUNNING)
    points = [
        {"key": f"grp{n % 7}/k{n:03d}", "step": step, "value": 1.0}
        for n in range(300)
        for step in (1, 2)
    ]
    services.metrics_ingest(job=job, points=points)
    with django_assert_max_num_queries(25):
        response = signed_in.get("/job/wide")
    html = response.content.decode()
    assert html.count('class="panel small-chart"') == 300
    assert html.count('class="metric-section"') == 7
    boot = boot_data(html)
    assert len(boot["firstKeys"]) == PREFETCH_CHART_KEYS
    assert boot["summaryKeys"] == []
