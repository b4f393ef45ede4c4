"""Frameworks' own MLflow integrations reporting to Tuneboard, unchanged: the Hugging Face
Trainer with `report_to=["mlflow"]` and Lightning's `MLFlowLogger` (tiny random-init
models, CPU, a few steps)."""

import os
import subprocess
import sys

import pytest
from mlflow import MlflowClient

from tests.support.server import ROOT

pytest.importorskip("torch")

HF_SCRIPT = """
import sys
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

torch.manual_seed(0)
config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=16, num_labels=2)
rows = [{"input_ids": torch.randint(1, 50, (16,)), "labels": torch.tensor(i % 2)}
        for i in range(64)]
args = TrainingArguments(output_dir=sys.argv[1], max_steps=6, per_device_train_batch_size=8,
                         logging_steps=1, save_strategy="no", report_to=["mlflow"],
                         run_name="hf-mlflow-run", use_cpu=True, disable_tqdm=True,
                         learning_rate=3e-4)
Trainer(model=BertForSequenceClassification(config), args=args, train_dataset=rows).train()
"""

LIGHTNING_SCRIPT = """
import sys
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning as L
from lightning.pytorch.loggers import MLFlowLogger

class Tiny(L.LightningModule):
    def __init__(self, lr=0.01, hidden=8):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    def training_step(self, batch, _):
        x, y = batch
        loss = nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss
    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

torch.manual_seed(0)
data = DataLoader(TensorDataset(torch.randn(64, 4), torch.randn(64, 1)), batch_size=8)
logger = MLFlowLogger(experiment_name="lightning-mlflow", run_name="lightning-run")
trainer = L.Trainer(max_epochs=2, logger=logger, log_every_n_steps=1, enable_checkpointing=False,
                    enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                    default_root_dir=sys.argv[1])
trainer.fit(Tiny(), data)
"""


def run_script(script, env, tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, **env, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def only_run(env, experiment_name):
    client = MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name(experiment_name)
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    return client, run


def test_the_hf_trainer_reports_through_its_mlflow_callback(mlflow_env, tuneboard, tmp_path):
    env = {**mlflow_env, "MLFLOW_EXPERIMENT_NAME": "hf-mlflow"}
    run_script(HF_SCRIPT, env, tmp_path)
    client, run = only_run(mlflow_env, "hf-mlflow")
    assert run.info.status == "FINISHED" and run.info.run_name == "hf-mlflow-run"
    assert run.data.params["learning_rate"] == "0.0003"
    assert run.data.params["max_steps"] == "6"
    losses = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in losses] == [1, 2, 3, 4, 5, 6]
    job = tuneboard.get(f"/api/jobs/{run.info.run_id}")
    assert job["status"] == "completed" and job["source"] == "mlflow"
    assert job["current_step"] == 6


def test_lightnings_mlflow_logger_reports_hyperparameters_and_metrics(
    mlflow_env, tuneboard, tmp_path
):
    run_script(LIGHTNING_SCRIPT, mlflow_env, tmp_path)
    client, run = only_run(mlflow_env, "lightning-mlflow")
    assert run.info.status == "FINISHED"
    assert run.data.params["lr"] == "0.01" and run.data.params["hidden"] == "8"
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert len(history) == 16  # 8 batches × 2 epochs, logged every step
    job = tuneboard.get(f"/api/jobs/{run.info.run_id}")
    assert job["status"] == "completed" and job["name"] == "lightning-run"
    assert job["config"]["lr"] == "0.01"
