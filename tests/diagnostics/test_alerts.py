import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core.management import call_command
from django.utils import timezone

from jobs import services
from jobs.diagnostics.alerts import alerts_evaluate
from jobs.diagnostics.delivery import alerts_deliver
from jobs.models import Alert

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP endpoint that answers with the queued status codes, then 200."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.bodies = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = []

    def make(statuses=()):
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


def failed_job(uid, message, type_):
    job = services.job_create(name=uid, uid=uid, config={"per_device_train_batch_size": 4})[0]
    services.stage_move(job=job, stage="training", status="active")
    return services.job_status_update(
        job=job, status="failed", error={"message": message, "type": type_}
    )


def test_the_webhook_receives_exactly_one_post_per_finding(receiver):
    hook = receiver()
    failed_job("oom-1", "CUDA out of memory. Tried to allocate 2 GiB", "torch.OutOfMemoryError")
    failed_job("disk-1", "[Errno 28] No space left on device", "OSError")
    assert len(alerts_evaluate()) == 2
    assert alerts_deliver(url=hook.url) == 2
    # Later passes find the same findings again but tell nobody twice.
    alerts_evaluate()
    alerts_deliver(url=hook.url, now=timezone.now() + timedelta(hours=1))
    ids = sorted(body["id"] for body in hook.bodies)
    assert ids == ["disk-1:disk_full", "oom-1:cuda_oom"]
    body = next(b for b in hook.bodies if b["id"] == "oom-1:cuda_oom")
    assert body["job"]["uid"] == "oom-1"
    assert body["finding"]["title"] == "CUDA out of memory"
    assert body["finding"]["suggested_fixes"]


def test_the_webhook_is_retried_with_backoff_while_it_answers_500(receiver):
    hook = receiver(statuses=[500, 500])
    failed_job("oom-2", "CUDA out of memory.", "torch.OutOfMemoryError")
    alerts_evaluate()
    now = timezone.now()
    assert alerts_deliver(url=hook.url, now=now) == 0
    # Not due again until the backoff has passed.
    assert alerts_deliver(url=hook.url, now=now + timedelta(seconds=1)) == 0
    assert len(hook.bodies) == 1
    assert alerts_deliver(url=hook.url, now=now + timedelta(seconds=15)) == 0
    assert alerts_deliver(url=hook.url, now=now + timedelta(minutes=5)) == 1
    assert alerts_deliver(url=hook.url, now=now + timedelta(hours=1)) == 0
    assert [b["id"] for b in hook.bodies] == ["oom-2:cuda_oom"] * 3
    alert = Alert.objects.get()
    assert alert.delivered_at and alert.delivery_attempts == 3


def test_alerts_on_running_jobs_are_summarised_on_the_job_and_pushed(
    django_capture_on_commit_callbacks,
):
    job = services.job_create(name="r", uid="running-nan")[0]
    services.stage_move(job=job, stage="training", status="active")
    services.metrics_ingest(job=job, points=[{"key": "train/loss", "step": 5, "value": "nan"}])
    with django_capture_on_commit_callbacks() as callbacks:
        alerts_evaluate()
    job.refresh_from_db()
    assert job.active_alerts == [
        {"code": "nan_loss", "severity": "critical", "title": "Loss became NaN"}
    ]
    assert callbacks, "the change is pushed after commit"


def test_watch_alerts_once_evaluates_and_exits(receiver, settings):
    failed_job("oom-3", "CUDA out of memory.", "torch.OutOfMemoryError")
    call_command("watch_alerts", "--once", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Alert.objects.filter(code="cuda_oom").count() == 1
