"""Managing jobs in Chromium, as a project's admin: select rows in the runs table, tag
them, archive them (then `archived:true` finds them), delete one to the trash and
restore it; rename a job inline while another page watches it change."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import _page
from tests.support.server import manage, provision

USER = "e2e-manager"
PASSWORD = "e2e-manager-password-not-secret"
PROJECT = "managed-e2e"
TAG = "e2e-manage"
UIDS = ["e2e-mg-a", "e2e-mg-b", "e2e-mg-c"]

CREATE_PROJECT = """
from django.contrib.auth import get_user_model
from jobs import services
user = get_user_model().objects.get(username="{user}")
services.project_create(name="Managed E2E", creator=user, slug="{slug}")
"""


@pytest.fixture(scope="module")
def manager(server):
    """A user who is admin of their own project, with three jobs reported into it."""
    token = provision(server["env"], USER, token_name="manager", password=PASSWORD).token
    manage(server["env"], "shell", "-c", CREATE_PROJECT.format(user=USER, slug=PROJECT))
    for uid in UIDS:
        body = {"uid": uid, "name": uid, "model": "tiny-llm", "tags": [TAG], "project": PROJECT}
        post(server, token, "/api/jobs", body)
    return {"token": token}


def post(server, token, path, body):
    """POST a JSON body with the manager's token, as a script would."""
    request = urllib.request.Request(
        f"{server['url']}{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture
def admin_page(browser, server, manager):
    """A desktop page signed in (through the login page) as the project's admin."""
    context, page = _page(browser, server, None, {"width": 1440, "height": 900})
    page.goto("/login/")
    page.fill("#id_username", USER)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    yield page
    errors = page.console.unexpected()
    context.close()
    assert not errors, f"browser console errors: {errors}"


def shown(page):
    return sorted(
        page.locator("#runs-body tr").evaluate_all("rows => rows.map(r => r.dataset.uid)")
    )


def bulk(page, action):
    with page.expect_navigation():
        page.locator(f'#bulk-bar [data-bulk="{action}"]').click()


def test_selected_rows_are_tagged_archived_deleted_and_restored(admin_page):
    page = admin_page
    page.goto(f"/runs?query=tag:{TAG}")
    assert shown(page) == UIDS
    bar = page.get_by_test_id("bulk-bar")
    expect(bar).to_be_hidden()
    for uid in UIDS[:2]:
        page.locator(f'#runs-body tr[data-uid="{uid}"] input[data-select]').check()
    expect(bar).to_be_visible()
    expect(page.locator("#bulk-count")).to_have_text("2 selected")

    # Tag the two selected jobs.
    page.fill("#bulk-tag", "picked")
    bulk(page, "add_tag")
    page.goto("/runs?query=tag:picked")
    assert shown(page) == UIDS[:2]

    # Archive them (the selection is still theirs): the default view hides them, and
    # archived:true finds them.
    expect(page.locator("#bulk-count")).to_have_text("2 selected")
    bulk(page, "archive")
    page.goto(f"/runs?query=tag:{TAG}")
    assert shown(page) == UIDS[2:]
    page.goto(f"/runs?query=archived:true tag:{TAG}")
    assert shown(page) == UIDS[:2]

    # Delete one of them to the trash.
    page.locator(f'#runs-body tr[data-uid="{UIDS[0]}"] input[data-select]').check()
    page.once("dialog", lambda dialog: dialog.accept())
    bulk(page, "delete")
    assert shown(page) == UIDS[1:2]
    with page.expect_navigation():
        page.get_by_test_id("trash-link").click()
    row = page.locator(f'#trash-table tr[data-uid="{UIDS[0]}"]')
    expect(row).to_be_visible()

    # Restore it: it leaves the trash and is found again (still archived).
    row.get_by_role("button", name="Restore").click()
    expect(row).to_have_count(0)
    page.goto(f"/runs?query=archived:true tag:{TAG}")
    assert shown(page) == UIDS[:2]


def test_select_all_matching_the_query_unarchives_every_one(admin_page, server, manager):
    post(server, manager["token"], "/api/jobs/bulk", {"action": "archive", "query": f"tag:{TAG}"})
    page = admin_page
    page.goto(f"/runs?query=archived:true tag:{TAG}")
    assert shown(page) == UIDS
    page.locator("#runs-body tr input[data-select]").first.check()
    page.get_by_test_id("bulk-all").click()
    expect(page.locator("#bulk-count")).to_contain_text("matching the query selected")
    bulk(page, "unarchive")
    page.goto(f"/runs?query=tag:{TAG}")
    assert shown(page) == UIDS


def test_a_job_is_renamed_inline_and_other_viewers_see_it_live(admin_page):
    page = admin_page
    watcher = page.context.new_page()
    watcher.goto(f"/job/{UIDS[2]}")
    expect(watcher.locator("#conn")).to_have_attribute("data-state", "live")

    page.goto(f"/job/{UIDS[2]}")
    page.get_by_test_id("rename-edit").click()
    form = page.get_by_test_id("rename-form")
    expect(form).to_be_visible()
    # A blank name is refused (a 400 the browser logs), naming the field.
    page.console.allow("status of 400")
    page.fill("#rename-name", "   ")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("#rename-error")).to_contain_text("name")
    page.fill("#rename-name", "lr sweep, seed 3")
    page.fill("#rename-description", "The third seed of the sweep.")
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()
    expect(page.locator("#job-name")).to_have_text("lr sweep, seed 3")
    expect(page.locator("#job-description")).to_have_text("The third seed of the sweep.")

    expect(watcher.locator("#job-name")).to_have_text("lr sweep, seed 3")
    expect(watcher.locator("#job-description")).to_have_text("The third seed of the sweep.")
    watcher.close()
