"""`TuneboardCallback`: report a Hugging Face `Trainer` run to Tuneboard.

    run = tuneboard.init(name="bert-sst2", model="bert-base-uncased", dataset="sst2")
    run.stage("dataset_loading"); ...; run.stage("dataset_loading", "completed")
    trainer = Trainer(..., callbacks=[TuneboardCallback(run)])
    with run:
        trainer.train()

Trainer events map to stages (training on train begin, validation around each
evaluation, save_model on each checkpoint), its logs to metrics (`loss` → `train/loss`,
`eval_loss` → `val/loss`, `eval_accuracy` → `val/accuracy`, `eval_f1` → `val/f1`, any
other number under its own name) and progress to `state.global_step / state.max_steps`.
Dataset loading and tokenization happen before the Trainer exists: mark them on the run.

Without a run, the callback makes one at train begin from the Trainer's arguments and
finishes it at train end. The Trainer has no exception event: run `trainer.train()`
inside `with run:` (or let the run's excepthook see the exception) to record failures;
`callback.fail(exc)` does it by hand.

`transformers` is imported only when this module is; `import tuneboard` never needs it.
"""

import math
import numbers

from ..run import init

try:
    from transformers import TrainerCallback
except ImportError:  # lets the module be imported (and read) without transformers
    TrainerCallback = object

__all__ = ["METRIC_NAMES", "TuneboardCallback"]

METRIC_NAMES = {
    "loss": "train/loss",
    "eval_loss": "val/loss",
    "eval_accuracy": "val/accuracy",
    "eval_f1": "val/f1",
}


def _config_of(args):
    """The Trainer's arguments as JSON-safe values, for the job's config panel."""
    try:
        raw = args.to_dict()
    except Exception:
        return {}
    config = {}
    for key, value in raw.items():
        if isinstance(value, bool | str) or value is None:
            config[key] = value
        elif isinstance(value, numbers.Real):
            config[key] = value if math.isfinite(value) else str(value)
        else:
            config[key] = str(value)
    return config


class TuneboardCallback(TrainerCallback):
    """A `transformers.TrainerCallback` that reports to a `tuneboard.Run`.

    `run`: an open run, which the callback leaves open at train end (the caller may
    still report saving the model). Without one, `init_options` (server, token, name,
    model, dataset, …) create a run at train begin that is finished at train end.
    """

    def __init__(self, run=None, **init_options):
        if TrainerCallback is object:
            raise ImportError("TuneboardCallback needs transformers: pip install transformers")
        self.run = run
        self.owns_run = run is None
        self.init_options = init_options
        self._evaluating = False

    # helpers ----------------------------------------------------------------------

    def _ensure_run(self, args, state, model=None):
        if self.run is None:
            options = dict(self.init_options)
            options.setdefault("name", args.run_name or args.output_dir or "trainer")
            if model is not None and "model" not in options:
                config = getattr(model, "config", None)
                options["model"] = (
                    getattr(config, "_name_or_path", "")
                    or getattr(config, "model_type", "")
                    or type(model).__name__
                )
            options.setdefault("config", _config_of(args))
            if state.max_steps:
                options.setdefault("total_steps", state.max_steps)
            if args.num_train_epochs:
                options.setdefault("total_epochs", args.num_train_epochs)
            self.run = init(**options)
        return self.run

    def _progress(self, state):
        if self.run is not None:
            self.run.progress(
                step=state.global_step,
                total_steps=state.max_steps or None,
                epoch=state.epoch,
            )

    def fail(self, exc=None, timeout=30.0):
        """Record a failure of the training (the Trainer has no event for it)."""
        if self.run is not None:
            self.run.fail(exc, timeout=timeout)

    # Trainer events ---------------------------------------------------------------

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero:
            return
        run = self._ensure_run(args, state, model)
        run.stage("training", "active")
        self._progress(state)

    def on_step_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._progress(state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or self.run is None or not logs:
            return
        metrics = {}
        for name, value in logs.items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                continue  # e.g. strings in the final summary
            metrics[METRIC_NAMES.get(name, name)] = float(value)
        if metrics:
            self.run.log(metrics, step=state.global_step, epoch=state.epoch)

    def on_prediction_step(self, args, state, control, **kwargs):
        if state.is_world_process_zero and self.run is not None and not self._evaluating:
            self._evaluating = True
            self.run.stage("validation", "active")

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or self.run is None:
            return
        if not self._evaluating:
            self.run.stage("validation", "active")
        self._evaluating = False
        self.run.stage("validation", "completed", message=f"step {state.global_step}")

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or self.run is None:
            return
        self.run.stage("save_model", "active", message=f"checkpoint-{state.global_step}")
        self.run.stage("save_model", "completed", message=f"checkpoint-{state.global_step}")

    def on_train_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or self.run is None:
            return
        self._progress(state)
        self.run.stage("training", "completed")
        if self.owns_run:
            self.run.finish()
