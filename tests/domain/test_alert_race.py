"""Two evaluators of the same data, each thread on its own database connection, as two
servers (or a server and a retry) would be: the alert fires once and is delivered once.

On PostgreSQL (DATABASE_URL set) the threads really overlap: the job row lock makes the
evaluations take turns, the unique episode backs it, and the deliverers' conditional
UPDATE lets one of them send. On SQLite they queue on the write lock (run_together).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs import services
from jobs.diagnostics.alerts import rules_evaluate_time
from jobs.diagnostics.delivery import rule_deliveries_send
from jobs.models import AlertDelivery, FiredAlert, Job, JobStatus
from tests.domain.test_concurrency import run_together
from tests.factories import make_job, make_user
from tests.support.receivers import HttpReceiver

pytestmark = pytest.mark.django_db(transaction=True)
EVALUATORS = 4


@pytest.fixture
def hook(settings):
    settings.TUNEBOARD_ALERT_ALLOW_PRIVATE = True
    receiver = HttpReceiver()
    yield receiver
    receiver.close()


def channel_and_rule(hook, condition):
    owner = make_user("owner")
    channel, _ = services.alert_channel_create(
        owner=owner, name="ops", kind="webhook", target=hook.url
    )
    services.alert_rule_create(owner=owner, name="race", condition=condition, channels=[channel.pk])


def test_the_same_batch_evaluated_by_several_servers_fires_and_delivers_once(hook):
    channel_and_rule(hook, {"type": "threshold", "key": "val/loss", "op": ">", "value": 2})
    job = make_job(status=JobStatus.RUNNING)
    batch = [{"key": "val/loss", "step": 10, "value": 3.0}]
    # Each "server" stores the batch (a retried POST) and evaluates it after its commit.
    run_together(*[[lambda: services.metrics_ingest(job=job, points=batch)]] * EVALUATORS)
    assert FiredAlert.objects.filter(job=job).count() == 1
    now = timezone.now()
    delivered = []
    # On PostgreSQL the deliverers overlap freely: the claim alone decides who sends.
    run_together(*[[lambda: delivered.append(rule_deliveries_send(now=now))]] * EVALUATORS)
    assert sum(delivered) == 1
    assert len(hook.requests) == 1
    assert AlertDelivery.objects.get().attempts == 1


def test_two_watchers_finding_the_same_stall_fire_once(hook):
    channel_and_rule(hook, {"type": "stall", "minutes": 5})
    job = make_job(status=JobStatus.RUNNING)
    later = Job.objects.get(pk=job.pk).last_heartbeat + timedelta(minutes=6)
    run_together(*[[lambda: rules_evaluate_time(now=later)]] * EVALUATORS)
    assert FiredAlert.objects.filter(job=job).count() == 1
    assert AlertDelivery.objects.count() == 1
