"""Hostile strings are stored as text or refused with a 400 naming the field, never a 5xx,
and the pages render them escaped."""

import pytest

from jobs import services
from jobs.models import Job, LogEntry, MetricPoint
from tests.factories import make_job

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
CONTROL = "a\x01b\x07c\x1b[31mred\x7f\u202eevil\u2028line"


def post_raw(client, path, raw):
    return client.generic("POST", path, raw, content_type="application/json")


def test_html_and_control_characters_in_names_tags_and_fields_are_stored_verbatim(token_client):
    response = token_client.post(
        "/api/jobs",
        {
            "uid": "hostile",
            "name": SCRIPT,
            "model": IMG,
            "dataset": CONTROL,
            "tags": [SCRIPT, IMG, CONTROL],
            "config": {SCRIPT: IMG, "note": CONTROL},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    job = Job.objects.get(uid="hostile")
    assert (job.name, job.base_model, job.dataset) == (SCRIPT, IMG, CONTROL)
    assert job.tags == [SCRIPT, IMG, CONTROL]
    assert job.config == {SCRIPT: IMG, "note": CONTROL}


def test_hostile_log_lines_and_metric_keys_are_stored_verbatim(token_client):
    job = make_job(uid="hostile-logs")
    lines = [{"seq": i, "message": text} for i, text in enumerate([SCRIPT, IMG, CONTROL])]
    assert token_client.post(
        f"/api/jobs/{job.uid}/logs", {"lines": lines}, format="json"
    ).json() == {"accepted": 3}
    assert list(
        LogEntry.objects.filter(job=job).order_by("seq").values_list("message", flat=True)
    ) == [
        SCRIPT,
        IMG,
        CONTROL,
    ]
    points = [{"key": SCRIPT, "step": 1, "value": 0.5}]
    assert (
        token_client.post(
            f"/api/jobs/{job.uid}/metrics", {"points": points}, format="json"
        ).status_code
        == 200
    )
    assert MetricPoint.objects.get(job=job).key == SCRIPT


def test_a_nul_byte_is_stored_as_a_replacement_character(token_client):
    job = make_job(uid="nul-logs")
    response = token_client.post(
        f"/api/jobs/{job.uid}/logs", {"lines": [{"seq": 0, "message": "a\x00b"}]}, format="json"
    )
    assert response.status_code == 200
    assert LogEntry.objects.get(job=job).message == "a\ufffdb"


def test_a_nul_in_a_json_field_is_stored_as_a_replacement_character(token_client):
    # Found by the fuzzer: PostgreSQL's jsonb cannot hold NUL, so this was a 500 there.
    response = post_raw(
        token_client,
        "/api/jobs",
        b'{"uid": "nul-config", "name": "n", "config": {"k\\u0000": ["v\\u0000"]}}',
    )
    assert response.status_code == 201, response.content
    assert Job.objects.get(uid="nul-config").config == {"k\ufffd": ["v\ufffd"]}


def test_a_time_with_an_offset_postgresql_cannot_store_is_kept_in_utc(token_client):
    # Found by the fuzzer: "-16:23" is valid ISO 8601 but a 500 on PostgreSQL.
    job = make_job(uid="far-offset")
    line = {"seq": 0, "message": "m", "time": "2026-09-13T10:26:49-16:23"}
    response = token_client.post(f"/api/jobs/{job.uid}/logs", {"lines": [line]}, format="json")
    assert response.status_code == 200
    stored = LogEntry.objects.get(job=job).time
    assert stored.isoformat() == "2026-09-14T02:49:49+00:00"
    early = {"seq": 1, "message": "m", "time": "0001-01-01T00:00:00+05:00"}
    response = token_client.post(f"/api/jobs/{job.uid}/logs", {"lines": [early]}, format="json")
    assert response.status_code == 400
    assert "time" in response.json()["lines"]["0"]


def test_a_100_kb_log_line_is_refused_naming_the_line(token_client):
    job = make_job(uid="long-line")
    response = token_client.post(
        f"/api/jobs/{job.uid}/logs",
        {"lines": [{"seq": 0, "message": "ok"}, {"seq": 1, "message": "x" * 100_000}]},
        format="json",
    )
    assert response.status_code == 400
    assert "message" in response.json()["lines"]["1"]
    assert not LogEntry.objects.filter(job=job).exists()


def test_a_100_kb_job_name_is_refused_naming_the_field(token_client):
    response = token_client.post("/api/jobs", {"name": "n" * 100_000}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()


def test_invalid_utf8_in_a_body_is_a_400_naming_the_field(token_client):
    job = make_job(uid="bad-bytes")
    raw = (
        b'{"points": [{"key": "ok", "step": 1, "value": 1},'
        b' {"key": "bad\xff\xfe", "step": 2, "value": 1}]}'
    )
    response = post_raw(token_client, f"/api/jobs/{job.uid}/metrics", raw)
    assert response.status_code == 400
    assert response.json() == {
        "points": {"1": {"key": ["Not valid text: invalid UTF-8 bytes or a lone surrogate."]}}
    }
    assert not MetricPoint.objects.filter(job=job).exists()


def test_invalid_utf8_in_a_job_name_is_a_400_naming_the_name(token_client):
    response = post_raw(token_client, "/api/jobs", b'{"name": "caf\xc3"}')
    assert response.status_code == 400
    assert list(response.json()) == ["name"]


def test_an_escaped_lone_surrogate_is_a_400_naming_the_field_not_a_500(token_client):
    job = make_job(uid="surrogate")
    response = post_raw(
        token_client,
        f"/api/jobs/{job.uid}/logs",
        b'{"lines": [{"seq": 0, "message": "half an emoji \\ud83d"}]}',
    )
    assert response.status_code == 400
    assert "message" in response.json()["lines"]["0"]
    # A proper escaped pair is fine.
    response = post_raw(
        token_client,
        f"/api/jobs/{job.uid}/logs",
        b'{"lines": [{"seq": 0, "message": "an emoji \\ud83d\\ude00"}]}',
    )
    assert response.status_code == 200
    assert LogEntry.objects.get(job=job).message == "an emoji \U0001f600"


def test_invalid_utf8_outside_any_string_is_a_parse_error(token_client):
    response = post_raw(token_client, "/api/jobs", b'{"name": "x"}\xff')
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/", "/job/hostile"])
def test_pages_render_hostile_strings_escaped(session_client, path):
    make_job(
        uid="hostile",
        name=SCRIPT,
        model=IMG,
        dataset=IMG,
        tags=[SCRIPT, IMG],
        config={SCRIPT: IMG},
    )
    job = Job.objects.get(uid="hostile")
    services.job_status_update(job=job, status="failed", error={"message": SCRIPT, "type": IMG})
    services.logs_ingest(job=job, lines=[{"seq": 0, "message": SCRIPT + IMG}])
    html = session_client.get(path).content.decode()
    assert SCRIPT not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html or "\\u003Cscript" in html
