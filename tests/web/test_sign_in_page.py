"""The sign-in page and single sign-on's switch: the provider's button only when
TUNEBOARD_OIDC_ISSUER is set; its routes answer 404 otherwise; a bad role map stops
the server at start. The flow itself runs against a real provider in
tests/e2e/test_sso.py."""

import pytest
from django.conf import settings
from django.test import override_settings

from tests.factories import make_user
from tests.test_settings import manage

pytestmark = pytest.mark.django_db

SSO = {
    "TUNEBOARD_OIDC_ISSUER": "https://id.example.test",
    "TUNEBOARD_OIDC_PROVIDER_NAME": "Example ID",
}


def test_without_single_sign_on_the_sign_in_page_shows_only_the_password_form(client):
    page = client.get("/login/").content.decode()
    assert 'id="id_password"' in page
    assert "Sign in with" not in page
    assert client.get("/oidc/start/").status_code == 404
    assert client.get("/oidc/callback/?code=c&state=s").status_code == 404


@override_settings(**SSO)
def test_with_single_sign_on_the_sign_in_page_offers_the_provider_beside_the_password(client):
    page = client.get("/login/?next=/runs").content.decode()
    assert 'id="id_password"' in page
    assert 'href="/oidc/start/?next=/runs"' in page
    assert "Sign in with Example ID" in page


@override_settings(**SSO)
def test_a_failed_single_sign_on_is_said_on_the_sign_in_page(client):
    page = client.get("/login/?sso=failed").content.decode()
    assert "Sign-in with Example ID did not succeed" in page


@override_settings(**SSO)
def test_a_callback_without_a_started_sign_in_signs_no_one_in(client):
    response = client.get("/oidc/callback/?code=c&state=s")
    assert response.status_code == 302 and response["Location"] == "/login/?sso=failed"
    assert client.get("/").status_code == 302


@override_settings(
    **SSO,
    AUTHENTICATION_BACKENDS=[*settings.AUTHENTICATION_BACKENDS, "jobs.web.oidc.SignInBackend"],
)
def test_with_single_sign_on_on_a_password_still_signs_in(client):
    make_user("grace", password="pw-for-tests-only")
    response = client.post("/login/", {"username": "grace", "password": "pw-for-tests-only"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize(
    "roles", ["ml-team:alpha", "ml-team:alpha:owner", ":alpha:viewer", "ml-team::editor"]
)
def test_a_malformed_role_map_stops_the_server_naming_the_setting(tmp_path, roles):
    env = {
        "TUNEBOARD_OIDC_ISSUER": "https://id.example.test",
        "TUNEBOARD_OIDC_CLIENT_ID": "tuneboard",
        "TUNEBOARD_OIDC_CLIENT_SECRET": "secret",
        "TUNEBOARD_OIDC_ROLES": roles,
    }
    result = manage("check", env_extra=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "TUNEBOARD_OIDC_ROLES" in result.stderr


def test_single_sign_on_without_client_credentials_stops_the_server(tmp_path):
    env = {"TUNEBOARD_OIDC_ISSUER": "https://id.example.test"}
    result = manage("check", env_extra=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "TUNEBOARD_OIDC_CLIENT_ID" in result.stderr
