"""Single sign-on in a real Chromium against a real OpenID provider on loopback
(tests/support/oidc_provider.py): "Sign in with …" → the provider → back signed in,
the account created, the provider's groups mapped to project roles; a later sign-in
updates the roles; a forged state or nonce is refused.

The server here is this module's own, started with single sign-on on: two projects,
alpha and beta, with one job each. Group `ml-team` gives editor on alpha, `ml-leads`
admin on alpha, `vision` viewer on beta.
"""

import pytest
from playwright.sync_api import expect

from tests.support.oidc_provider import OpenIDProvider
from tests.support.server import DaphneServer, manage, migrate, server_env

from .conftest import _page, chromium_or_skip

pytestmark = pytest.mark.e2e

PROVIDER_NAME = "Loopback ID"
SETUP = """
from jobs import services
alpha = services.project_create(name="Alpha")
beta = services.project_create(name="Beta")
services.job_create(name="Alpha run", uid="alpha-run", project=alpha)
services.job_create(name="Beta run", uid="beta-run", project=beta)
"""
ACCOUNT = """
from django.contrib.auth import get_user_model
user = get_user_model().objects.get(username="ada")
print(user.email, user.has_usable_password(), user.sign_in_identities.get().subject)
"""
COUNT_EVE = """
from django.contrib.auth import get_user_model
print(get_user_model().objects.filter(username="eve").count())
"""


@pytest.fixture(scope="module")
def provider():
    with OpenIDProvider(client_id="tuneboard", client_secret="s3cret-for-tests") as provider:
        yield provider


@pytest.fixture(scope="module")
def sso_server(tmp_path_factory, provider):
    chromium_or_skip()
    data_dir = tmp_path_factory.mktemp("tuneboard-sso")
    env = server_env(
        data_dir,
        LOG_LEVEL="WARNING",
        TUNEBOARD_OIDC_ISSUER=provider.issuer,
        TUNEBOARD_OIDC_CLIENT_ID="tuneboard",
        TUNEBOARD_OIDC_CLIENT_SECRET="s3cret-for-tests",
        TUNEBOARD_OIDC_PROVIDER_NAME=PROVIDER_NAME,
        TUNEBOARD_OIDC_ROLES="ml-team:alpha:editor,ml-leads:alpha:admin,vision:beta:viewer",
    )
    migrate(env)
    manage(env, "shell", "-c", SETUP)
    with DaphneServer(env, log_path=data_dir / "daphne.log") as daphne:
        yield {"url": daphne.url, "env": env}


@pytest.fixture
def page(browser, sso_server):
    """A fresh browser context (no cookies); the test fails on any console error or
    Content Security Policy violation."""
    context, page = _page(browser, sso_server, None, {"width": 1280, "height": 900})
    yield page
    errors = page.console.unexpected()
    context.close()
    assert not errors, f"browser console errors: {errors}"


def sign_in_with_provider(page):
    page.goto("/login/")
    # The password form stays; single sign-on is one more way in.
    expect(page.locator("#id_password")).to_be_visible()
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()


def project_roles(page):
    page.locator("[data-testid=project-switcher]").click()
    return page.locator(".project-switcher .menu__list")


def status_of(page, path):
    page.console.allow("status of 404")  # a job outside the person's projects
    return page.goto(path).status


def test_signing_in_with_the_provider_creates_the_account_with_its_groups_roles(
    page, provider, sso_server, artifacts
):
    provider.person = {
        "sub": "ada-0001",
        "preferred_username": "ada",
        "email": "ada@example.test",
        "groups": ["ml-team", "unmapped-group"],
    }
    page.goto("/login/")
    page.screenshot(path=artifacts / "sso-login.png")
    sign_in_with_provider(page)
    page.wait_for_url(f"{sso_server['url']}/")
    expect(page.locator(".topbar__user .who")).to_have_text("ada")
    # The library asked with a PKCE challenge and a nonce (the provider refuses otherwise).
    assert provider.authorize_requests[-1]["nonce"]
    menu = project_roles(page)
    expect(menu).to_contain_text("Alpha · editor")
    expect(menu).not_to_contain_text("Beta")
    assert status_of(page, "/job/alpha-run") == 200
    assert status_of(page, "/job/beta-run") == 404
    # Created from the claims: email kept, no password of its own, found by subject.
    account = manage(sso_server["env"], "shell", "-c", ACCOUNT).split()[-3:]
    assert account == ["ada@example.test", "False", "ada-0001"]


def test_a_later_sign_in_updates_the_roles_from_the_groups(page, provider, sso_server):
    provider.person = {
        "sub": "ada-0001",
        "preferred_username": "ada",
        "email": "ada@example.test",
        "groups": ["vision"],
    }
    sign_in_with_provider(page)
    page.wait_for_url(f"{sso_server['url']}/")
    menu = project_roles(page)
    expect(menu).to_contain_text("Beta · viewer")
    expect(menu).not_to_contain_text("Alpha")
    assert status_of(page, "/job/beta-run") == 200
    assert status_of(page, "/job/alpha-run") == 404

    provider.person = {**provider.person, "groups": ["ml-leads", "ml-team"]}
    page.context.clear_cookies()
    sign_in_with_provider(page)
    page.wait_for_url(f"{sso_server['url']}/")
    expect(project_roles(page)).to_contain_text("Alpha · admin")


@pytest.mark.parametrize("forged", ["state", "nonce"])
def test_an_answer_with_a_forged_state_or_nonce_is_refused(page, provider, sso_server, forged):
    provider.person = {"sub": "eve-0666", "preferred_username": "eve", "groups": ["ml-leads"]}
    setattr(provider, f"forged_{forged}", "forged-by-someone-else")
    page.console.allow("status of 400")
    try:
        sign_in_with_provider(page)
        page.wait_for_url("**/oidc/callback/**")
        expect(page.locator("[data-testid=sso-failed]")).to_contain_text(
            f"Sign-in with {PROVIDER_NAME} did not succeed"
        )
    finally:
        setattr(provider, f"forged_{forged}", None)
    # Not signed in: the dashboard sends the browser to the sign-in page.
    page.goto("/job/alpha-run")
    assert "/login/" in page.url
    assert manage(sso_server["env"], "shell", "-c", COUNT_EVE).split()[-1] == "0"
