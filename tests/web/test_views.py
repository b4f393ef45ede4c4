"""The pages: access, first paint from the database, and every job state's layout."""

import json

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from jobs import services
from jobs.diagnostics.rules import Finding
from jobs.models import Job, JobStatus
from jobs.web.views.dashboard import DASHBOARD_PAGE_SIZE
from tests.factories import add_logs, add_points, ingest_points, jobs_bulk, make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client):
    client.force_login(make_user("viewer"))
    return client


@pytest.fixture
def fixture_jobs():
    call_command("load_jobs", verbosity=0)


def boot_data(response):
    html = response.content.decode()
    start = html.index('<script id="job-boot" type="application/json">') + len(
        '<script id="job-boot" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


@pytest.mark.parametrize("path", ["/", "/job/anything"])
def test_pages_send_anonymous_visitors_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


def test_pages_are_open_to_anyone_with_public_read(client, settings):
    settings.TUNEBOARD_PUBLIC_READ = True
    make_job(uid="open-job")
    assert client.get("/").status_code == 200
    assert client.get("/job/open-job").status_code == 200


def test_signing_in_on_the_login_page_opens_the_dashboard(client):
    make_user("ada", password="a-long-password-1")
    page = client.get("/login/")
    assert b"Sign in" in page.content
    response = client.post("/login/", {"username": "ada", "password": "a-long-password-1"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_wrong_password_shows_an_error_on_the_login_page(client):
    make_user("ada", password="a-long-password-1")
    response = client.post("/login/", {"username": "ada", "password": "nope"})
    assert response.status_code == 200
    assert b'role="alert"' in response.content


def test_dashboard_shows_a_card_per_job_linking_to_its_page(signed_in, fixture_jobs):
    response = signed_in.get("/")
    html = response.content.decode()
    assert html.count('class="job-card"') == Job.objects.count() + 1  # + the card template
    assert 'href="/job/llama3-8b-alpaca-lora"' in html
    assert 'data-stat="running">4<' in html


def test_dashboard_filters_come_from_the_url(signed_in, fixture_jobs):
    html = signed_in.get("/?status=failed&q=falcon").content.decode()
    assert 'data-uid="falcon-7b-guanaco-nan"' in html
    assert 'data-uid="llama2-13b-oasst-oom"' not in html
    assert 'value="falcon"' in html


def test_dashboard_says_what_to_do_when_there_are_no_jobs(signed_in):
    html = signed_in.get("/").content.decode()
    assert "No jobs yet" in html
    assert "/api/jobs" in html


def test_dashboard_paints_the_first_page_of_cards_and_counts_them_all(signed_in):
    jobs_bulk(DASHBOARD_PAGE_SIZE + 12, status=JobStatus.RUNNING)
    html = signed_in.get("/").content.decode()
    assert html.count('class="job-card"') == DASHBOARD_PAGE_SIZE + 1  # + the card template
    assert 'data-uid="bulk-0"' in html  # the newest first
    assert f'data-uid="bulk-{DASHBOARD_PAGE_SIZE}"' not in html
    assert f"Showing {DASHBOARD_PAGE_SIZE} of {DASHBOARD_PAGE_SIZE + 12}" in html
    assert f'data-total="{DASHBOARD_PAGE_SIZE + 12}"' in html
    assert '<div class="more" id="more">' in html  # not hidden: there is more to load


def test_dashboard_hides_show_more_when_every_job_is_painted(signed_in, fixture_jobs):
    html = signed_in.get("/?status=failed").content.decode()
    assert '<div class="more" id="more" hidden>' in html
    assert "Showing 4 of 4" in html


def test_dashboard_queries_do_not_grow_with_the_number_of_jobs(signed_in):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert signed_in.get("/").status_code == 200
        return len(ctx.captured_queries)

    jobs_bulk(3, prefix="few")
    few = queries()
    jobs_bulk(150, prefix="many", status=JobStatus.RUNNING)
    assert queries() == few


def test_dashboard_filter_lists_hold_each_model_and_tag_once(signed_in):
    jobs_bulk(5, prefix="a", base_model="llama", tags=["lora", "8bit"], tags_text=",lora,8bit,")
    jobs_bulk(5, prefix="b", base_model="gpt2", tags=["lora"], tags_text=",lora,")
    jobs_bulk(2, prefix="c")
    html = signed_in.get("/").content.decode()
    assert html.count('<option value="llama">') == 1
    assert html.count('<option value="gpt2">') == 1
    assert html.index('<option value="gpt2">') < html.index('<option value="llama">')
    assert html.count('<option value="lora">#lora</option>') == 1
    assert html.count('<option value="8bit">#8bit</option>') == 1


def test_running_job_page_paints_header_stages_and_latest_metrics(signed_in):
    job = make_job(uid="run-1", name="run one", status=JobStatus.RUNNING, total_steps=100)
    services.metrics_ingest(
        job=job,
        points=[
            {"key": "train/loss", "step": 10, "value": 0.9},
            {"key": "train/loss", "step": 20, "value": 0.7},
            {"key": "grad_norm", "step": 20, "value": 1.5},
        ],
    )
    add_logs(job, 3)
    response = signed_in.get("/job/run-1")
    html = response.content.decode()
    assert "<h1" in html and "run one" in html
    assert 'data-stage="training"' in html
    assert ">0.7</span>" in html  # latest train loss
    assert "↓0.2" in html  # its change against the previous point
    assert 'data-key="grad_norm"' in html  # a small chart for every other key
    assert "line 2" in html
    boot = boot_data(response)
    assert boot["otherKeys"] == ["grad_norm"]
    assert boot["lastSeq"] == 2


def test_job_page_never_loads_whole_series(signed_in, django_assert_max_num_queries):
    job = make_job(uid="long-run", status=JobStatus.RUNNING)
    add_points(job, [1.0] * 20_000)
    ingest_points(job, 2, start=20_000)
    with django_assert_max_num_queries(20):
        response = signed_in.get("/job/long-run")
    assert len(response.content) < 200_000


def test_failed_job_page_has_the_error_panel_with_traceback_and_fixes(signed_in, fixture_jobs):
    response = signed_in.get("/job/llama2-13b-oasst-oom")
    html = response.content.decode()
    assert 'id="error-panel"' in html
    assert "CUDA out of memory" in html
    assert "Traceback" in html
    assert "Suggested fixes" in html
    assert 'class="checklist"' in html  # fixes from diagnostics
    assert 'data-stage="training" data-status="failed"' in html


def test_queued_job_page_previews_the_config_and_queue_position(signed_in, fixture_jobs):
    html = signed_in.get("/job/gemma2-2b-samsum").content.decode()
    assert "Configuration" in html
    assert "learning_rate" in html
    assert "in the queue" in html
    assert 'id="loss-chart"' not in html


def test_completed_job_page_has_a_summary_and_deployment(signed_in, fixture_jobs):
    html = signed_in.get("/job/distilbert-sst2").content.decode()
    assert "Final train loss" in html
    assert "Deployment" in html


def test_unknown_job_is_a_404_page(signed_in):
    response = signed_in.get("/job/no-such-job")
    assert response.status_code == 404
    assert b"Nothing here" in response.content
    assert b"Back to all jobs" in response.content


def test_running_job_page_lists_open_alerts_with_their_fixes(signed_in):
    job = make_job(uid="noisy", status=JobStatus.RUNNING)
    finding = Finding(
        code="overfitting",
        severity="warning",
        title="Validation loss is rising",
        summary="val/loss rose for 3 evaluations while train/loss fell.",
        suggested_fixes=["Stop at the best checkpoint (load_best_model_at_end=True)."],
    )
    services.alerts_sync(job=job, findings=[finding])
    html = signed_in.get("/job/noisy").content.decode()
    assert 'id="alerts-panel"' in html
    assert "1 open alert<" in html
    assert "Validation loss is rising" in html
    assert "load_best_model_at_end=True" in html
    dashboard = signed_in.get("/").content.decode()
    assert "⚠ Validation loss is rising" in dashboard
