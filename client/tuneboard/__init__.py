"""Tuneboard client: report a fine-tuning job's metrics, logs, stages and outcome.

    import tuneboard

    with tuneboard.init(name="bert-sst2", model="bert-base", dataset="sst2") as run:
        run.stage("training", "active")
        run.log({"train/loss": 0.42}, step=120, epoch=0.3)

Standard library only; `log` queues and returns in microseconds, a background thread
delivers (see `tuneboard.transport`).
"""

from .launch import init
from .run import STAGES, LogHandler, Run, StopRequested

__all__ = ["STAGES", "LogHandler", "Run", "StopRequested", "__version__", "init"]
__version__ = "0.1.0"
