"""Working together in a real Chromium: two people comment on a job and see each other's
comments live; a share link opens the live job without an account and nothing else; an
expired or revoked link answers 404.

The job here is this module's own (`collab-e2e`, in the default project, where every
signed-in user is an editor); the second person is `e2e-second`, with a session of
their own.
"""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from tests.support.server import manage, provision

from .conftest import _page

pytestmark = pytest.mark.e2e

JOB = "collab-e2e"
SECOND = "e2e-second"
VIEWPORT = {"width": 1280, "height": 900}


@pytest.fixture
def collab_job(report):
    """The module's running job (reported again by each test: creation is idempotent)."""
    report("/api/jobs", {"uid": JOB, "name": "Collaboration run", "model": "gpt2"})
    report(f"/api/jobs/{JOB}/status", {"status": "running", "step": 10})
    points = [{"key": "train/loss", "step": s, "value": 2.0 / (s + 1)} for s in range(20)]
    report(f"/api/jobs/{JOB}/metrics", {"points": points})
    report(f"/api/jobs/{JOB}/logs", {"lines": [{"seq": 0, "message": "started"}]})
    return JOB


@pytest.fixture(scope="module")
def second_session(server):
    """The session key of a second signed-in person."""
    return provision(server["env"], SECOND, token_name="second", session=True).session


@pytest.fixture
def second_page(browser, server, second_session):
    context, page = _page(browser, server, None, VIEWPORT)
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": second_session, "url": server["url"]}]
    )
    yield page
    errors = page.console.unexpected()
    context.close()
    assert not errors, f"browser console errors: {errors}"


@pytest.fixture
def stranger(browser, server):
    """A fresh browser context: no account, no cookies."""
    context, page = _page(browser, server, None, VIEWPORT)
    yield page
    errors = page.console.unexpected()
    context.close()
    assert not errors, f"browser console errors: {errors}"


def open_live(page, path):
    page.goto(path)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")


def post_comment(page, text, step=None):
    expect(page.locator("#comment-form")).to_have_attribute("data-ready", "true")
    page.fill("#comment-body", text)
    if step is not None:
        page.fill("#comment-step", str(step))
    page.click("#comment-form button[type=submit]")


def test_two_people_comment_on_a_job_and_see_each_others_comments_live(
    page, second_page, collab_job, artifacts
):
    open_live(page, f"/job/{collab_job}")
    open_live(second_page, f"/job/{collab_job}")

    post_comment(page, f"Loss **drops** nicely, @{SECOND} have a look", step=12)
    theirs = second_page.locator("#comment-list .comment").filter(has_text="drops nicely")
    expect(theirs).to_have_count(1)
    expect(theirs.locator("strong", has_text="drops")).to_have_count(1)  # markdown, rendered
    expect(theirs.locator(".comment__step")).to_have_text("at step 12")
    expect(theirs.locator(".comment__author")).to_have_text("e2e-viewer")
    expect(theirs.locator("button", has_text="Edit")).to_have_count(0)  # not theirs
    # The step is marked on both loss charts' x axis.
    expect(second_page.locator("#loss-chart")).to_have_attribute("data-comment-steps", "12")
    expect(page.locator("#loss-chart")).to_have_attribute("data-comment-steps", "12")

    post_comment(second_page, "Agreed <b>not bold</b>")
    mine = page.locator("#comment-list .comment").filter(has_text="Agreed")
    expect(mine).to_have_count(1)
    expect(mine.locator(".comment__body")).to_have_text("Agreed <b>not bold</b>")
    expect(mine.locator(".comment__author")).to_have_text(SECOND)

    # The mention reaches the second person's bell live (their own push), without a reload.
    expect(second_page.locator("#bell-count")).to_have_text("1")
    expect(second_page.locator("[data-testid=bell]")).to_have_attribute(
        "aria-label", "Notifications, 1 unread"
    )
    # Keyboard: Enter opens the bell, arrows reach its items, Escape closes it.
    second_page.locator("[data-testid=bell]").focus()
    second_page.keyboard.press("Enter")
    mention = second_page.locator('.bell__item[data-kind="mention"]').first
    expect(mention).to_contain_text("e2e-viewer mentioned you on Collaboration run")
    expect(mention).to_have_class(re.compile("bell__item--unread"))
    second_page.keyboard.press("ArrowDown")
    expect(second_page.locator(".bell__item").first).to_be_focused()
    second_page.screenshot(path=artifacts / "collab-bell.png")
    second_page.keyboard.press("Escape")
    expect(second_page.locator("#bell .bell__list")).to_be_hidden()
    expect(second_page.locator("[data-testid=bell]")).to_be_focused()
    second_page.locator("[data-testid=bell]").click()
    second_page.locator(".bell__read button").click()
    expect(second_page.locator("#bell-count")).to_be_hidden()
    expect(mention).not_to_have_class(re.compile("bell__item--unread"))
    expect(second_page.locator("#conn")).to_have_attribute("data-state", "live")

    # An edit and a deletion reach the other page live.
    own = page.locator("#comment-list .comment").filter(has_text="drops nicely")
    own.locator("button", has_text="Edit").click()
    own.locator(".comment-edit textarea").fill("Loss drops nicely (edited)")
    own.locator(".comment-edit button[type=submit]").click()
    expect(second_page.locator("#comment-list .comment").filter(has_text="(edited)")).to_have_count(
        1
    )
    page.screenshot(path=artifacts / "collab-comments.png", full_page=True)
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#comment-list .comment").filter(has_text="(edited)").locator(
        "button", has_text="Delete"
    ).click()
    expect(second_page.locator("#comment-list .comment").filter(has_text="(edited)")).to_have_count(
        0
    )
    expect(second_page.locator("#comment-list .comment")).to_have_count(1)


def create_share_link(page, job):
    page.goto(f"/job/{job}")
    expect(page.locator("#share-form")).to_have_attribute("data-ready", "true")
    page.click("#share-form button[type=submit]")
    url = page.locator("#share-url")
    expect(url).to_have_value(re.compile(r"/s/[\w-]+/$"))
    return url.input_value()


def test_a_share_link_shows_the_live_job_without_an_account_and_nothing_else(
    page, stranger, server, collab_job, report, artifacts
):
    link = create_share_link(page, collab_job)
    path = link.removeprefix(server["url"])
    secret = path.split("/")[2]

    open_live(stranger, path)
    expect(stranger.locator("#share-banner")).to_have_text(
        "Shared read-only view · expires in 7 days"
    )
    expect(stranger.locator(".topbar__nav")).to_have_count(0)
    expect(stranger.locator("#details-edit, #comment-form, #comments, #share-form")).to_have_count(
        0
    )
    expect(stranger.locator(".crumbs a, a[href='/']")).to_have_count(0)
    expect(stranger.locator("#loss-chart-box.is-loading")).to_have_count(0)

    # Live: a reported log line appears on the shared page.
    report(f"/api/jobs/{JOB}/logs", {"lines": [{"seq": 1, "message": "shared view is live"}]})
    expect(stranger.locator(".log__msg", has_text="shared view is live")).to_have_count(1)
    stranger.screenshot(path=artifacts / "collab-share-view.png", full_page=True)

    # Nothing else answers to the link: other jobs, lists, statistics, admin, other APIs.
    request = stranger.context.request
    for other in (
        f"/s/{secret}/api/jobs/llama3-8b-alpaca-lora",
        f"/s/{secret}/api/jobs/llama3-8b-alpaca-lora/metrics",
        f"/s/{secret}/api/jobs",
        f"/s/{secret}/api/jobs/statistics",
        f"/s/{secret}/api/jobs/{JOB}/export?format=csv",
        f"/s/{secret}/api/jobs/{JOB}/comments",
        f"/s/{secret}/api/training/resources?host=localhost",
        f"/s/{secret}/api/training/summary",
        f"/s/{secret}/admin/",
        f"/s/{secret}/job/{JOB}",
        f"/s/{secret}/compare?jobs={JOB},llama3-8b-alpaca-lora",
    ):
        assert request.get(other, max_redirects=0).status == 404, other
    for outside in ("/", f"/job/{JOB}", "/api/jobs", "/api/jobs/statistics", "/admin/"):
        answer = request.get(outside, max_redirects=0)
        assert answer.status in (302, 401), (outside, answer.status)


def test_a_revoked_or_expired_share_link_answers_404(page, stranger, server, collab_job):
    revoked = create_share_link(page, collab_job).removeprefix(server["url"])
    open_live(stranger, revoked)
    stranger.console.allow("404")  # the open page's reads after the revocation
    stranger.console.allow("WebSocket")
    row = page.locator("#share-rows tr").first
    row.locator("[data-revoke]").click()
    expect(page.locator("#share-rows tr").first.locator("[data-revoke]")).to_have_count(0)
    # The revocation closes the shared page's socket; it cannot reconnect.
    expect(stranger.locator("#conn")).not_to_have_attribute("data-state", "live")
    assert stranger.goto(revoked).status == 404
    assert stranger.context.request.get(f"{revoked}api/jobs/{JOB}").status == 404

    expired = create_share_link(page, collab_job).removeprefix(server["url"])
    assert stranger.context.request.get(expired).status == 200
    manage(
        server["env"],
        "shell",
        "-c",
        "from django.utils import timezone; from jobs.models import ShareLink; "
        "ShareLink.objects.filter(revoked_at=None).update(expires_at=timezone.now())",
    )
    assert stranger.goto(expired).status == 404
    assert stranger.context.request.get(f"{expired}api/jobs/{JOB}/metrics").status == 404


def test_a_comparison_share_link_draws_the_compared_charts_without_an_account(
    stranger, report, artifacts
):
    link = report("/api/share-links", {"compare": ["llama3-8b-alpaca-lora", "distilbert-sst2"]})
    stranger.goto(link["url"])
    expect(stranger.locator("#share-banner")).to_contain_text("Shared read-only view")
    expect(stranger.locator(".compare-chart").first).to_be_visible()
    expect(stranger.locator(".compare-chart .chart-box.is-loading")).to_have_count(0)
    expect(stranger.locator("main a[href^='/job/'], .crumbs a")).to_have_count(0)
    stranger.screenshot(path=artifacts / "collab-share-compare.png")
    request = stranger.context.request
    secret = link["url"].split("/")[2]
    assert request.get(f"/s/{secret}/api/jobs/llama3-8b-alpaca-lora").status == 404
    assert request.get(f"/s/{secret}/api/jobs/{JOB}/metrics").status == 404
