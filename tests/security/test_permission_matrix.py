"""Who may do what, endpoint by endpoint: the permission matrix.

Every route of the URL conf (walked with `get_resolver()`) must have a rule here, and
every HTTP method a class-based view implements must have one too: a new endpoint or
method without a rule fails `test_every_route_and_method_has_a_rule`. Each rule gives
the expected status for each role:

- `none`: signed in, member of no project but the open default one;
- `viewer`, `editor`, `admin`: members of the project "matrix" that holds the jobs;
- `share`: no account, holding a share link to the job `m-job` (the link's own URLs use
  its secret; every other URL is asked without credentials);
- `foreign`: an API token of another project's admin, limited to that project.

Each request runs in a savepoint rolled back afterwards, so no request sees another's
writes. WebSocket subscriptions and the cross-project leaks of lists, statistics,
search and compare are checked below the matrix.
"""

import json

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from jobs import services
from jobs.live.routing import websocket_urlpatterns
from jobs.models import JobStatus
from tests.factories import ingest_points, make_job, make_token, make_user

ROLES = ("none", "viewer", "editor", "admin", "share", "foreign")
MEMBERS = ("viewer", "editor", "admin")


def every(status):
    return dict.fromkeys(ROLES, status)


def members(status, *, none=404, share=401, foreign=404, **overrides):
    """`status` for the project's members, 404 for a non-member and the other project's
    token (the job does not exist for them), 401 for a request without credentials."""
    result = {"none": none, "share": share, "foreign": foreign}
    result.update(dict.fromkeys(MEMBERS, status))
    result.update(overrides)
    return result


def signed_in(status, *, share=401):
    """Any signed-in user or token, whatever their projects (the answer is scoped)."""
    return {**every(status), "share": share}


def page(status, **overrides):
    """A page: members `status`, others 404, no session (share, a token) to sign-in."""
    return members(status, share=302, foreign=302, **overrides)


JOB_READ = members(200)
TOKEN_WRITE = members(403, none=403, foreign=404)  # writes need a token (a session: 403)
EDITORS = {"viewer": 403, "editor": 201, "admin": 201}
ADMINS = {"viewer": 403, "editor": 403, "admin": 200}

# name -> [(method, path, body, expected by role)]; {uid} {slug} {secret} {comment} {link}
# {job2} are filled from the fixture. `admin` stands for every route of the admin site.
RULES = {
    "api-jobs": [
        ("get", "/api/jobs", None, signed_in(200)),
        ("post", "/api/jobs", {"name": "x", "project": "matrix"}, TOKEN_WRITE | {"foreign": 400}),
    ],
    "api-jobs-current": [("get", "/api/jobs/current", None, signed_in(200))],
    "api-jobs-past": [("get", "/api/jobs/past", None, signed_in(200))],
    "api-jobs-statistics": [("get", "/api/jobs/statistics", None, signed_in(200))],
    "api-job": [
        ("get", "/api/jobs/{uid}", None, JOB_READ),
        ("patch", "/api/jobs/{uid}", {"name": "renamed"}, members(200, viewer=403)),
        ("delete", "/api/jobs/{uid}", None, members(204, viewer=403, editor=403)),
    ],
    # A bulk action names jobs by uid: another project's jobs are unknown uids (400).
    "api-jobs-bulk": [
        (
            "post",
            "/api/jobs/bulk",
            {"action": "archive", "uids": ["{uid}"]},
            members(200, viewer=403, none=400, foreign=400),
        ),
        (
            "post",
            "/api/jobs/bulk",
            {"action": "delete", "uids": ["{uid}"]},
            members(200, viewer=403, editor=403, none=400, foreign=400),
        ),
    ],
    "api-jobs-trash": [("get", "/api/jobs/trash", None, signed_in(200))],
    "api-job-restore": [
        ("post", "/api/jobs/{gone}/restore", None, members(200, viewer=403, editor=403)),
        ("post", "/api/jobs/{uid}/restore", None, members(404)),
    ],
    "api-job-metrics": [
        ("get", "/api/jobs/{uid}/metrics", None, JOB_READ),
        ("post", "/api/jobs/{uid}/metrics", {"points": []}, TOKEN_WRITE),
    ],
    "api-job-logs": [
        ("get", "/api/jobs/{uid}/logs", None, JOB_READ),
        ("post", "/api/jobs/{uid}/logs", {"lines": []}, TOKEN_WRITE),
    ],
    "api-job-stages": [
        ("post", "/api/jobs/{uid}/stages", {"stage": "training", "status": "active"}, TOKEN_WRITE)
    ],
    "api-job-status": [("post", "/api/jobs/{uid}/status", {"step": 1}, TOKEN_WRITE)],
    "api-job-stop": [("post", "/api/jobs/{uid}/stop", None, members(202, viewer=403))],
    "api-job-export": [
        ("get", "/api/jobs/{uid}/export?format=csv", None, JOB_READ),
        ("get", "/api/jobs/{uid}/export?format=json", None, JOB_READ),
    ],
    "api-training-losses": [("get", "/api/training/losses?job={uid}", None, JOB_READ)],
    "api-training-resources": [
        ("get", "/api/training/resources?job={uid}", None, JOB_READ),
    ],
    "api-training-status": [("get", "/api/training/status/{uid}", None, JOB_READ)],
    "api-training-summary": [("get", "/api/training/summary", None, signed_in(200))],
    "api-resources": [
        (
            "post",
            "/api/resources",
            {"host": "h", "job": "{uid}", "samples": []},
            TOKEN_WRITE,
        )
    ],
    "api-projects": [
        ("get", "/api/projects", None, signed_in(200)),
        ("post", "/api/projects", {"name": "Fresh"}, signed_in(201)),
    ],
    "api-project-members": [
        ("get", "/api/projects/{slug}/members", None, members(200)),
        (
            "post",
            "/api/projects/{slug}/members",
            {"username": "m-none", "role": "viewer"},
            members(200, viewer=403, editor=403),
        ),
    ],
    "api-project-member": [
        (
            "delete",
            "/api/projects/{slug}/members/m-viewer",
            None,
            members(204, viewer=403, editor=403),
        )
    ],
    "api-project-audit": [("get", "/api/projects/{slug}/audit", None, members(200, **ADMINS))],
    "api-job-comments": [
        ("get", "/api/jobs/{uid}/comments", None, JOB_READ),
        ("post", "/api/jobs/{uid}/comments", {"body": "hi @m-viewer"}, members(201, viewer=403)),
    ],
    "api-job-comment": [
        (
            "patch",
            "/api/jobs/{uid}/comments/{comment}",
            {"body": "edited"},
            members(200, viewer=403, admin=403),
        ),
        ("delete", "/api/jobs/{uid}/comments/{comment}", None, members(204, viewer=403)),
    ],
    "api-notifications": [("get", "/api/notifications", None, signed_in(200))],
    "api-notifications-read": [("post", "/api/notifications/read", {}, signed_in(200))],
    "api-job-share-links": [
        ("get", "/api/jobs/{uid}/share-links", None, members(200, viewer=403)),
        ("post", "/api/jobs/{uid}/share-links", {}, members(201, viewer=403)),
    ],
    "api-share-links": [
        ("post", "/api/share-links", {"compare": ["{uid}", "{job2}"]}, members(201, viewer=403))
    ],
    "api-share-link": [("delete", "/api/share-links/{link}", None, members(204, viewer=403))],
    # The schema and its docs page describe the API; they hold no data.
    "api-schema": [("get", "/api/schema/", None, every(200))],
    "api-docs": [("get", "/api/docs/", None, every(200))],
    # A share link's mirrors: the secret is the credential, whoever holds it; another job
    # or a host answers 404 to it.
    "share-api-job": [
        ("get", "/s/{secret}/api/jobs/{uid}", None, every(200)),
        ("get", "/s/{secret}/api/jobs/{job2}", None, every(404)),
        ("get", "/s/revoked-or-unknown/api/jobs/{uid}", None, every(404)),
        ("post", "/s/{secret}/api/jobs/{uid}", {}, every(405)),
    ],
    "share-api-job-metrics": [
        ("get", "/s/{secret}/api/jobs/{uid}/metrics", None, every(200)),
        ("get", "/s/{secret}/api/jobs/{job2}/metrics", None, every(404)),
        ("post", "/s/{secret}/api/jobs/{uid}/metrics", {"points": []}, every(405)),
    ],
    "share-api-job-logs": [
        ("get", "/s/{secret}/api/jobs/{uid}/logs", None, every(200)),
        ("get", "/s/{secret}/api/jobs/{job2}/logs", None, every(404)),
        ("post", "/s/{secret}/api/jobs/{uid}/logs", {"lines": []}, every(405)),
    ],
    "share-api-training-resources": [
        ("get", "/s/{secret}/api/training/resources?job={uid}", None, every(200)),
        ("get", "/s/{secret}/api/training/resources?job={job2}", None, every(404)),
        ("get", "/s/{secret}/api/training/resources?host=gpu-1", None, every(404)),
        ("post", "/s/{secret}/api/training/resources?job={uid}", {}, every(405)),
    ],
    # Pages (session only: a bearer token is not a sign-in).
    "jobs:dashboard": [("get", "/", None, page(200, none=200))],
    "jobs:job": [("get", "/job/{uid}", None, page(200))],
    "jobs:job-details": [
        ("get", "/job/{uid}/details", None, members(200, share=403, foreign=403)),
        (
            "post",
            "/job/{uid}/details",
            {"notes": "n"},
            members(200, viewer=403, share=403, foreign=403),
        ),
    ],
    "jobs:compare": [("get", "/compare?jobs={uid},{job2}", None, page(200))],
    # Signed-in users are sent on; others get the form (again: these carry no password).
    "jobs:login": [
        ("get", "/login/", None, {**every(302), "share": 200, "foreign": 200}),
        ("post", "/login/", {}, {**every(302), "share": 200, "foreign": 200}),
        ("put", "/login/", {}, {**every(302), "share": 200, "foreign": 200}),
    ],
    "jobs:logout": [("post", "/logout/", None, every(302))],
    # Single sign-on is off here (no TUNEBOARD_OIDC_ISSUER): its routes do not exist.
    # On, they are the public start and end of the provider's flow (tests/e2e/test_sso.py).
    "jobs:oidc-start": [("get", "/oidc/start/", None, every(404))],
    "jobs:oidc-callback": [("get", "/oidc/callback/?code=c&state=s", None, every(404))],
    "jobs:healthz": [("get", "/healthz", None, every(200))],
    "jobs:shared": [
        ("get", "/s/{secret}/", None, every(200)),
        ("get", "/s/revoked-or-unknown/", None, every(404)),
    ],
    "jobs:shared-details": [("get", "/s/{secret}/details", None, every(200))],
    "jobs:notifications-read": [("post", "/notifications/read", {}, every(302))],
    "jobs:project-settings": [
        ("get", "/projects/{slug}/settings", None, page(200, viewer=403, editor=403))
    ],
    "api-job-samples": [
        ("get", "/api/jobs/{uid}/samples", None, JOB_READ),
        ("post", "/api/jobs/{uid}/samples", {"step": 1, "samples": []}, TOKEN_WRITE),
    ],
    "api-job-sample-prompts": [("get", "/api/jobs/{uid}/samples/prompts", None, JOB_READ)],
    "api-job-sample-scores": [("get", "/api/jobs/{uid}/samples/scores", None, JOB_READ)],
    "api-job-samples-export": [
        ("get", "/api/jobs/{uid}/samples/export?format=json", None, JOB_READ)
    ],
    "api-job-checkpoints": [
        ("get", "/api/jobs/{uid}/checkpoints", None, JOB_READ),
        ("post", "/api/jobs/{uid}/checkpoints", {"step": 1, "path": "/c"}, TOKEN_WRITE),
    ],
    "api-job-report": [("get", "/api/jobs/{uid}/report?format=html", None, JOB_READ)],
    "api-compare-report": [
        ("get", "/api/compare/report?jobs={uid},{job2}&format=html", None, JOB_READ)
    ],
    "api-query-check": [("get", "/api/query/check?query=status:running", None, signed_in(200))],
    "api-views": [
        ("get", "/api/views", None, signed_in(200)),
        ("post", "/api/views", {"name": "v", "query": "status:running"}, signed_in(201)),
    ],
    "api-view": [("delete", "/api/views/999999", None, signed_in(404))],
    "api-alert-channels": [
        ("get", "/api/alert-channels", None, signed_in(200)),
        (
            "post",
            "/api/alert-channels",
            {"name": "c", "kind": "email", "target": "a@example.com"},
            signed_in(201),
        ),
    ],
    "api-alert-channel": [("delete", "/api/alert-channels/999999", None, signed_in(404))],
    "api-alert-channel-test": [("post", "/api/alert-channels/999999/test", {}, signed_in(404))],
    "api-alert-rules": [
        ("get", "/api/alert-rules", None, signed_in(200)),
        ("post", "/api/alert-rules", {}, signed_in(400)),
    ],
    "api-alert-rule": [
        ("delete", "/api/alert-rules/999999", None, signed_in(404)),
        ("patch", "/api/alert-rules/999999", {}, signed_in(404)),
    ],
    "api-alerts": [("get", "/api/alerts", None, signed_in(200))],
    "api-alerts-firing": [("get", "/api/alerts/firing", None, signed_in(200))],
    "api-alerts-read": [("post", "/api/alerts/read", {}, signed_in(200))],
    "mlflow": [
        ("get", "/api/2.0/mlflow/runs/get?run_id={uid}", None, JOB_READ),
        ("get", "/ajax-api/2.0/mlflow/runs/get?run_id={uid}", None, JOB_READ),
        *[
            (method, "/api/2.0/mlflow/no-such-operation", {}, every(404))
            for method in ("post", "put", "patch", "delete")
        ],
    ],
    "mlflow-artifacts": [
        (
            method,
            "/api/2.0/mlflow-artifacts/artifacts",
            None if method == "get" else {},
            signed_in(501),
        )
        for method in ("get", "post", "put", "patch", "delete")
    ],
    "jobs:runs": [("get", "/runs", None, page(200, none=200))],
    "jobs:trash": [("get", "/trash", None, page(200, none=200))],
    "jobs:alert-settings": [("get", "/settings/alerts", None, page(200, none=200))],
    # Staff only: everyone here (no staff) is sent to the admin's sign-in.
    "admin": [
        ("get", "/admin/", None, every(302)),
        ("get", "/admin/jobs/job/", None, every(302)),
        ("get", "/admin/jobs/auditevent/", None, every(302)),
    ],
}


def routes(resolver=None, prefix="", namespace=""):
    """(name, route, callback) of every URL pattern; the admin site as one `admin`."""
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                yield "admin", route, None
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from routes(pattern, route, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}", route, pattern.callback


def implemented_methods(callback):
    """The HTTP methods a class-based view handles (None for a function view)."""
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    if view_class is None:
        return None
    return {
        m
        for m in view_class.http_method_names
        if m not in ("options", "head") and hasattr(view_class, m)
    }


def test_every_route_and_method_has_a_rule():
    missing = []
    for name, route, callback in routes():
        rules = RULES.get(name)
        if rules is None:
            missing.append(f"{name} ({route}): no rule")
            continue
        methods = implemented_methods(callback) if callback else None
        if methods is None:
            continue
        ruled = {method for method, *_ in rules}
        methods_expected = methods | ({"post"} if name.startswith("share-api") else set())
        for method in sorted(methods_expected - ruled):
            missing.append(f"{name} ({route}): no rule for {method.upper()}")
    assert not missing, "Routes without a permission rule:\n" + "\n".join(missing)
    known = {name for name, _, _ in routes()}
    assert not set(RULES) - known, f"Rules for routes that no longer exist: {set(RULES) - known}"


@pytest.fixture
def world(db):
    return build_world()


def build_world():
    """The project "matrix" with its members and two jobs, a comment, a share link; the
    project "other" with its admin's token."""
    admin = make_user("m-admin")
    project = services.project_create(name="Matrix", creator=admin)
    for role in ("viewer", "editor"):
        make_user(f"m-{role}")
        services.member_set(project=project, username=f"m-{role}", role=role)
    make_user("m-none")
    job = make_job(uid="m-job", name="zebra run", status=JobStatus.RUNNING, project=project)
    job2 = make_job(uid="m-job2", status=JobStatus.RUNNING, project=project)
    for each in (job, job2):
        ingest_points(each, 3)
    services.job_trash(job=make_job(uid="m-gone", project=project))
    editor = get_user_model().objects.get(username="m-editor")
    comment = services.comment_create(job=job, author=editor, body="first")
    link, secret = services.share_link_create(jobs=[job], created_by=editor)
    foreign_user = make_user("m-foreign")
    other = services.project_create(name="Other", creator=foreign_user)
    make_job(uid="o-job", status=JobStatus.RUNNING, project=other)
    _, foreign_raw = make_token(foreign_user, projects=["other"], role="admin")
    return {
        "uid": job.uid,
        "job2": job2.uid,
        "gone": "m-gone",
        "slug": project.slug,
        "secret": secret,
        "comment": comment.pk,
        "link": link.pk,
        "foreign": foreign_raw,
    }


def client_for(role, world):
    client = Client()
    if role in ("none", *MEMBERS):
        client.force_login(get_user_model().objects.get(username=f"m-{role}"))
    return client


def fill(value, world):
    if isinstance(value, str):
        return value.format(**world)
    if isinstance(value, list):
        return [fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, world) for k, v in value.items()}
    return value


def ask(client, role, world, method, path, body):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world['foreign']}"} if role == "foreign" else {}
    kwargs = {}
    if body is not None:
        kwargs = {"data": json.dumps(fill(body, world)), "content_type": "application/json"}
    with transaction.atomic():
        response = getattr(client, method)(fill(path, world), **kwargs, **headers)
        transaction.set_rollback(True)
    return response


def body_of(response):
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_permission_matrix(world):
    """Every rule, for every role (one test: the world is built once; each request is
    rolled back). The failure lists every request that answered otherwise."""
    clients = {role: client_for(role, world) for role in ROLES}
    wrong = []
    for name, rules in RULES.items():
        for method, path, body, expected in rules:
            for role in ROLES:
                response = ask(clients[role], role, world, method, path, body)
                if name == "jobs:logout":  # that client is signed out now
                    clients[role] = client_for(role, world)
                content = body_of(response)
                if response.status_code != expected[role]:
                    detail = response.get("Location") or content[:160]
                    wrong.append(
                        f"{name}: {method.upper()} {fill(path, world)} as {role}: "
                        f"{response.status_code}, expected {expected[role]} ({detail!r})"
                    )
                elif (
                    role in ("none", "foreign", "share")
                    and response.status_code == 200
                    and not path.startswith("/s/")
                    and b"m-job" in content
                ):
                    wrong.append(f"{name}: {method.upper()} {path} leaks the jobs to {role}")
    assert not wrong, f"{len(wrong)} requests broke the matrix:\n" + "\n".join(wrong)


# --- WebSocket subscriptions ---------------------------------------------------------------

APP = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


async def connect(path, client=None):
    headers = []
    if client is not None and settings.SESSION_COOKIE_NAME in client.cookies:
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        headers = [(b"cookie", f"{settings.SESSION_COOKIE_NAME}={cookie}".encode())]
    communicator = WebsocketCommunicator(APP, path, headers=headers)
    connected, _ = await communicator.connect(timeout=3)
    await communicator.disconnect()
    return connected


SOCKETS = {
    # path -> roles whose socket is accepted (a token opens no socket: pages use sessions)
    "/ws/jobs/{uid}/": {"viewer", "editor", "admin"},
    "/ws/jobs/{job2}/": {"viewer", "editor", "admin"},
    "/ws/dashboard/": {"none", "viewer", "editor", "admin"},
    "/ws/s/{secret}/": set(ROLES),
    "/ws/s/unknown-secret/": set(),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("path", list(SOCKETS))
async def test_websocket_subscriptions_follow_the_matrix(path):
    world_data = await database_sync_to_async(build_world)()
    accepted = set()
    for role in ROLES:
        client = await sync_to_async(client_for)(role, world_data)
        if await connect(fill(path, world_data), client):
            accepted.add(role)
    assert accepted == SOCKETS[path]


# --- cross-project leaks ---------------------------------------------------------------------


def test_lists_statistics_search_and_compare_show_a_non_member_nothing_of_the_project(world):
    outsider = client_for("none", world)
    baseline = outsider.get("/api/jobs/statistics").json()
    member = client_for("viewer", world)
    assert member.get("/api/jobs?q=zebra").json()["count"] == 1
    assert outsider.get("/api/jobs?q=zebra").json()["count"] == 0
    assert b"m-job" in member.get("/?q=zebra").content
    assert b"m-job" not in outsider.get("/?q=zebra").content
    assert outsider.get(f"/compare?jobs={world['uid']},o-job").status_code == 404
    stats = member.get("/api/jobs/statistics").json()
    assert stats != baseline  # the member's statistics count the project's two jobs
    make_job(uid="m-job3", status=JobStatus.COMPLETED, project=services.project_create(name="X"))
    assert outsider.get("/api/jobs/statistics").json() == baseline
    token = Client(HTTP_AUTHORIZATION=f"Bearer {world['foreign']}")
    assert [j["uid"] for j in token.get("/api/jobs").json()["results"]] == ["o-job"]
    assert b"m-job" not in token.get("/api/training/summary").content
