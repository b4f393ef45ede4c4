"""Samples and checkpoints from the client: `run.log_samples`, `run.checkpoint`, and the
Hugging Face callback generating from a tiny GPT-2 (built from a config, no download)."""

import json
import secrets
import subprocess
import sys

import pytest

from .live import REPO

RUN_SCRIPT = """
import sys, tuneboard
run = tuneboard.init(uid=sys.argv[1], name="samples by hand", system_metrics=False,
                     capture_console=False)
with run:
    for step in (10, 20):
        run.log_samples([{"prompt": "Say hi", "output": f"hi at {step}", "score": step / 10},
                         {"prompt": "Count", "output": "1 2 3", "reference": "1 2 3 4"}],
                        step=step)
    run.log_samples([{"prompt": "Say hi", "output": "a retry, ignored"}], step=10)
    run.log_samples([{"prompt": "x" * 70000, "output": "long prompt, cut"}], step=30)
    run.checkpoint(sys.argv[2], step=20, metrics={"val/loss": 0.5, "note": "skipped"})
"""


def test_log_samples_and_checkpoint_reach_the_server(server, client_env, tmp_path):
    uid = f"samples-run-{secrets.token_hex(3)}"
    checkpoint = tmp_path / "checkpoint-20"
    checkpoint.mkdir()
    (checkpoint / "model.bin").write_bytes(b"\0" * 1000)
    (checkpoint / "config.json").write_text("{}")
    result = subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT, uid, str(checkpoint)],
        cwd=REPO,
        env=client_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "cut to 65536 characters" in result.stderr

    page = server.get(f"/api/jobs/{uid}/samples")
    outputs = {(s["prompt"][:10], s["step"]): s["output"] for s in page["results"]}
    assert outputs[("Say hi", 10)] == "hi at 10"  # the re-send did not overwrite it
    assert outputs[("Count", 20)] == "1 2 3"
    assert len(page["results"]) == 5
    long = next(s for s in page["results"] if s["step"] == 30)
    assert len(long["prompt"]) == 65_536
    (stored,) = server.get(f"/api/jobs/{uid}/checkpoints")
    assert stored["step"] == 20 and stored["path"] == str(checkpoint)
    assert stored["size"] == 1002 and stored["metrics"] == {"val/loss": 0.5}


# Two trainings from the same seed, one sampling at each evaluation with do_sample=True
# (which draws from torch's random generator), one not: the train losses must match.
HF_SCRIPT = r"""
import json, sys
import torch
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import (GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast, Trainer,
                          TrainingArguments, set_seed)
import tuneboard
from tuneboard.integrations.huggingface import TuneboardCallback

texts = ["the cat sat on the mat", "a dog ran in the park", "the sun is warm today",
         "summarise the story of the cat", "birds sing in the morning light"] * 8
raw = Tokenizer(models.WordLevel(unk_token="[UNK]"))
raw.pre_tokenizer = pre_tokenizers.Whitespace()
specials = ["[UNK]", "[PAD]", "[EOS]"]
raw.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=specials))
tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]",
                                    eos_token="[EOS]")

def rows():
    out = []
    for text in texts:
        ids = tokenizer(text, padding="max_length", max_length=8, truncation=True)["input_ids"]
        out.append({"input_ids": torch.tensor(ids), "labels": torch.tensor(ids)})
    return out

def train(uid, out_dir, prompts):
    set_seed(0)
    config = GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=32, n_embd=16, n_layer=1,
                        n_head=2, pad_token_id=tokenizer.pad_token_id,
                        eos_token_id=tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config)  # dropout 0.1: training draws from the RNG
    args = TrainingArguments(output_dir=out_dir, max_steps=6, per_device_train_batch_size=4,
                             logging_steps=1, eval_strategy="steps", eval_steps=2,
                             save_strategy="steps", save_steps=3, report_to="none",
                             use_cpu=True, disable_tqdm=True, seed=0)
    run = tuneboard.init(uid=uid, name=uid, system_metrics=False, capture_console=False)
    callback = TuneboardCallback(run, sample_prompts=prompts,
                                 generate_kwargs={"max_new_tokens": 6, "do_sample": True,
                                                  "top_k": 10})
    trainer = Trainer(model=model, args=args, train_dataset=rows(), eval_dataset=rows()[:8],
                      processing_class=tokenizer, callbacks=[callback])
    trainer.train()
    run.finish()
    return [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]

prompts = ["the cat", {"prompt": "summarise the story", "reference": "the cat sat"}, "a dog"]
with_samples = train(sys.argv[1], sys.argv[3], prompts)
without = train(sys.argv[2], sys.argv[4], [])
print(json.dumps({"with": with_samples, "without": without}))
"""


def test_the_hf_callback_samples_at_each_evaluation_without_changing_the_training(
    server, client_env, tmp_path
):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    with_uid = f"hf-samples-{secrets.token_hex(3)}"
    without_uid = f"hf-plain-{secrets.token_hex(3)}"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            HF_SCRIPT,
            with_uid,
            without_uid,
            str(tmp_path / "a"),
            str(tmp_path / "b"),
        ],
        cwd=REPO,
        env={**client_env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    losses = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(losses["with"]) == 6
    # Sampling (even with do_sample) left the RNG and the training mode as they were.
    assert losses["with"] == losses["without"]

    samples = server.get(f"/api/jobs/{with_uid}/samples")["results"]
    assert sorted({s["step"] for s in samples}) == [2, 4, 6]
    by_step = {}
    for sample in samples:
        by_step.setdefault(sample["step"], set()).add(sample["prompt"])
    assert all(
        prompts == {"the cat", "summarise the story", "a dog"} for prompts in by_step.values()
    )
    summary = next(s for s in samples if s["prompt"] == "summarise the story")
    assert summary["reference"] == "the cat sat"
    assert server.get(f"/api/jobs/{without_uid}/samples")["results"] == []

    checkpoints = server.get(f"/api/jobs/{with_uid}/checkpoints")
    assert [c["step"] for c in checkpoints] == [3, 6]
    assert checkpoints[1]["path"] == str(tmp_path / "a" / "checkpoint-6")
    assert checkpoints[1]["size"] > 1000
    assert set(checkpoints[1]["metrics"]) >= {"val/loss"}  # evaluated at 6, then saved
    assert checkpoints[0]["metrics"] == {}  # no evaluation at step 3


LIGHTNING_SCRIPT = r"""
import sys
import torch
from torch.utils.data import DataLoader
import lightning.pytorch as pl
from lightning.pytorch.callbacks import ModelCheckpoint
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast
from tuneboard.integrations.lightning import TuneboardLogger, TuneboardSamples

texts = ["the cat sat on the mat", "a dog ran in the park", "the sun is warm today"] * 8
raw = Tokenizer(models.WordLevel(unk_token="[UNK]"))
raw.pre_tokenizer = pre_tokenizers.Whitespace()
raw.train_from_iterator(texts, trainers.WordLevelTrainer(special_tokens=["[UNK]", "[PAD]"]))
tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]")
ids = torch.tensor([tokenizer(t, padding="max_length", max_length=8)["input_ids"]
                    for t in texts])

class LM(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.model = GPT2LMHeadModel(GPT2Config(vocab_size=tokenizer.vocab_size, n_positions=16,
                                                n_embd=16, n_layer=1, n_head=2))
    def training_step(self, batch, batch_idx):
        loss = self.model(input_ids=batch, labels=batch).loss
        self.log("train/loss", loss)
        return loss
    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.model(input_ids=batch, labels=batch).loss)
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

torch.manual_seed(0)
loader = lambda: DataLoader(ids, batch_size=8)
checkpoints = ModelCheckpoint(dirpath=sys.argv[2], save_top_k=-1, every_n_epochs=1)
samples = TuneboardSamples(["the cat", {"prompt": "a dog", "reference": "ran in the park"}],
                           tokenizer, generate_kwargs={"max_new_tokens": 4})
trainer = pl.Trainer(logger=TuneboardLogger(uid=sys.argv[1], name="lightning samples"),
                     callbacks=[checkpoints, samples], max_epochs=2, log_every_n_steps=1,
                     accelerator="cpu", enable_model_summary=False, enable_progress_bar=False)
trainer.fit(LM(), loader(), loader())
"""


def test_lightning_samples_after_each_validation_and_reports_model_checkpoints(
    server, client_env, tmp_path
):
    pytest.importorskip("lightning")
    pytest.importorskip("transformers")
    uid = f"lightning-samples-{secrets.token_hex(3)}"
    result = subprocess.run(
        [sys.executable, "-c", LIGHTNING_SCRIPT, uid, str(tmp_path)],
        cwd=REPO,
        env={**client_env, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    samples = server.get(f"/api/jobs/{uid}/samples")["results"]
    assert sorted({(s["step"], s["prompt"]) for s in samples}) == [
        (3, "a dog"),
        (3, "the cat"),
        (6, "a dog"),
        (6, "the cat"),
    ]
    checkpoints = server.get(f"/api/jobs/{uid}/checkpoints")
    assert [c["step"] for c in checkpoints] == [3, 6]
    assert all(c["path"].startswith(str(tmp_path)) and c["size"] > 0 for c in checkpoints)
    assert "val/loss" in checkpoints[0]["metrics"]
