"""A real Hugging Face fine-tune, reported with nothing but `TuneboardCallback`, as it
looks on the job page in Chromium.

The script is what an HF tutorial has: a tokenizer and a model, a `Trainer` with the
callback, `train()`, then `evaluate()` and `save_model()`. The tokenizer is a word-level
one trained in the script on a few sentences and the model a tiny BERT built from a
config with random weights, so nothing is downloaded; it runs on the CPU for a few
seconds against the E2E server. The page then has to show what the user expects
without any extra code in the script: the final evaluation's metrics, a completed
Validation stage, the host's resource samples (at least one per 10 s of run; the
sampling interval is shortened because the run is short), and the lines the script
printed in the log panel.
"""

import json
import os
import re
import subprocess
import sys
import textwrap
from datetime import datetime

import pytest
from playwright.sync_api import expect

from tests.support.frameworks import need
from tests.support.server import ROOT

pytestmark = pytest.mark.e2e

need("torch")
need("transformers")
need("tokenizers")

MAX_STEPS = 8
SAMPLING_SECONDS = 1.0

SCRIPT = """
import json
import sys

import numpy as np
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import (BertConfig, BertForSequenceClassification, PreTrainedTokenizerFast,
                          Trainer, TrainingArguments)
from tuneboard.integrations.huggingface import TuneboardCallback

uid, output_dir = sys.argv[1], sys.argv[2]
max_steps, interval = int(sys.argv[3]), float(sys.argv[4])
torch.manual_seed(0)
texts = ["a great film", "a dull film", "great acting and a great plot", "dull and slow",
         "the plot was great", "slow acting", "great", "dull plot and dull acting"] * 6
labels = [1, 0, 1, 0, 1, 0, 1, 0] * 6

words = Tokenizer(models.WordLevel(unk_token="[UNK]"))
words.pre_tokenizer = pre_tokenizers.Whitespace()
words.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"]))
tokenizer = PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]", pad_token="[PAD]")
encoded = tokenizer(texts, padding="max_length", max_length=12, truncation=True)
rows = [{"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask),
         "labels": torch.tensor(label)}
        for ids, mask, label in zip(encoded["input_ids"], encoded["attention_mask"], labels)]

config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
                    num_attention_heads=2, intermediate_size=32, max_position_embeddings=16,
                    num_labels=2)

def compute_metrics(prediction):
    predicted = np.argmax(prediction.predictions, axis=-1)
    truth = prediction.label_ids
    f1s = []
    for label in (0, 1):
        tp = int(((predicted == label) & (truth == label)).sum())
        fp = int(((predicted == label) & (truth != label)).sum())
        fn = int(((predicted != label) & (truth == label)).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return {"accuracy": float((predicted == truth).mean()), "f1": sum(f1s) / 2}

args = TrainingArguments(output_dir=output_dir, max_steps=max_steps,
                         per_device_train_batch_size=8, learning_rate=5e-3, logging_steps=1,
                         save_strategy="no", report_to="none", use_cpu=True, disable_tqdm=True)
trainer = Trainer(model=BertForSequenceClassification(config), args=args, train_dataset=rows,
                  eval_dataset=rows[:16], compute_metrics=compute_metrics,
                  callbacks=[TuneboardCallback(uid=uid, name="hf tutorial run",
                                               dataset="reviews (8 sentences)",
                                               system_metrics_interval=interval)])
print(f"tuning tiny-bert on {len(rows)} reviews")
trainer.train()
metrics = trainer.evaluate()
print("final eval " + json.dumps(metrics))
trainer.save_model(output_dir + "/final")
print("saved the model")
"""


def run_script(server, uid, tmp_path):
    env = {
        **os.environ,
        "TUNEBOARD_SERVER": server["url"],
        "TUNEBOARD_TOKEN": server["token"],
        "PYTHONPATH": os.pathsep.join([str(ROOT / "client"), os.environ.get("PYTHONPATH", "")]),
        # One intra-op thread: on a small shared machine OpenMP threads spinning against
        # the server make a few steps take seconds.
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    args = [uid, str(tmp_path), str(MAX_STEPS), str(SAMPLING_SECONDS)]
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout


def seconds(iso):
    return datetime.fromisoformat(iso).timestamp()


def shown_number(text):
    return float(re.sub(r"[^0-9eE.+-]", "", text))


def test_a_trainer_run_with_the_callback_alone_shows_eval_validation_resources_and_prints(
    page, server, tmp_path
):
    uid = "e2e-hf-trainer"
    stdout = run_script(server, uid, tmp_path)
    final_line = next(line for line in stdout.splitlines() if line.startswith("final eval "))
    final = json.loads(final_line.removeprefix("final eval "))

    page.goto(f"/job/{uid}")
    expect(page.locator("body")).to_have_attribute("data-synced", "true")
    expect(page.locator("#job-status")).to_have_text("Completed")

    # The final evaluate(), after train(): its metrics at the last step, on the cards…
    for key, name in (("val/accuracy", "eval_accuracy"), ("val/f1", "eval_f1")):
        card = page.locator(f'#metric-cards .metric[data-key="{key}"]')
        expect(card.locator('[data-f="step"]')).to_have_text(f"step {MAX_STEPS}")
        value = shown_number(card.locator('[data-f="value"]').inner_text())
        assert value == pytest.approx(final[name], abs=5e-4), key
    # …and in the completed job's summary line, as the best (only) validation loss.
    best = page.locator(".summary-line div", has_text="Best val loss").locator("strong")
    expect(best).to_contain_text(f"at step {MAX_STEPS}")
    assert shown_number(best.inner_text().split("at step")[0]) == pytest.approx(
        final["eval_loss"], rel=5e-4
    )
    # The Trainer's end-of-training values are single values: Summary rows, not charts.
    expect(page.locator('#summary-rows [data-key="train_runtime"]')).to_be_visible()
    expect(page.locator('.small-chart[data-key="train_runtime"]')).to_have_count(0)

    # The stages the run went through, Validation and Save model included.
    for stage in ("training", "validation", "save_model"):
        expect(page.locator(f'#stages .stage[data-stage="{stage}"]')).to_have_attribute(
            "data-status", "completed"
        )

    # Resource samples of this machine, taken by the client itself: the hosts table
    # counts them; at least one per 10 s of the run (started → finished), measured.
    job = page.request.get(f"/api/jobs/{uid}").json()
    run_seconds = seconds(job["finished_at"]) - seconds(job["started_at"])
    host_row = page.locator(f'#resource-host-rows tr[data-host="{job["host"]}"]')
    expect(host_row).to_have_count(1)
    shown_samples = int(host_row.locator('[data-f="samples"]').inner_text())
    assert shown_samples >= 1
    assert shown_samples / max(run_seconds, 1e-9) >= 1 / 10, (shown_samples, run_seconds)
    expect(page.locator('[data-resource="cpu"] [data-f="value"]')).to_have_text(
        re.compile(r"^\d+%$")
    )
    expect(page.locator('[data-resource="cpu"] canvas')).to_have_attribute(
        "data-points", str(shown_samples)
    )

    # What the script printed, in the log panel, in order.
    messages = page.locator("#log-scroll .log__msg").all_inner_texts()
    printed = ["tuning tiny-bert on 48 reviews", final_line, "saved the model"]
    assert [m for m in messages if m in printed] == printed, messages[-10:]
