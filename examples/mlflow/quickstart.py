"""An ordinary MLflow script: nothing in it knows Tuneboard.

Point it at Tuneboard with two environment variables and it reports there live:

    MLFLOW_TRACKING_URI=http://localhost:8000 MLFLOW_TRACKING_TOKEN=tb_… \
        python examples/mlflow/quickstart.py

Options (environment): QUICKSTART_STEPS (default 50), QUICKSTART_DELAY seconds between
steps (default 0.1), QUICKSTART_EXPERIMENT (default "mlflow-quickstart").
"""

import math
import os
import random
import time

import mlflow

steps = int(os.environ.get("QUICKSTART_STEPS", "50"))
delay = float(os.environ.get("QUICKSTART_DELAY", "0.1"))
mlflow.set_experiment(os.environ.get("QUICKSTART_EXPERIMENT", "mlflow-quickstart"))

with mlflow.start_run(run_name="quickstart") as run:
    mlflow.log_params(
        {
            "model_name_or_path": "Qwen/Qwen2.5-0.5B",
            "dataset_name": "tatsu-lab/alpaca",
            "learning_rate": 2e-4,
            "lora_r": 16,
            "max_steps": steps,
        }
    )
    mlflow.set_tags({"method": "lora", "team": "nlp"})
    for step in range(1, steps + 1):
        loss = 2.5 * math.exp(-step / (steps / 3)) + 0.1 * random.random()
        mlflow.log_metrics({"train/loss": loss, "learning_rate": 2e-4 * (1 - step / steps)}, step)
        if step % 10 == 0:
            mlflow.log_metric("val/loss", loss * 1.1, step=step)
        time.sleep(delay)
    print(f"run_id={run.info.run_id}")
