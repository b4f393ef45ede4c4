"""Content Security Policy: every page sends one; only the response's own inline scripts
and styles (by nonce) run; a real Chromium refuses an injected one and reports nothing
else on the dashboard, every job state, compare, sign-in, the admin and the API docs."""

import os
import re
import shutil

import pytest
from django.test import Client

from jobs import services
from jobs.models import JobStatus
from tests.factories import make_job, make_user
from tests.reliability.servers import Site
from tests.support.server import provision

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
STATES = [s.value for s in JobStatus]
ELEMENT = re.compile(r"<(script|style)\b([^>]*)>", re.IGNORECASE)


def directives(response):
    header = response["Content-Security-Policy"]
    parsed = {}
    for part in header.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def nonce_of(response):
    (source,) = [v for v in directives(response)["script-src"] if v.startswith("'nonce-")]
    return source.removeprefix("'nonce-").removesuffix("'")


def assert_strict_policy(response):
    policy = directives(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for directive in ("script-src", "style-src"):
        assert policy[directive][0] == "'self'"
        assert all(v == "'self'" or v.startswith("'nonce-") for v in policy[directive])


def assert_inline_elements_carry_the_nonce(response):
    """Every inline <script> (data blocks aside) and every <style> has this response's
    nonce; no element has a style attribute."""
    html = response.content.decode()
    nonce = nonce_of(response)
    inline = [
        (tag, attrs)
        for tag, attrs in ELEMENT.findall(html)
        if "src=" not in attrs and 'type="application/json"' not in attrs
    ]
    assert inline, "expected at least the theme boot script"
    for tag, attrs in inline:
        assert f'nonce="{nonce}"' in attrs, f"<{tag}{attrs}> lacks the nonce"
    assert not re.search(r"<[a-z][^>]*\sstyle=", html), "a style attribute"


@pytest.fixture
def signed_in(db):
    client = Client()
    client.force_login(make_user("viewer", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def jobs_of_every_state(db):
    for state in STATES:
        job = make_job(uid=f"job-{state}", status=state, total_steps=100, config={"lr": 1e-4})
        if state != JobStatus.QUEUED:
            services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": 1, "value": 1}])


PAGES = [
    "/",
    *(f"/job/job-{state}" for state in STATES),
    "/compare?jobs=job-running,job-completed",
    "/compare",
    "/job/no-such-job",
    "/no/such/page",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_strict_policy_and_its_inline_elements_carry_its_nonce(
    signed_in, jobs_of_every_state, path
):
    response = signed_in.get(path)
    assert response.status_code in (200, 400, 404)
    assert_strict_policy(response)
    assert_inline_elements_carry_the_nonce(response)


def test_the_sign_in_page_sends_the_policy_and_its_nonce(db):
    response = Client().get("/login/")
    assert_strict_policy(response)
    assert_inline_elements_carry_the_nonce(response)


@pytest.mark.parametrize("path", ["/admin/", "/admin/jobs/apitoken/", "/admin/axes/accessattempt/"])
def test_the_admin_sends_the_same_policy(signed_in, path):
    response = signed_in.get(path)
    assert response.status_code == 200
    assert_strict_policy(response)


def test_the_api_docs_send_the_policy_and_their_inline_script_carries_the_nonce(signed_in):
    response = signed_in.get("/api/docs/")
    assert response.status_code == 200
    assert_strict_policy(response)
    assert_inline_elements_carry_the_nonce(response)


def test_each_response_has_a_fresh_nonce(signed_in):
    assert nonce_of(signed_in.get("/")) != nonce_of(signed_in.get("/"))


# --- in Chromium -------------------------------------------------------------------------

LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const text = `${e.violatedDirective} blocked ${e.blockedURI || "inline"}`;
  window.__cspViolations.push(text);
  window.__tbCspViolation(text);
});
"""


@pytest.fixture(scope="module")
def csp_server(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not found at {CHROMIUM} (make test installs it)")
    site = Site(tmp_path_factory.mktemp("csp-site"))
    site.session = provision(
        site.env, "csp-admin", token_name="csp", staff=True, session=True
    ).session
    site.shell(
        "from django.contrib.auth import get_user_model;"
        "get_user_model().objects.filter(username='csp-admin').update(is_superuser=True)"
    )
    server = site.daphne(env={"LOG_LEVEL": "WARNING"})
    for state in ("running", "completed"):
        job = {"uid": f"csp-{state}", "name": f"CSP {state}", "total_steps": 100}
        assert server.request("POST", "/api/jobs", job).status == 201
        running = {"status": "running"}
        assert server.request("POST", f"/api/jobs/csp-{state}/status", running).status == 200
        points = {"points": [{"key": "train/loss", "step": s, "value": 1 / s} for s in (1, 2, 3)]}
        assert server.request("POST", f"/api/jobs/csp-{state}/metrics", points).status == 200
    body = {"status": "completed"}
    assert server.request("POST", "/api/jobs/csp-completed/status", body).status == 200
    yield server
    site.close()


@pytest.fixture(scope="module")
def browser(csp_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, csp_server):
    context = browser.new_context(base_url=csp_server.url)
    context.add_cookies(
        [{"name": "sessionid", "value": csp_server.site.session, "url": csp_server.url}]
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.violations = []
    page.expose_function("__tbCspViolation", lambda text: page.violations.append(text))
    page.add_init_script(LISTENER)
    yield page
    context.close()


@pytest.mark.e2e
@pytest.mark.processes
def test_chromium_refuses_an_injected_inline_script_and_runs_the_nonced_ones(page):
    def inject(route):
        response = route.fetch()
        html = response.text().replace(
            "</body>", "<script>window.__injected = true;</script></body>"
        )
        route.fulfill(response=response, body=html)

    page.route("**/job/csp-running", inject)
    page.goto("/job/csp-running")
    page.wait_for_function("() => window.__cspViolations.length > 0")
    assert page.evaluate("window.__injected") is None
    assert page.violations == ["script-src-elem blocked inline"]
    # The page's own inline scripts ran: the series prefetch and the theme boot.
    assert page.evaluate("window.tbPrefetch instanceof Map")


@pytest.mark.e2e
@pytest.mark.processes
@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/", "#cards .job-card"),
        ("/job/csp-running", ".small-chart, #conn"),
        ("/job/csp-completed", ".job-title h1, h1"),
        ("/compare?jobs=csp-running,csp-completed", "#compare-legend"),
        ("/admin/", "#content"),
        ("/admin/jobs/apitoken/", "#changelist"),
        ("/admin/axes/accessattempt/", "#changelist"),
        ("/api/docs/", ".swagger-ui .opblock"),
    ],
)
def test_pages_run_in_chromium_without_a_single_violation(page, path, ready):
    page.goto(path)
    page.locator(ready).first.wait_for()
    page.wait_for_load_state("networkidle")
    assert page.violations == []


@pytest.mark.e2e
@pytest.mark.processes
def test_the_live_socket_connects_under_connect_src_self(page):
    page.goto("/job/csp-running")
    page.wait_for_function("() => document.getElementById('conn')?.textContent.match(/live/i)")
    assert page.violations == []


@pytest.mark.e2e
@pytest.mark.processes
def test_the_sign_in_page_runs_without_a_violation(browser, csp_server):
    context = browser.new_context(base_url=csp_server.url)
    page = context.new_page()
    violations = []
    page.expose_function("__tbCspViolation", lambda text: violations.append(text))
    page.add_init_script(LISTENER)
    page.goto("/login/")
    page.wait_for_load_state("networkidle")
    context.close()
    assert violations == []
