"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema.

Schemathesis reads `/api/schema/` from the ASGI application daphne serves
(`config.asgi.application`: the protocol router, Django's ASGI handler, the middleware)
and, for every operation, sends generated requests through it, valid and invalid, with
a token that may write. No answer may be a 5xx, and every answer's body, content type
and headers must match what the schema documents for its status.

The app answers in its own threads (as under daphne), so the test's data is committed
(`transaction=True`) for them to see it.

`TUNEBOARD_FUZZ_STRICT=1` adds the checks that hold the schema to the validators too
(undocumented statuses, schema-invalid input accepted, schema-valid input rejected);
the gaps they find are listed in docs/security.md ("Known gaps").
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.asgi import application
from jobs.models import JobStatus
from tests.factories import make_job

pytestmark = pytest.mark.django_db(transaction=True)

# Loaded at import, before the test environment admits the test client's host.
schema = schemathesis.openapi.from_asgi("/api/schema/", application, headers={"Host": "localhost"})

FUZZ_UID = "fuzzed-job"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    response_headers_conformance,
]
if os.environ.get("TUNEBOARD_FUZZ_STRICT") == "1":
    CHECKS += [status_code_conformance, negative_data_rejection, positive_data_acceptance]


@pytest.fixture
def fuzz_job():
    return make_job(uid=FUZZ_UID, status=JobStatus.RUNNING, tags=["fuzz"])


@pytest.fixture
def asgi_only(monkeypatch):
    """Every call goes through the ASGI application (never a WSGI fallback), whose
    threads close their database connections after each request (kept open, they would
    stop the test database from being dropped at the end of the run on PostgreSQL)."""
    from django.db import connections

    assert schema.app is application
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    return application


@schema.parametrize()
@settings(
    max_examples=20,
    database=None,  # no .hypothesis folder in the working tree
    derandomize=True,  # the same examples every run: the suite stays deterministic
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@pytest.mark.usefixtures("in_memory_channel_layer", "asgi_only")
def test_the_api_answers_every_generated_request_as_documented(case, token, fuzz_job):
    # Writes and reads go to a job that exists, so bodies reach validation and storage.
    if "uid" in case.path_parameters:
        case.path_parameters["uid"] = FUZZ_UID
    if case.query and "job" in case.query:
        case.query["job"] = FUZZ_UID
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
