"""The job page says where a job came from: Tuneboard's API, the MLflow API, an import."""

import pytest

from jobs import services
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client):
    client.force_login(make_user("viewer"))
    return client


def source_span(html):
    start = html.index('id="job-source"')
    return html[start : html.index("</span>", start)]


def test_a_job_reported_by_the_client_says_so(signed_in):
    make_job(uid="native")
    span = source_span(signed_in.get("/job/native").content.decode())
    assert "via the Tuneboard API" in span


def test_a_job_reported_through_mlflow_says_so(signed_in):
    services.job_create(name="m", uid="c" * 32, source="mlflow")
    span = source_span(signed_in.get(f"/job/{'c' * 32}").content.decode())
    assert "via the MLflow API" in span and "MLFLOW_TRACKING_URI" in span


def test_an_imported_job_names_its_source_and_origin(signed_in):
    external = {"import": {"kind": "tensorboard", "origin": "/runs/sft", "complete": True}}
    services.job_create(name="t", uid="tb-1", source="import:tensorboard", external=external)
    span = source_span(signed_in.get("/job/tb-1").content.decode())
    assert "imported from TensorBoard" in span and "/runs/sft" in span
