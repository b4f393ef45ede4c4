"""The compare page, and the notes/tags endpoint of the job page."""

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from jobs.layout import config_diff
from jobs.models import Job, JobStatus
from jobs.selectors import metric_step_clock as step_clock
from tests.factories import add_points, ingest_points, make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client):
    client.force_login(make_user("viewer"))
    return client


@pytest.fixture
def csrf_client():
    """A signed-in client that enforces CSRF, as a browser session does."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("editor"))
    return client


def two_jobs():
    a = make_job(
        uid="run-a",
        name="Run A",
        status=JobStatus.RUNNING,
        config={"learning_rate": 0.0002, "lora_r": 16, "bf16": True, "seed": 1},
    )
    b = make_job(
        uid="run-b",
        name="Run B",
        status=JobStatus.COMPLETED,
        config={"learning_rate": 0.0001, "lora_r": 16, "bf16": True, "warmup_steps": 100},
    )
    for job in (a, b):
        ingest_points(job, 20)
        ingest_points(job, 5, key="val/loss", value=lambda step: 2.0 - step / 10)
    ingest_points(a, 3, key="grad_norm")
    return a, b


def compare_boot(response):
    html = response.content.decode()
    match = re.search(r'<script id="compare-boot" type="application/json">(.*?)</script>', html)
    return json.loads(match.group(1))


def diff_rows(html):
    """{key: differs} read from the rendered config diff table."""
    body = html[html.index("<tbody>", html.index('id="diff-table"')) :]
    rows = re.findall(
        r"<tr( class=\"is-different\" data-differs=\"true\")?>\s*<th[^>]*>(.*?)</th>", body
    )
    return {re.sub(r"<[^>]+>|Differs: ", "", key): bool(flag) for flag, key in rows}


def test_compare_page_shows_shared_keys_legend_and_final_metrics(signed_in):
    two_jobs()
    response = signed_in.get("/compare?jobs=run-a,run-b")
    assert response.status_code == 200
    boot = compare_boot(response)
    assert [job["uid"] for job in boot["jobs"]] == ["run-a", "run-b"]
    assert boot["keys"] == ["train/loss", "val/loss"]  # grad_norm is only run-a's
    html = response.content.decode()
    assert html.count('class="panel chart-panel compare-chart"') == 2
    assert 'id="final-table"' in html and "Best val loss" in html
    assert html.count('<tr data-uid="run-') == 2


def test_compare_overlays_keys_two_jobs_share_even_with_a_queued_job_selected(signed_in):
    two_jobs()
    make_job(uid="run-q", name="Queued")
    boot = compare_boot(signed_in.get("/compare?jobs=run-a,run-b,run-q"))
    assert boot["keys"] == ["train/loss", "val/loss"]


def test_compare_offers_grouping_by_model_tags_and_each_differing_config_key(signed_in):
    a, b = two_jobs()
    Job.objects.filter(pk=a.pk).update(base_model="llama", tags=["lora", "8bit"])
    Job.objects.filter(pk=b.pk).update(base_model="llama", tags=[])
    response = signed_in.get("/compare?jobs=run-a,run-b")
    groupings = compare_boot(response)["groupings"]
    assert list(groupings) == [
        "model",
        "tag",
        "config.learning_rate",
        "config.seed",
        "config.warmup_steps",
    ]
    assert groupings["model"] == {"run-a": ["llama"], "run-b": ["llama"]}
    # As in the runs table, a job with several tags is in each tag's group.
    assert groupings["tag"] == {"run-a": ["8bit", "lora"], "run-b": ["(none)"]}
    assert groupings["config.learning_rate"] == {"run-a": ["0.0002"], "run-b": ["0.0001"]}
    assert groupings["config.seed"] == {"run-a": ["1"], "run-b": ["(none)"]}
    html = response.content.decode()
    assert '<option value="config.learning_rate">config.learning_rate</option>' in html


def test_config_diff_marks_only_the_keys_whose_values_differ(signed_in):
    two_jobs()
    html = signed_in.get("/compare?jobs=run-a,run-b").content.decode()
    assert diff_rows(html) == {
        "learning_rate": True,
        "lora_r": False,
        "bf16": False,
        "seed": True,  # set on one job only
        "warmup_steps": True,
    }
    assert "3 of 5 keys differ" in html


def test_config_diff_compares_nested_values_by_content_and_marks_missing_keys():
    rows = config_diff([{"a": {"x": 1, "y": 2}, "b": [1]}, {"a": {"y": 2, "x": 1}}])
    assert rows == [
        {"key": "a", "cells": ['{"x": 1, "y": 2}', '{"x": 1, "y": 2}'], "differs": False},
        {"key": "b", "cells": ["[1]", None], "differs": True},
    ]


def test_compare_lists_every_unknown_uid_with_a_404(signed_in):
    two_jobs()
    response = signed_in.get("/compare?jobs=run-a,nope-1,run-b,nope-2")
    assert response.status_code == 404
    html = response.content.decode()
    assert "No jobs with these ids" in html
    assert "<code>nope-1</code>" in html and "<code>nope-2</code>" in html
    assert "compare-boot" not in html


@pytest.mark.parametrize("query", ["", "?jobs=", "?jobs=run-a", "?jobs=run-a,run-a"])
def test_compare_needs_at_least_two_distinct_jobs(signed_in, query):
    two_jobs()
    response = signed_in.get(f"/compare{query}")
    assert response.status_code == 400
    assert "Pick 2 to 8 jobs to compare" in response.content.decode()


def test_compare_refuses_more_than_eight_jobs(signed_in):
    uids = [make_job(uid=f"many-{i}").uid for i in range(9)]
    response = signed_in.get(f"/compare?jobs={','.join(uids)}")
    assert response.status_code == 400
    assert "(9 given)" in response.content.decode()


def test_compare_escapes_hostile_job_names_and_config(signed_in):
    make_job(uid="evil-a", name="<script>alert(1)</script>", config={"<img onerror=x>": "<b>"})
    make_job(uid="evil-b", name="fine")
    html = signed_in.get("/compare?jobs=evil-a,evil-b").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "<img onerror=x>" not in html
    assert "&lt;img onerror=x&gt;" in html


def test_compare_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/compare?jobs=a,b")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_step_clock_gives_seconds_since_start_rising_with_step():
    job = make_job(uid="clocked", status=JobStatus.RUNNING)
    start = job.started_at
    add_points(job, [1.0] * 10, start=0, wall_time=start + timedelta(seconds=10))
    add_points(job, [1.0] * 10, start=10, wall_time=start + timedelta(seconds=70))
    clock = step_clock(job, buckets=4)
    steps = [step for step, _ in clock]
    seconds = [sec for _, sec in clock]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 19
    assert seconds == sorted(seconds)
    assert seconds[0] == pytest.approx(10, abs=0.01) and seconds[-1] == pytest.approx(70, abs=0.01)


def test_step_clock_is_empty_for_a_job_without_points():
    assert step_clock(make_job(uid="empty")) == []


# --- notes and tags ------------------------------------------------------------------


def post_details(client, uid, body, **extra):
    return client.post(
        f"/job/{uid}/details", data=json.dumps(body), content_type="application/json", **extra
    )


def csrf_token(client, uid):
    html = client.get(f"/job/{uid}").content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_editing_details_needs_a_signed_in_user(client):
    make_job(uid="noted")
    response = post_details(client, "noted", {"notes": "hi"})
    assert response.status_code == 403
    assert Job.objects.get(uid="noted").notes == ""


def test_editing_details_needs_the_csrf_token(csrf_client):
    make_job(uid="noted")
    response = post_details(csrf_client, "noted", {"notes": "hi"})
    assert response.status_code == 403
    assert Job.objects.get(uid="noted").notes == ""


def test_a_signed_in_edit_with_csrf_stores_notes_and_tags_and_answers_rendered_html(csrf_client):
    make_job(uid="noted", tags=["old"])
    token = csrf_token(csrf_client, "noted")
    response = post_details(
        csrf_client,
        "noted",
        {"notes": "**lr** too high <script>alert(1)</script>", "tags": ["lora", "8bit"]},
        HTTP_X_CSRFTOKEN=token,
    )
    assert response.status_code == 200
    data = response.json()
    assert data["notes_html"] == (
        "<p><strong>lr</strong> too high &lt;script&gt;alert(1)&lt;/script&gt;</p>"
    )
    job = Job.objects.get(uid="noted")
    assert job.notes == "**lr** too high <script>alert(1)</script>"
    assert job.tags == ["lora", "8bit"]
    assert data["tags"] == ["lora", "8bit"]


def test_the_job_page_shows_notes_rendered_and_escaped_in_the_header(signed_in):
    job = make_job(uid="noted")
    job.notes = 'see [run](javascript:alert(1)) "><img src=x onerror=alert(1)> *ok*'
    job.save()
    html = signed_in.get("/job/noted").content.decode()
    view = html[html.index('id="notes-view"') :]
    view = view[: view.index("</div>")]
    assert "<em>ok</em>" in view
    assert "<img" not in view and "<a " not in view
    assert "&lt;img src=x onerror=alert(1)&gt;" in view


def test_invalid_tags_get_a_400_naming_the_field_and_nothing_is_stored(signed_in):
    make_job(uid="noted", tags=["keep"])
    response = post_details(signed_in, "noted", {"tags": ["ok", "bad,comma"]})
    assert response.status_code == 400
    assert "tags" in response.json()
    assert Job.objects.get(uid="noted").tags == ["keep"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tags": "lora"}, "tags"),
        ({"notes": 5}, "notes"),
        ({"notes": "x" * 20_001}, "notes"),
        ({"title": "x"}, "title"),
        ({}, "detail"),
        ([], "detail"),
    ],
)
def test_bad_details_bodies_get_a_400_naming_the_field(signed_in, body, field):
    make_job(uid="noted")
    response = post_details(signed_in, "noted", body)
    assert response.status_code == 400
    assert field in response.json()


def test_a_body_that_is_not_json_gets_a_400(signed_in):
    make_job(uid="noted")
    response = signed_in.post("/job/noted/details", data="{", content_type="application/json")
    assert response.status_code == 400
    assert "JSON" in response.json()["detail"]


def test_details_of_an_unknown_job_are_a_404(signed_in):
    assert post_details(signed_in, "ghost", {"notes": "x"}).status_code == 404


def test_reading_details_answers_the_rendered_notes(signed_in):
    job = make_job(uid="noted", tags=["a"])
    job.notes = "`code`"
    job.finished_at = timezone.now()
    job.save()
    data = signed_in.get("/job/noted/details").json()
    assert data == {
        "uid": "noted",
        "notes": "`code`",
        "notes_html": "<p><code>code</code></p>",
        "tags": ["a"],
    }
