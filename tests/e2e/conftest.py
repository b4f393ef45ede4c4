"""A real Tuneboard for the browser tests: daphne on a free port, its own SQLite file.

The server starts once per session with the fixture jobs and their generated history,
one user (signed in through the login page once; each test reuses that session) and
one API token, through which tests report data exactly as a training script would.
Without Chromium the browser tests are skipped on a developer's machine and fail in CI
(`CI=true`).
"""

import json
import os
import shutil
import urllib.request

import pytest

from tests.support.server import ROOT, DaphneServer, manage, migrate, provision, server_env

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
USERNAME = "e2e-viewer"
PASSWORD = "e2e-password-not-secret"


def chromium_or_skip():
    """Skip a browser test where Chromium is missing; fail it in CI, which runs them all."""
    if not os.path.exists(CHROMIUM):
        missing = f"Chromium not found at {CHROMIUM} (make test installs it)"
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"{missing}; CI runs every browser test, so this is a failure")
        pytest.skip(missing)


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    """`{"url", "token", "env"}` of a running server with the fixture jobs loaded (`env`:
    its environment, for `manage` commands against the same database)."""
    chromium_or_skip()
    data_dir = tmp_path_factory.mktemp("tuneboard-e2e")
    # The alert tests' receivers listen on loopback, which channels refuse by default.
    env = server_env(data_dir, LOG_LEVEL="WARNING", TUNEBOARD_ALERT_ALLOW_PRIVATE="1")
    migrate(env)
    # As `make run` does: the pages then load hashed, compressed files (config/storage.py).
    manage(env, "collectstatic", "--no-input", "-v", "0")
    manage(env, "load_jobs")
    manage(env, "generate_mock_data", "--seed", "1")
    token = provision(env, USERNAME, token_name="e2e", password=PASSWORD).token
    with DaphneServer(env, log_path=data_dir / "daphne.log") as daphne:
        yield {"url": daphne.url, "token": token, "env": env}


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the whole package: Playwright's sync API runs one instance per
    thread, so every browser test shares it (each opens its own contexts)."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="package")
def signed_in_state(browser, server):
    """Cookies of a session opened by signing in through the login page."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server['url']}/")
    assert page.url.startswith(f"{server['url']}/login/")
    page.fill("#id_username", USERNAME)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server['url']}/")
    state = context.storage_state()
    context.close()
    return state


# Every Content Security Policy violation, in every document the page opens, is an error.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const text = `CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`;
  window.__cspViolations.push(text);
  window.__tbCspViolation(text);
});
"""


class ConsoleWatch:
    """Collects the page's console errors, uncaught exceptions and CSP violations."""

    def __init__(self, page):
        self.errors = []
        self.allowed = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"uncaught: {exc}"))
        page.expose_function("__tbCspViolation", lambda text: self.errors.append(text))
        page.add_init_script(CSP_LISTENER)

    def _console(self, message):
        if message.type == "error":
            self.errors.append(message.text)

    def allow(self, fragment):
        """Expect console errors containing `fragment` (e.g. a deliberately refused socket)."""
        self.allowed.append(fragment)

    def unexpected(self):
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


def _page(browser, server, state, viewport):
    context = browser.new_context(
        base_url=server["url"], storage_state=state, viewport=viewport, reduced_motion="reduce"
    )
    context.set_default_timeout(5000)
    page = context.new_page()
    page.console = ConsoleWatch(page)
    return context, page


@pytest.fixture
def page(browser, server, signed_in_state):
    """A signed-in desktop page; the test fails if the browser logged an error."""
    context, page = _page(browser, server, signed_in_state, {"width": 1440, "height": 900})
    yield page
    errors = page.console.unexpected()
    context.close()
    assert not errors, f"browser console errors: {errors}"


@pytest.fixture
def phone_page(browser, server, signed_in_state):
    """A signed-in 375×812 page; the test fails if the browser logged an error."""
    context, page = _page(browser, server, signed_in_state, {"width": 375, "height": 812})
    yield page
    errors = page.console.unexpected()
    context.close()
    assert not errors, f"browser console errors: {errors}"


def api_post(server, path, body):
    """POST a JSON body to the API with the server's token, as a training script does."""
    request = urllib.request.Request(
        f"{server['url']}{path}",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {server['token']}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def report(server):
    """`report(path, body)`: `api_post` to this package's server."""
    return lambda path, body: api_post(server, path, body)


@pytest.fixture(scope="session")
def artifacts():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
