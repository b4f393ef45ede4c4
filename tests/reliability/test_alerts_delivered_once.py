"""Two servers, each running the alert watcher, deliver a fired rule exactly once.

Two daphne processes share one site (in the second pass of `.ci/run`: a private
PostgreSQL database and Redis) and each runs the alert watcher inside it
(`TUNEBOARD_EMBEDDED_DAEMONS=alerts`, a pass every second). A job-event rule fires on
the ingest path of whichever server takes the status change (the test sends it to both
at once); a stall rule is found by both watchers on the same pass. Each alert must
reach a real HTTP receiver (signed JSON webhook) and a real SMTP server (aiosmtpd) once,
and nothing more must arrive while both watchers go on passing.
"""

import hashlib
import hmac
import json
import re
import threading
import time
import uuid

import pytest

from tests.reliability.servers import Site, redis_server
from tests.support.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.processes

PASS_LINE = re.compile(r"Alert watcher pass: ")
# Passes each watcher makes after everything arrived, before the test counts again.
MORE_PASSES = 3


@pytest.fixture
def receivers():
    http, smtp = HttpReceiver(), SmtpReceiver()
    yield http, smtp
    http.close()
    smtp.close()


@pytest.fixture
def watched_site(tmp_path, site_template, receivers):
    """A site whose servers run the alert watcher every second and may notify loopback."""
    _, smtp = receivers
    site = Site(tmp_path / "site", template=site_template, redis_url=redis_server())
    site.env.update(
        TUNEBOARD_EMBEDDED_DAEMONS="alerts",
        TUNEBOARD_ALERTS_INTERVAL="1",
        TUNEBOARD_ALERT_ALLOW_PRIVATE="1",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp.port),
        DEFAULT_FROM_EMAIL="alerts@tuneboard.test",
        LOG_LEVEL="DEBUG",  # each watcher pass logs a line the test counts
    )
    yield site
    site.close()


def passes(server):
    return len(PASS_LINE.findall(server.log_text()))


def wait_for_passes(servers, counts, more, timeout=60):
    """Return once each server's watcher made `more` passes beyond `counts` (a pass logs
    a line; a log file sends no event to wait on, so it is read again every 0.2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(passes(s) >= c + more for s, c in zip(servers, counts, strict=True)):
            return
        time.sleep(0.2)
    raise AssertionError(f"watchers made {[passes(s) for s in servers]} passes, from {counts}")


def created(response):
    assert response.status in (200, 201), response.raw
    return response.json()


def test_two_servers_with_alert_watchers_deliver_each_fired_rule_exactly_once(
    watched_site, receivers
):
    http, smtp = receivers
    site = watched_site
    first, second = site.daphne(), site.daphne()
    servers = (first, second)

    hook = created(
        first.request(
            "POST", "/api/alert-channels", {"name": "hook", "kind": "webhook", "target": http.url}
        )
    )
    mail = created(
        first.request(
            "POST",
            "/api/alert-channels",
            {"name": "mail", "kind": "email", "target": "oncall@tuneboard.test"},
        )
    )
    failing = f"fails-{uuid.uuid4().hex[:8]}"
    stalling = f"stalls-{uuid.uuid4().hex[:8]}"
    for uid in (failing, stalling):
        created(first.request("POST", "/api/jobs", {"uid": uid, "name": uid}))
        created(first.request("POST", f"/api/jobs/{uid}/status", {"status": "running"}))
    created(
        second.request(
            "POST",
            "/api/alert-rules",
            {
                "name": "job failed",
                "condition": {"type": "event", "events": ["failed"]},
                "channels": [hook["id"], mail["id"]],
            },
        )
    )
    created(
        first.request(
            "POST",
            "/api/alert-rules",
            {
                "name": "job stalled",
                "scope": {"job": stalling},
                "condition": {"type": "stall", "minutes": 5},
                "channels": [hook["id"]],
            },
        )
    )

    # The same failure reported to both servers at once (a client retrying on another
    # server): one status change wins, the event fires once.
    failure = {"status": "failed", "error": {"type": "RuntimeError", "message": "CUDA OOM"}}
    answers = []
    threads = [
        threading.Thread(
            target=lambda s=server: answers.append(
                s.request("POST", f"/api/jobs/{failing}/status", failure).status
            )
        )
        for server in servers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 200 in answers and set(answers) <= {200, 409}, answers
    # The stalling job last reported ten minutes ago: both watchers find it stalled.
    site.shell(
        "from datetime import timedelta; from django.utils import timezone;"
        "from django.apps import apps; Job = apps.get_model('jobs', 'Job');"
        f"Job.objects.filter(uid={stalling!r})"
        ".update(last_heartbeat=timezone.now() - timedelta(minutes=10))"
    )

    http.wait_for(2, timeout=60)
    smtp.wait_for(1, timeout=60)
    wait_for_passes(servers, [passes(s) for s in servers], MORE_PASSES)

    bodies = http.bodies
    assert sorted(body["rule"]["name"] for body in bodies) == ["job failed", "job stalled"]
    assert {body["job"]["uid"] for body in bodies} == {failing, stalling}
    for headers, raw, _ in http.requests:
        expected = "sha256=" + hmac.new(hook["secret"].encode(), raw, hashlib.sha256).hexdigest()
        assert headers["X-Tuneboard-Signature"] == expected
    assert len(smtp.messages) == 1
    _, recipients, content = smtp.messages[0]
    assert recipients == ["oncall@tuneboard.test"]
    assert "job failed" in content and "CUDA OOM" in content and f"/job/{failing}" in content

    # The site's record agrees: two firings, three deliveries, each sent on one attempt.
    stored = json.loads(
        site.shell(
            "import json; from django.apps import apps;"
            "FiredAlert = apps.get_model('jobs', 'FiredAlert');"
            "AlertDelivery = apps.get_model('jobs', 'AlertDelivery');"
            "print(json.dumps({'fired': FiredAlert.objects.count(), 'deliveries': sorted("
            "[d.attempts, d.delivered_at is not None] for d in AlertDelivery.objects.all())}))"
        ).splitlines()[-1]
    )
    assert stored == {"fired": 2, "deliveries": [[1, True], [1, True], [1, True]]}
    alerts = first.request("GET", "/api/alerts").json()["results"]
    assert sorted(alert["rule"]["name"] for alert in alerts) == ["job failed", "job stalled"]
