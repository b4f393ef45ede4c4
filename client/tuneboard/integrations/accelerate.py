"""`TuneboardTracker`: report a training loop run with 🤗 Accelerate to Tuneboard.

    from accelerate import Accelerator
    from tuneboard.integrations.accelerate import TuneboardTracker

    accelerator = Accelerator(log_with=TuneboardTracker(name="llama-lora", model="llama-3-8b"))
    accelerator.init_trackers("llama-lora", config={"lr": 2e-4})
    for step, batch in enumerate(loader, start=1):
        ...
        accelerator.log({"train/loss": loss.item()}, step=step)
    accelerator.end_training()   # completes the job

An Accelerate `GeneralTracker` (name "tuneboard"). `init_trackers(config=…)` becomes the
job's config (the job is created then, or at the first `log` without it); each
`accelerator.log(values, step=…)` queues the numbers as metric points at that step and
reports progress (strings are skipped); the training stage is active from the first
log until `end_training()`, which finishes the job. Without `end_training()`, the job
is completed when the process exits, and an uncaught exception fails it.

`main_process_only` is False so that every process has a tracker: `tuneboard.init`
then reports from global rank 0 only and samples each other node from its local rank 0
(see `tuneboard.init`). `accelerate` is imported only when this module is.
"""

from accelerate.tracking import GeneralTracker

from ..environment import _json_safe
from ..launch import init

__all__ = ["TuneboardTracker"]


class TuneboardTracker(GeneralTracker):
    """`Accelerator(log_with=TuneboardTracker(...))`.

    `run`: an open run to report to (yours to finish). Without one, `init_options`
    (server, token, name, model, dataset, config, tags, uid, any `tuneboard.init` option)
    create one.
    """

    name = "tuneboard"
    requires_logging_directory = False
    main_process_only = False

    def __init__(self, run=None, **init_options):
        super().__init__()
        self._run = run
        self.owns_run = run is None
        self.init_options = init_options
        self._training = False

    @property
    def tracker(self):
        return self._ensure_run()

    @property
    def run(self):
        return self._run

    def store_init_configuration(self, values):
        if self._run is None:
            config = {
                **_json_safe(dict(values or {})),
                **dict(self.init_options.get("config") or {}),
            }
            self._ensure_run(config=config)

    def log(self, values, step=None, **kwargs):
        run = self._ensure_run()
        if not self._training:
            self._training = True
            run.stage("training", "active")
        numbers = {}
        for key, value in values.items():
            if isinstance(value, str | bool):
                continue
            try:
                numbers[key] = float(value)
            except (TypeError, ValueError):
                continue
        run.log(numbers, step=step)
        if step is not None:
            run.progress(step=step)

    def finish(self):
        if self._run is not None and self.owns_run:
            self._run.finish()

    def _ensure_run(self, config=None):
        if self._run is None:
            options = dict(self.init_options)
            options.setdefault("name", "accelerate")
            if config is not None:
                options["config"] = config
            self._run = init(**options)
            self._run.finish_at_exit = True
        return self._run
