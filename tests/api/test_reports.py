"""Reports: GET /api/jobs/{uid}/report and /api/compare/report, and manage.py job_report.

The browser half (the file opened offline in Chromium, the PDF's pages) is
tests/e2e/test_reports.py.
"""

import json
import re
from io import StringIO

import pytest
from django.core.management import call_command

from jobs import services
from jobs.reports import data as report_data
from tests.factories import add_points, add_samples, ingest_points, make_job, make_user, sample

pytestmark = pytest.mark.django_db

DATA_RE = re.compile(r'<script type="application/json" id="report-data">(.*?)</script>', re.S)


def report_data_of(html):
    return json.loads(DATA_RE.search(html).group(1))


def trained_job(**fields):
    job = make_job(
        status="running",
        name="llama tune",
        model="meta-llama/Llama-3-8B",
        dataset="tatsu-lab/alpaca",
        tags=["lora", "8bit"],
        config={"learning_rate": 2e-4, "lora_r": 16},
        host="gpu-node-3",
        **fields,
    )
    ingest_points(job, 300, key="train/loss")
    ingest_points(job, 30, key="val/loss", value=lambda step: 2.0 / (step + 2))
    ingest_points(job, 300, key="train/grad_norm", value=lambda step: 1 + (step % 7) / 10)
    ingest_points(job, 300, key="learning_rate", value=lambda step: 1e-4)
    services.metrics_ingest(job=job, points=[{"key": "eval/bleu", "step": 300, "value": 31.5}])
    add_samples("gpu-node-3", [sample(cpu_percent=40.0 + n) for n in range(20)], job=job)
    job.refresh_from_db()
    return job


def test_job_report_is_one_html_attachment_with_every_chart_s_data(token_client):
    job = trained_job()
    response = token_client.get(f"/api/jobs/{job.uid}/report")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{job.uid}-report.html"'
    html = response.content.decode()
    for text in ("llama tune", "meta-llama/Llama-3-8B", "tatsu-lab/alpaca", "#lora", "gpu-node-3"):
        assert text in html
    data = report_data_of(html)
    canvases = re.findall(r'<canvas data-chart="([^"]+)"', html)
    assert sorted(canvases) == sorted(chart["id"] for chart in data["charts"])
    titles = [chart["title"] for chart in data["charts"]]
    # The loss chart first, then the sections as on the page, then resources.
    assert titles[0] == "Loss" and titles[1] == "train/grad_norm"
    assert "learning_rate" in titles and "CPU" in titles
    loss = data["charts"][0]
    assert [line["label"] for line in loss["series"]] == ["train/loss", "val/loss"]
    assert len(loss["series"][0]["x"]) == 300
    # A single-value key is a Summary row, not a chart.
    assert "eval/bleu" not in titles
    assert re.search(r"<th scope=\"row\">eval/bleu</th><td class=\"num\">31.5</td>", html)


def test_job_report_asks_for_nothing_outside_the_file(token_client):
    job = trained_job()
    response = token_client.get(f"/api/jobs/{job.uid}/report")
    html = response.content.decode()
    assert not re.search(r"\ssrc=", html), "an external script or image"
    assert not re.search(r"<link[^>]+rel=\"stylesheet\"", html)
    assert '<link rel="icon" href="data:,">' in html  # no favicon request either
    policy = response["Content-Security-Policy"]
    assert policy.startswith("default-src 'none'; script-src 'sha256-")
    assert "connect-src" not in policy and "'unsafe-inline'" not in policy
    # The file's own policy holds when it is opened from disk.
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\';' in html


def test_a_failed_job_s_report_has_the_error_failure_point_and_suggested_fixes(token_client):
    job = make_job(
        status="running", step=1200, name="oom run", config={"per_device_train_batch_size": 8}
    )
    ingest_points(job, 50)
    error = {
        "message": "CUDA out of memory. Tried to allocate 1.95 GiB.",
        "type": "torch.OutOfMemoryError",
        "stage": "training",
        "step": 1200,
    }
    services.job_status_update(job=job, status="failed", error=error)
    html = token_client.get(f"/api/jobs/{job.uid}/report").content.decode()
    assert 'id="report-error"' in html
    assert "Training, step 1\u2009200" in html
    assert "CUDA out of memory. Tried to allocate 1.95 GiB." in html
    assert "Suggested fixes" in html
    fixes = re.search(r'<ul class="checklist">(.*?)</ul>', html, re.S).group(1)
    assert "batch" in fixes


def test_notes_are_in_the_report_only_when_asked_for(token_client):
    job = trained_job()
    services.job_update_details(job=job, notes="Baseline **before** the LR sweep.")
    without = token_client.get(f"/api/jobs/{job.uid}/report").content.decode()
    assert "LR sweep" not in without
    with_notes = token_client.get(f"/api/jobs/{job.uid}/report?notes=1").content.decode()
    assert "Baseline <strong>before</strong> the LR sweep." in with_notes


def test_a_long_job_s_report_keeps_each_series_extremes_within_the_point_budget(token_client):
    job = make_job(status="running")
    values = [1.0 + (step % 10) / 100 for step in range(20_000)]
    values[12_345] = -7.0
    values[17_000] = 9.0
    add_points(job, values, key="train/loss")
    ingest_points(job, 1, key="train/loss", start=20_000)  # latest_metrics
    data = report_data_of(token_client.get(f"/api/jobs/{job.uid}/report").content.decode())
    line = data["charts"][0]["series"][0]
    assert len(line["x"]) <= report_data.POINTS_PER_KEY
    assert min(line["y"]) == -7.0 and max(line["y"]) == 9.0


def test_a_job_with_many_keys_draws_at_most_the_chart_cap_within_the_total_budget(
    token_client,
):
    job = make_job(status="running")
    keys = [f"layer/{n:03d}" for n in range(report_data.MAX_CHARTS + 10)]
    services.metrics_ingest(
        job=job,
        points=[{"key": key, "step": step, "value": 1.0} for key in keys for step in range(2)],
    )
    html = token_client.get(f"/api/jobs/{job.uid}/report").content.decode()
    data = report_data_of(html)
    assert len(data["charts"]) == report_data.MAX_CHARTS
    assert "10 more keys not drawn" in html
    # Every key still has its final value in the table.
    assert all(f'<tr data-key="{key}">' in html for key in keys)
    assert report_data.points_per_key(1000) * 1000 <= 60_000


def test_a_report_of_a_job_in_another_project_answers_404(api_client):
    owner = make_user()
    private = services.project_create(name="Private", creator=owner)
    job = make_job(status="running", project=private)
    outsider = make_user()
    api_client.force_login(outsider)
    response = api_client.get(f"/api/jobs/{job.uid}/report")
    assert response.status_code == 404
    api_client.force_login(owner)
    assert api_client.get(f"/api/jobs/{job.uid}/report").status_code == 200


def test_a_report_needs_a_reader(api_client):
    job = make_job(status="running")
    assert api_client.get(f"/api/jobs/{job.uid}/report").status_code in (401, 403)


def test_an_unknown_report_format_is_a_400_naming_the_field(token_client):
    job = make_job(status="running")
    response = token_client.get(f"/api/jobs/{job.uid}/report?format=docx")
    assert response.status_code == 400
    assert "format" in response.json()


def test_a_pdf_without_chromium_is_a_501_that_says_what_to_do(token_client, settings):
    settings.TUNEBOARD_CHROMIUM = "/nonexistent/chromium"
    job = make_job(status="running")
    response = token_client.get(f"/api/jobs/{job.uid}/report?format=pdf")
    assert response.status_code == 501
    detail = response.json()["detail"]
    assert "Chromium" in detail and "TUNEBOARD_CHROMIUM" in detail and "format=html" in detail


def test_compare_report_overlays_the_shared_keys_and_diffs_the_configs(token_client):
    first = trained_job()
    second = make_job(
        status="running", name="second run", config={"learning_rate": 1e-4, "lora_r": 16}
    )
    ingest_points(second, 100, key="train/loss")
    response = token_client.get(f"/api/compare/report?jobs={first.uid},{second.uid}")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="compare-report.html"'
    html = response.content.decode()
    data = report_data_of(html)
    assert [chart["title"] for chart in data["charts"]] == ["train/loss"]
    assert [line["label"] for line in data["charts"][0]["series"]] == ["llama tune", "second run"]
    assert "1 of 2 keys differ" in html
    assert re.search(
        r'class="differs" data-differs="true"><th scope="row" class="mono">≠ learning_rate', html
    )


def test_compare_report_wants_two_to_eight_jobs_the_reader_may_see(token_client):
    job = make_job(status="running")
    response = token_client.get(f"/api/compare/report?jobs={job.uid}")
    assert response.status_code == 400 and "jobs" in response.json()
    response = token_client.get(f"/api/compare/report?jobs={job.uid},nope")
    assert response.status_code == 404 and "nope" in response.json()["detail"]


def test_job_report_command_writes_the_html_file(tmp_path):
    job = trained_job()
    out = StringIO()
    target = tmp_path / "report.html"
    call_command("job_report", job.uid, "-o", str(target), stdout=out)
    assert "Wrote" in out.getvalue()
    assert "llama tune" in target.read_text()


def test_a_multi_node_jobs_report_charts_its_own_host_not_a_mix_of_hosts():
    job = make_job(uid="two-nodes", status="completed", host="node-a")
    add_samples("node-a", [sample(cpu_percent=10.0) for _ in range(3)], job=job)
    add_samples("node-b", [sample(cpu_percent=90.0) for _ in range(2)], job=job)
    charts, _ = report_data.resource_charts(job)
    cpu = next(chart for chart in charts if chart["id"] == "res-cpu")
    (line,) = cpu["series"]
    assert line["y"] == [10.0, 10.0, 10.0]
