"""`manage.py create_token`, and tokens at work on the API."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.models import ApiToken, token_hash
from tests.factories import make_job, make_user, points

pytestmark = pytest.mark.django_db


def create_token(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def bearer(raw):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def test_create_token_prints_the_token_once_and_stores_only_its_hash():
    make_user("ci")
    out, err = create_token("--user", "ci", "--name", "trainer")
    raw = out.strip()
    assert out == raw + "\n" and raw.startswith("tb_")
    token = ApiToken.objects.get()
    assert token.key_hash == token_hash(raw) and raw not in token.key_hash
    assert token.prefix == raw[:10] and "shown once" in err
    make_job(uid="run-1")
    response = bearer(raw).post("/api/jobs/run-1/metrics", {"points": points(2)}, format="json")
    assert response.status_code == 200


def test_create_token_scopes_and_expiry():
    make_user("ci")
    out, _ = create_token(
        "--user",
        "ci",
        "--name",
        "n",
        "--job-scope",
        "a",
        "b",
        "--tag-prefix",
        "team-",
        "--expires-days",
        "7",
    )
    token = ApiToken.objects.get()
    assert token.job_scope == ["a", "b"] and token.tag_prefixes == ["team-"]
    assert timedelta(days=6) < token.expires_at - timezone.now() <= timedelta(days=7)
    make_job(uid="c")
    response = bearer(out.strip()).post("/api/jobs/c/status", {}, format="json")
    assert response.status_code == 403


def test_create_token_fails_clearly_for_an_unknown_user():
    with pytest.raises(CommandError, match="No user 'ghost'"):
        create_token("--user", "ghost", "--name", "n")
    assert ApiToken.objects.count() == 0


def test_create_token_can_create_the_user():
    out, err = create_token("--user", "bot", "--name", "n", "--create-user")
    assert out.strip().startswith("tb_") and "Created user 'bot'" in err
    assert ApiToken.objects.get().user.username == "bot"


def test_create_token_rejects_a_bad_scope():
    make_user("ci")
    with pytest.raises(CommandError, match="job_scope"):
        create_token("--user", "ci", "--name", "n", "--job-scope", "not a uid!")


def test_an_expired_token_is_refused():
    make_user("ci")
    out, _ = create_token("--user", "ci", "--name", "n", "--expires-days", "1")
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = bearer(out.strip()).get("/api/jobs")
    assert response.status_code == 401 and response.json()["detail"] == "Token has expired."
