"""The framework integrations on the real libraries (CPU, tiny models built from a
config, nothing downloaded), each checked on the live server: keys, steps, stages,
status, log lines and resource samples."""

import secrets
import subprocess
import sys
import textwrap

from tests.support.frameworks import need

from .live import REPO

need("torch")


def run_script(client_env, source, *args):
    # One intra-op thread: on a small shared machine OpenMP threads spinning against
    # the server make a few steps take seconds.
    env = {**client_env, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(source), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def series(server, uid):
    rows = server.query(
        "SELECT p.key, p.step FROM jobs_metricpoint p JOIN jobs_job j ON j.id = p.job_id "
        "WHERE j.uid = ? ORDER BY p.key, p.step",
        uid,
    )
    out = {}
    for key, step in rows:
        out.setdefault(key, []).append(step)
    return out


def messages(server, uid):
    return [
        (level, message)
        for level, message in server.query(
            "SELECT l.level, l.message FROM jobs_logentry l JOIN jobs_job j "
            "ON j.id = l.job_id WHERE j.uid = ? ORDER BY l.seq",
            uid,
        )
    ]


def samples(server, uid):
    return server.get(f"/api/training/resources?job={uid}")["total"]


LIGHTNING_SCRIPT = """
import sys
import torch
from torch.utils.data import DataLoader, TensorDataset
import lightning.pytorch as pl
from tuneboard.integrations.lightning import TuneboardLogger

class Tiny(pl.LightningModule):
    def __init__(self, lr=0.05, hidden=8):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(),
                                       torch.nn.Linear(hidden, 2))
    def step(self, batch):
        x, y = batch
        return torch.nn.functional.cross_entropy(self.net(x), y)
    def training_step(self, batch, batch_idx):
        loss = self.step(batch)
        self.log("train/loss", loss)
        return loss
    def validation_step(self, batch, batch_idx):
        self.log("val/loss", self.step(batch))
    def test_step(self, batch, batch_idx):
        self.log("test/loss", self.step(batch))
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

torch.manual_seed(0)
data = TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
loader = lambda: DataLoader(data, batch_size=16)
logger = TuneboardLogger(uid=sys.argv[1], name="lightning tiny", dataset="random",
                         system_metrics_interval=0.5)
trainer = pl.Trainer(logger=logger, max_epochs=2, log_every_n_steps=1, accelerator="cpu",
                     default_root_dir=sys.argv[2], enable_model_summary=False)
model = Tiny()
trainer.fit(model, loader(), loader())
print("fit done")
trainer.validate(model, loader())
trainer.test(model, loader())
"""


def test_lightning_fit_validate_test(server, client_env, tmp_path):
    need("lightning")
    uid = f"lightning-{secrets.token_hex(3)}"
    run_script(client_env, LIGHTNING_SCRIPT, uid, str(tmp_path))

    job = server.get(f"/api/jobs/{uid}")
    assert job["status"] == "completed"
    assert job["name"] == "lightning tiny"
    assert job["config"] == {"lr": 0.05, "hidden": 8}  # the hyper-parameters
    stages = {stage["name"]: stage["status"] for stage in job["stages"]}
    assert stages["training"] == stages["validation"] == stages["save_model"] == "completed"
    keys = series(server, uid)
    assert len(keys["train/loss"]) == 8  # 2 epochs of 4 batches, logged every step
    assert len(keys["val/loss"]) >= 2  # after each epoch, then validate()
    assert keys["test/loss"] == [8]  # test() after fit, at the last step
    assert "epoch" not in keys  # the points' epoch, not a series
    lines = messages(server, uid)
    assert ("INFO", "fit done") in lines
    assert samples(server, uid) >= 1


ACCELERATE_SCRIPT = """
import sys
import torch
from accelerate import Accelerator
from tuneboard.integrations.accelerate import TuneboardTracker

torch.manual_seed(0)
tracker = TuneboardTracker(uid=sys.argv[1], name="accelerate loop", system_metrics_interval=0.5)
accelerator = Accelerator(cpu=True, log_with=tracker)
accelerator.init_trackers("accelerate-loop", config={"lr": 0.1, "steps": 6})
model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
model, optimizer = accelerator.prepare(model, optimizer)
for step in range(1, 7):
    x = torch.randn(8, 4)
    loss = (model(x) - x.sum(dim=1, keepdim=True)).pow(2).mean()
    accelerator.backward(loss)
    optimizer.step()
    optimizer.zero_grad()
    accelerator.log({"train/loss": loss.item(), "lr": 0.1, "phase": "warmup"}, step=step)
accelerator.print("loop done")
accelerator.end_training()
"""


def test_accelerate_loop(server, client_env):
    need("accelerate")
    uid = f"accelerate-{secrets.token_hex(3)}"
    run_script(client_env, ACCELERATE_SCRIPT, uid)

    job = server.get(f"/api/jobs/{uid}")
    assert job["status"] == "completed"
    assert job["config"] == {"lr": 0.1, "steps": 6}
    assert job["current_step"] == 6
    assert {stage["name"]: stage["status"] for stage in job["stages"]}["training"] == "completed"
    assert series(server, uid) == {"lr": [1, 2, 3, 4, 5, 6], "train/loss": [1, 2, 3, 4, 5, 6]}
    assert ("INFO", "loop done") in messages(server, uid)
    assert samples(server, uid) >= 1


HF_SCRIPT = """
import sys
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
from tuneboard.integrations.huggingface import TuneboardCallback

torch.manual_seed(0)
config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=16, num_labels=2)
rows = [{"input_ids": torch.randint(1, 50, (16,)), "labels": torch.tensor(i % 2)}
        for i in range(32)]
args = TrainingArguments(output_dir=sys.argv[2], max_steps=4, per_device_train_batch_size=8,
                         logging_steps=1, save_strategy="no", report_to="none", use_cpu=True,
                         disable_tqdm=True)
callback = TuneboardCallback(uid=sys.argv[1], name="hf lifecycle", dataset="random",
                             system_metrics_interval=0.5)
trainer = Trainer(model=BertForSequenceClassification(config), args=args, train_dataset=rows,
                  eval_dataset=rows[:16], callbacks=[callback])
trainer.train()
metrics = trainer.evaluate()
print(f"final eval loss {metrics['eval_loss']:.4f}")
trainer.save_model(sys.argv[2] + "/final")
"""


def test_hf_trainer_train_evaluate_save_model(server, client_env, tmp_path):
    need("transformers")
    uid = f"hf-lifecycle-{secrets.token_hex(3)}"
    run_script(client_env, HF_SCRIPT, uid, str(tmp_path))

    job = server.get(f"/api/jobs/{uid}")
    assert job["status"] == "completed"  # completed at exit, after evaluate and save
    stages = {stage["name"]: stage for stage in job["stages"]}
    assert stages["training"]["status"] == "completed"
    assert stages["validation"]["status"] == "completed"  # the evaluate() after train()
    assert stages["save_model"]["status"] == "completed"
    assert stages["save_model"]["message"].endswith("/final")
    keys = series(server, uid)
    assert keys["train/loss"] == [1, 2, 3, 4]
    assert keys["val/loss"] == [4]  # eval_loss → val/loss, at the final step
    assert keys["val/runtime"] == [4]  # eval_* → val/*
    for summary in ("train_runtime", "train_loss", "total_flos"):
        assert keys[summary] == [4], summary  # one point: the page's Summary table
    assert not [key for key in keys if key.startswith("eval_") or key == "epoch"]
    lines = messages(server, uid)
    assert any(message.startswith("final eval loss") for _, message in lines)
    assert samples(server, uid) >= 1
