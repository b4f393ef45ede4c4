"""The OpenAPI schema: valid, complete, and true to what the endpoints return."""

import io

import jsonschema
import pytest
from django.core.management import call_command

from jobs import services
from tests.factories import add_logs, add_samples, ingest_points, make_job, sample

pytestmark = pytest.mark.django_db

READ_PATHS = {
    "/api/jobs": "get",
    "/api/jobs/current": "get",
    "/api/jobs/past": "get",
    "/api/jobs/statistics": "get",
    "/api/jobs/{uid}": "get",
    "/api/jobs/{uid}/metrics": "get",
    "/api/jobs/{uid}/logs": "get",
    "/api/jobs/{uid}/export": "get",
    "/api/training/losses": "get",
    "/api/training/resources": "get",
    "/api/training/status/{uid}": "get",
    "/api/training/summary": "get",
}
WRITE_PATHS = {
    "/api/jobs": "post",
    "/api/jobs/{uid}/metrics": "post",
    "/api/jobs/{uid}/logs": "post",
    "/api/jobs/{uid}/stages": "post",
    "/api/jobs/{uid}/status": "post",
    "/api/resources": "post",
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_validates_without_warnings():
    out = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out)
    assert "openapi: 3" in out.getvalue()


def test_every_endpoint_is_listed_with_its_request_and_response_bodies(schema):
    paths = schema["paths"]
    for path, method in {**READ_PATHS}.items():
        assert "200" in paths[path][method]["responses"], path
    for path, method in WRITE_PATHS.items():
        operation = paths[path][method]
        assert "application/json" in operation["requestBody"]["content"], path
        assert {"400", "401"} <= set(operation["responses"]), path
    assert "bearerToken" in schema["components"]["securitySchemes"]


def test_schema_and_docs_are_served_with_local_assets(session_client):
    assert session_client.get("/api/schema/").status_code == 200
    docs = session_client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "drf_spectacular_sidecar" in html and "cdn" not in html.lower()


# --- responses match the schema ------------------------------------------------------------


def _json_schema(node):
    """OpenAPI 3.0 `nullable` as JSON Schema, so jsonschema can check bodies."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [node, {"type": "null"}]}
    return node


def assert_matches_schema(schema, path, method, response):
    operation = schema["paths"][path][method]
    body_schema = operation["responses"][str(response.status_code)]["content"]["application/json"]
    document = {
        **_json_schema(body_schema["schema"]),
        "components": _json_schema(schema["components"]),
    }
    jsonschema.validate(response.json(), document)


@pytest.fixture
def world():
    """A running job with metrics (NaN included), logs, stages and resource samples."""
    job = make_job(uid="live", status="running", total_steps=100, config={"num_gpus": 2})
    services.stage_move(job=job, stage="training", status="active")
    ingest_points(job, 20)
    services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": 20, "value": "nan"}])
    add_logs(job, 3)
    add_samples("gpu-1", [sample()], job=job)
    make_job(uid="failed", status="failed")
    make_job(uid="queued")
    return job


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("/api/jobs", "/api/jobs"),
        ("/api/jobs/current", "/api/jobs/current"),
        ("/api/jobs/past", "/api/jobs/past"),
        ("/api/jobs/statistics", "/api/jobs/statistics"),
        ("/api/jobs/live", "/api/jobs/{uid}"),
        ("/api/jobs/failed", "/api/jobs/{uid}"),
        ("/api/jobs/live/metrics", "/api/jobs/{uid}/metrics"),
        ("/api/jobs/live/logs", "/api/jobs/{uid}/logs"),
        ("/api/training/losses?job=live", "/api/training/losses"),
        ("/api/training/resources?job=live", "/api/training/resources"),
        ("/api/training/status/live", "/api/training/status/{uid}"),
        ("/api/training/summary", "/api/training/summary"),
        ("/api/jobs/ghost", "/api/jobs/{uid}"),
    ],
)
def test_read_responses_match_the_schema(schema, world, token_client, url, path):
    assert_matches_schema(schema, path, "get", token_client.get(url))


def test_write_responses_match_the_schema(schema, world, token_client):
    """Every write succeeds with its documented status, and its body matches the schema
    of that status (a 400 body would match the schema of a 400 too)."""

    def check(url, path, body, status):
        response = token_client.post(url, body, format="json")
        assert response.status_code == status, (url, response.status_code, response.content)
        assert str(status) in schema["paths"][path]["post"]["responses"], (path, status)
        assert_matches_schema(schema, path, "post", response)
        return response.json()

    assert check("/api/jobs", "/api/jobs", {"uid": "new", "name": "New"}, 201)["uid"] == "new"
    # A restarted script reuses its job: 200 and the job unchanged.
    assert check("/api/jobs", "/api/jobs", {"uid": "new", "name": "Other"}, 200)["name"] == "New"
    accepted = check(
        "/api/jobs/new/metrics",
        "/api/jobs/{uid}/metrics",
        {"points": [{"key": "a", "step": 1, "value": 1}]},
        200,
    )
    assert accepted == {"accepted": 1}
    lines = {"lines": [{"seq": 1, "message": "hi"}]}
    assert check("/api/jobs/new/logs", "/api/jobs/{uid}/logs", lines, 200) == {"accepted": 1}
    check(
        "/api/jobs/new/stages",
        "/api/jobs/{uid}/stages",
        {"stage": "training", "status": "active"},
        200,
    )
    check(
        "/api/jobs/new/stages",
        "/api/jobs/{uid}/stages",
        {"stage": "training", "status": "completed"},
        200,
    )
    check("/api/jobs/new/status", "/api/jobs/{uid}/status", {"step": 3}, 200)
    check("/api/resources", "/api/resources", {"host": "gpu-1", "samples": [sample()]}, 200)


def test_write_errors_have_their_documented_status_and_body(schema, world, token_client):
    def check(url, path, body, status):
        response = token_client.post(url, body, format="json")
        assert response.status_code == status, (url, response.status_code, response.content)
        assert_matches_schema(schema, path, "post", response)

    # An active stage cannot go back to pending (the old version of the test above sent
    # this as a success and validated the 409 body it got).
    stage = {"stage": "training", "status": "pending"}
    check("/api/jobs/live/stages", "/api/jobs/{uid}/stages", stage, 409)
    check("/api/jobs/live/metrics", "/api/jobs/{uid}/metrics", {"points": [{"key": "a"}]}, 400)
    check("/api/jobs/ghost/logs", "/api/jobs/{uid}/logs", {"lines": []}, 404)
