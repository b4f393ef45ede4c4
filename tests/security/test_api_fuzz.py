"""Property-based fuzzing of the whole HTTP API from its own OpenAPI schema.

Schemathesis reads `/api/schema/` from the app in-process (WSGI) and, for every
operation, sends generated requests, valid and invalid, with a token that may write.
No answer may be a 5xx, and every answer's body, content type and headers must match
what the schema documents for its status.

`TUNEBOARD_FUZZ_STRICT=1` adds the checks that hold the schema to the validators too
(undocumented statuses, schema-invalid input accepted, schema-valid input rejected);
the gaps they find are listed in docs/security.md ("Known gaps").
"""

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
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

from config.wsgi import application
from jobs.models import JobStatus
from tests.factories import make_job

pytestmark = pytest.mark.django_db

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

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
def test_connection_kept():
    """Requests go straight to the WSGI app, whose end-of-request hook would close the
    test's database connection (inside its transaction) on PostgreSQL; Django's own
    test client unhooks it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=20,
    database=None,  # no .hypothesis folder in the working tree
    derandomize=True,  # the same examples every run: the suite stays deterministic
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_every_generated_request_as_documented(
    case, token, fuzz_job, test_connection_kept
):
    # Writes and reads go to a job that exists, so bodies reach validation and storage.
    if "uid" in case.path_parameters:
        case.path_parameters["uid"] = FUZZ_UID
    if case.query and "job" in case.query:
        case.query["job"] = FUZZ_UID
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
