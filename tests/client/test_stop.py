"""Stopping a run from the server: the stop request arrives in the answer to a status post
(heartbeat or progress), and the run, a plain loop or a Lightning `Trainer`, stops and
ends the job `cancelled` at the step it reached."""

import json
import secrets
import subprocess
import sys
import textwrap
import threading
import urllib.request

import pytest
import tuneboard

from .live import REPO


def new_uid(prefix):
    return f"{prefix}-{secrets.token_hex(3)}"


def request_stop(server, uid):
    """What the job page's Stop button sends (here with the token of an editor)."""
    request = urllib.request.Request(
        f"{server.url}/api/jobs/{uid}/stop",
        data=b"",
        headers={"Authorization": f"Bearer {server.token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202
        return json.loads(response.read())


def job(server, uid):
    return server.get(f"/api/jobs/{uid}")


def test_a_plain_script_sees_should_stop_and_on_stop_then_finish_cancels(server):
    uid = new_uid("stop-plain")
    seen = threading.Event()
    run = tuneboard.init(
        server=server.url,
        token=server.token,
        uid=uid,
        name="stop plain",
        system_metrics=False,
        capture_console=False,
        on_stop=lambda r: seen.set(),
        flush_interval=0.1,
        heartbeat_interval=0.2,
    )
    run.stage("training")
    run.progress(step=5, total_steps=1000)
    assert run.transport.flush(timeout=30)
    assert run.should_stop is False
    request_stop(server, uid)
    assert job(server, uid)["stop_requested"] is True

    assert seen.wait(30)  # the next heartbeat's answer
    assert run.should_stop is True
    run.progress(step=7)
    assert run.finish(timeout=30)
    stored = job(server, uid)
    assert stored["status"] == "cancelled"
    assert stored["current_step"] == 7
    assert stored["stop_requested"] is False


def test_stop_requested_is_raised_in_the_main_thread_when_asked_for(server):
    uid = new_uid("stop-raise")
    run = tuneboard.init(
        server=server.url,
        token=server.token,
        uid=uid,
        name="stop raise",
        system_metrics=False,
        capture_console=False,
        raise_on_stop=True,
        flush_interval=0.1,
        heartbeat_interval=0.2,
    )
    assert run.transport.flush(timeout=30)
    request_stop(server, uid)
    step = 0
    with run:
        run.stage("training")
        for step in range(1, 50_000_000):  # training that only a stop ends
            if step % 1000 == 0:
                run.progress(step=step)
        pytest.fail("the stop was never raised")
    assert run.should_stop
    stored = job(server, uid)
    assert stored["status"] == "cancelled"
    assert stored["current_step"] == run.step > 0


LIGHTNING_SCRIPT = """
import sys
import torch
from torch.utils.data import DataLoader, TensorDataset
import lightning.pytorch as pl
from tuneboard.integrations.lightning import TuneboardLogger

class Tiny(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 2)
    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.cross_entropy(self.net(x), y)
        self.log("train/loss", loss)
        return loss
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05)

class Announce(pl.Callback):
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == 3:
            trainer.logger.experiment.transport.flush(timeout=60)  # the job exists
            print("TRAINING", flush=True)

torch.manual_seed(0)
data = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
logger = TuneboardLogger(uid=sys.argv[1], name="lightning stop", system_metrics=False,
                         flush_interval=0.2, heartbeat_interval=0.5)
trainer = pl.Trainer(logger=logger, max_epochs=100_000, log_every_n_steps=1,
                     accelerator="cpu", default_root_dir=sys.argv[2],
                     enable_model_summary=False, enable_checkpointing=False,
                     enable_progress_bar=False, callbacks=[Announce()])
trainer.fit(Tiny(), DataLoader(data, batch_size=16))
print("STOPPED AT", trainer.global_step, flush=True)
"""


def test_a_lightning_fit_stops_on_request_and_the_job_ends_cancelled(server, client_env, tmp_path):
    pytest.importorskip("lightning")
    uid = new_uid("stop-lightning")
    env = {**client_env, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(LIGHTNING_SCRIPT), uid, str(tmp_path)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "TRAINING"
        request_stop(server, uid)
        out, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err[-4000:]
    stopped_at = int(out.split("STOPPED AT")[1].split()[0])
    assert f"a stop was requested for {uid}" in err
    stored = job(server, uid)
    assert stored["status"] == "cancelled"
    assert stored["current_step"] == stopped_at
    assert stored["stop_requested"] is False
