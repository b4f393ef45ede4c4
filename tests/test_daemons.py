"""Daemons running as threads of the server push on the server's event loop."""

import asyncio
import threading

import pytest
from channels.layers import get_channel_layer
from django.db import connection
from django.test import Client

from jobs import events, services
from jobs.core import push as live

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_write_from_a_daemon_thread_reaches_sockets_on_the_server_loop():
    job = await asyncio.to_thread(lambda: services.job_create(name="embedded", uid="emb-1")[0])
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(events.job_group(job.uid), channel)
    loop = asyncio.get_running_loop()

    def daemon():
        live.bind_thread_to_loop(loop)
        try:
            services.job_status_update(job=job, status="running", step=3)
        finally:
            connection.close()  # a thread's connection would keep the test database open

    thread = threading.Thread(target=daemon)
    thread.start()
    message = await asyncio.wait_for(layer.receive(channel), 10)
    await asyncio.to_thread(thread.join)
    assert message["payload"]["type"] == "status"
    assert message["payload"]["job"]["current_step"] == 3


def test_healthz_answers_without_signing_in():
    response = Client(HTTP_HOST="127.0.0.1").get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_an_unknown_embedded_daemon_is_refused_at_start(tmp_path):
    import subprocess
    import sys

    from django.conf import settings

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "TUNEBOARD_DATA_DIR": str(tmp_path),
            "TUNEBOARD_EMBEDDED_DAEMONS": "sampler,bogus",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "unknown bogus" in result.stderr
