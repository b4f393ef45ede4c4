"""Stop from the browser, in a real Chromium, on a real Hugging Face `Trainer` run (a
tiny BERT built from a config with random weights, on the CPU): the editor clicks Stop,
the page says "Stop requested", the Trainer leaves its loop at its next heartbeat answer,
the script exits 0 and the job ends `cancelled` at the step it stopped at."""

import json
import os
import subprocess
import sys
import textwrap
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.support.server import ROOT

pytestmark = pytest.mark.e2e
pytest.importorskip("transformers")

# The client's heartbeat interval here: small, so the test waits seconds, not minutes.
HEARTBEAT = 2.0

TRAINER_SCRIPT = """
import sys
import torch
from transformers import (BertConfig, BertForSequenceClassification, Trainer,
                          TrainerCallback, TrainingArguments)
from tuneboard.integrations.huggingface import TuneboardCallback

uid, output_dir, heartbeat = sys.argv[1], sys.argv[2], float(sys.argv[3])

class Announce(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 5:
            tuneboard.run.transport.flush(timeout=60)  # the job exists on the server
            print("TRAINING", flush=True)

torch.manual_seed(0)
config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=16, num_labels=2)
rows = [{"input_ids": torch.randint(1, 50, (16,)), "labels": torch.tensor(i % 2)}
        for i in range(64)]
args = TrainingArguments(output_dir=output_dir, max_steps=1_000_000,
                         per_device_train_batch_size=8, logging_steps=10, save_strategy="no",
                         report_to="none", use_cpu=True, disable_tqdm=True)
tuneboard = TuneboardCallback(uid=uid, name="stop from the browser", system_metrics=False,
                              flush_interval=heartbeat / 2, heartbeat_interval=heartbeat)
trainer = Trainer(model=BertForSequenceClassification(config), args=args, train_dataset=rows,
                  callbacks=[tuneboard, Announce()])
trainer.train()
print("STOPPED AT", trainer.state.global_step, flush=True)
"""


def test_clicking_stop_ends_a_running_trainer_job_cancelled_at_its_step(page, server, tmp_path):
    uid = "hf-stop-e2e"
    env = {
        **os.environ,
        "TUNEBOARD_SERVER": server["url"],
        "TUNEBOARD_TOKEN": server["token"],
        "TUNEBOARD_DIR": str(tmp_path / "runs"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "client"), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    script = textwrap.dedent(TRAINER_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, "-c", script, uid, str(tmp_path / "out"), str(HEARTBEAT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "TRAINING"
        page.goto(f"/job/{uid}")
        expect(page.locator("#job-status")).to_have_text("Running")
        stop = page.locator("#job-stop")
        expect(stop).to_be_visible()
        expect(page.locator("#job-stop-requested")).to_be_hidden()

        stop.click()
        expect(page.locator("#job-stop-requested")).to_be_visible()
        expect(stop).to_be_hidden()
        # Within two heartbeats the Trainer has stopped and the job is cancelled (the
        # wait allows for the script's exit on a busy machine too).
        expect(page.locator("#job-status")).to_have_text("Cancelled", timeout=30_000)
        expect(page.locator("#job-stop-requested")).to_be_hidden()
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err[-4000:]
    stopped_at = int(out.split("STOPPED AT")[1].split()[0])
    request = urllib.request.Request(
        f"{server['url']}/api/jobs/{uid}", headers={"Authorization": f"Bearer {server['token']}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        job = json.loads(response.read())
    assert job["status"] == "cancelled"
    assert job["current_step"] == stopped_at > 5
    assert f"a stop was requested for {uid}" in err
