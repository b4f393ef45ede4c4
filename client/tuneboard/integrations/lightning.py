"""`TuneboardLogger`: report a Lightning run to Tuneboard.

    from lightning.pytorch import Trainer
    from tuneboard.integrations.lightning import TuneboardLogger

    logger = TuneboardLogger(name="bert-sst2", model="bert-base-uncased", dataset="sst2")
    trainer = Trainer(logger=logger, max_epochs=3)
    trainer.fit(model, datamodule=data)
    trainer.validate(model, datamodule=data)   # still reported
    trainer.test(model, datamodule=data)

A real `lightning.pytorch.loggers.Logger`:

- hyper-parameters (`self.save_hyperparameters()`, the datamodule's) become the job's
  config, with `config=` given here on top; the job is created when Lightning first logs
  them (the start of fit/validate/test), so they are in it from the start;
- `log_metrics` → metric points at Lightning's step, with `epoch` as the points' epoch
  (keys as you named them in `self.log`: name them `train/loss`, `val/loss`, … for
  Tuneboard's standard charts);
- stages from the Trainer's hooks: training around fit, validation around each
  validation loop (the sanity check excepted) and around test, save_model for each
  checkpoint (`after_save_checkpoint`); progress from the global step;
- `finalize("failed")` (or the exception Lightning reports) fails the job with its
  traceback; after `finalize("success")` the job stays open, so a later `validate()` or
  `test()` is reported, and is completed when the process exits (or by
  `logger.finish()`). A run of your own (`TuneboardLogger(run)`) is yours to finish.

The hooks come from a small callback the logger adds to the Trainer it belongs to (it
finds it when Lightning first touches `logger.experiment`); `Trainer(callbacks=
[logger.callback])` does the same by hand. Only global rank 0 reports; in a multi-node
launch local rank 0 of the other nodes samples its node (see `tuneboard.init`).
Checkpoints that `ModelCheckpoint` saves are reported (`run.checkpoint`: path, step,
size on disk, the logged metrics at that moment). `TuneboardSamples` logs generations
on fixed prompts after each validation (see its docstring).
`lightning` is imported only when this module is.
"""

import os
import sys

from lightning.pytorch import Callback
from lightning.pytorch import Trainer as LightningTrainer
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_only

from ..environment import _distributed_uid, _json_safe, _uid_from_name
from ..launch import init
from .generation import generate_samples, prompt_of

__all__ = ["TuneboardLogger", "TuneboardSamples"]


class _LazyRun:
    """What `logger.experiment` returns: the run, created on first use (Lightning reads
    the property before it logs the hyper-parameters that belong in the job's config)."""

    def __init__(self, logger):
        self._logger = logger

    def __getattr__(self, name):
        run = self._logger._ensure_run()
        if run is None:
            raise AttributeError(f"no Tuneboard run on this rank ({name})")
        return getattr(run, name)


def _scalar_metrics(values):
    """`{key: float}` of the one-number values (tensors included) in `values`."""
    metrics = {}
    for key, value in dict(values or {}).items():
        try:
            if hasattr(value, "numel") and value.numel() != 1:
                continue
            metrics[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return metrics


class _StageCallback(Callback):
    """The Trainer hooks `TuneboardLogger` reports stages and progress from."""

    def __init__(self, logger):
        self.logger = logger
        self.trainer = None

    def setup(self, trainer, pl_module, stage):
        self.trainer = trainer

    def _stage(self, name, status, message=None):
        self.logger._with_run(lambda run: run.stage(name, status, message=message))

    def on_fit_start(self, trainer, pl_module):
        self.trainer = trainer
        self._stage("training", "active")

    def on_fit_end(self, trainer, pl_module):
        self._stage("training", "completed")

    def on_validation_start(self, trainer, pl_module):
        self.trainer = trainer
        if not trainer.sanity_checking:
            self._stage("validation", "active")

    def on_validation_end(self, trainer, pl_module):
        if not trainer.sanity_checking:
            self._stage("validation", "completed", f"step {trainer.global_step}")

    def on_test_start(self, trainer, pl_module):
        self._stage("validation", "active", "test")

    def on_test_end(self, trainer, pl_module):
        self._stage("validation", "completed", "test")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        run = self.logger._run
        if run is None:
            return
        total = trainer.max_steps if trainer.max_steps and trainer.max_steps > 0 else None
        if total is None:
            estimated = trainer.estimated_stepping_batches
            total = int(estimated) if estimated != float("inf") else None
        run.progress(step=trainer.global_step, total_steps=total, epoch=trainer.current_epoch)
        if run.should_stop:
            # Asked to stop from the job page: Lightning ends fit() after this batch; the
            # run then ends cancelled.
            trainer.should_stop = True

    def on_exception(self, trainer, pl_module, exception):
        run = self.logger._run
        if run is not None and self.logger.owns_run:
            run.fail(exception)


class TuneboardLogger(Logger):
    """A Lightning logger reporting to a `tuneboard.Run`.

    `run`: an open run to report to. Without one, `init_options` (server, token, name,
    model, dataset, config, tags, uid, any `tuneboard.init` option) create one.
    """

    def __init__(self, run=None, **init_options):
        super().__init__()
        self._run = run
        self.owns_run = run is None
        self.init_options = init_options
        self._pending = []
        self.callback = _StageCallback(self)
        # The uid is known before the job is created: Lightning names checkpoint folders
        # after `version` before it logs the hyper-parameters the job is created with.
        name = init_options.get("name") or "lightning"
        self._uid = (
            run.uid
            if run is not None
            else init_options.get("uid")
            or os.environ.get("TUNEBOARD_RUN_ID")
            or _distributed_uid(name, os.environ)
            or _uid_from_name(name)
        )

    # the Logger interface ----------------------------------------------------------

    @property
    def name(self):
        return self.init_options.get("name") or "tuneboard"

    @property
    def version(self):
        return self._uid

    @property
    def save_dir(self):
        return None

    @property
    def experiment(self):
        self._attach_to_trainer()
        return self._run if self._run is not None else _LazyRun(self)

    def log_hyperparams(self, params, *args, **kwargs):
        from lightning.fabric.utilities.logger import (
            _convert_params,
            _flatten_dict,
            _sanitize_callable_params,
        )

        params = _sanitize_callable_params(_flatten_dict(_convert_params(params)))
        if self._run is None:
            config = {**_json_safe(params), **dict(self.init_options.get("config") or {})}
            self._ensure_run(config=config)

    def log_metrics(self, metrics, step=None):
        run = self._ensure_run()
        if run is None:
            return
        metrics = dict(metrics)
        epoch = metrics.pop("epoch", None)
        values = {}
        for key, value in metrics.items():
            try:
                values[key] = float(value)
            except (TypeError, ValueError):
                continue
        run.log(values, step=step, epoch=epoch)

    def after_save_checkpoint(self, checkpoint_callback):
        # The file this save wrote (ModelCheckpoint keeps it privately), else the last.
        path = (
            getattr(checkpoint_callback, "_last_checkpoint_saved", "")
            or getattr(checkpoint_callback, "last_model_path", "")
            or getattr(checkpoint_callback, "best_model_path", "")
        )
        message = os.path.basename(path) if path else None
        trainer = self.callback.trainer
        step = trainer.global_step if trainer is not None else None
        metrics = _scalar_metrics(trainer.callback_metrics) if trainer is not None else {}

        def report(run):
            run.stage("save_model", "active", message=message)
            run.stage("save_model", "completed", message=message)
            if path:
                run.checkpoint(path, step=step, metrics=metrics)

        self._with_run(report)

    def finalize(self, status):
        run = self._run
        if run is None or not self.owns_run:
            return
        if status == "failed":
            run.fail(sys.exc_info()[1])
        # Otherwise kept open: a later validate()/test() is reported; completed at exit.

    def finish(self):
        """Complete the job now (otherwise it is completed when the process exits)."""
        if self._run is not None:
            self._run.finish()

    # internals -------------------------------------------------------------------------

    def _ensure_run(self, config=None):
        if self._run is None:
            if getattr(rank_zero_only, "rank", 0) != 0 and "RANK" not in os.environ:
                return None  # a Lightning-spawned rank: rank 0 reports
            options = dict(self.init_options)
            options.setdefault("name", "lightning")
            options["uid"] = self._uid
            if config is not None:
                options["config"] = config
            self._run = init(**options)
            self._run.finish_at_exit = True
            pending, self._pending = self._pending, []
            for action in pending:
                action(self._run)
        return self._run

    def _with_run(self, action):
        """Run `action(run)` now, or once the run exists (a stage reported by a hook that
        comes before Lightning logs the hyper-parameters)."""
        if self._run is not None:
            action(self._run)
        else:
            self._pending.append(action)

    def _attach_to_trainer(self):
        """Add the stage callback to the Trainer this logger belongs to: the caller that
        reads `experiment` (Lightning's setup) holds it."""
        frame = sys._getframe(2)
        for _ in range(12):
            if frame is None:
                return
            for candidate in (frame.f_locals.get("trainer"), frame.f_locals.get("self")):
                if isinstance(candidate, LightningTrainer) and self in candidate.loggers:
                    if self.callback not in candidate.callbacks:
                        candidate.callbacks.append(self.callback)
                    return
            frame = frame.f_back


class TuneboardSamples(Callback):
    """Generates from the model under training on fixed prompts after each validation
    (the sanity check excepted) and logs them to the job (`run.log_samples`).

        trainer = Trainer(logger=TuneboardLogger(...),
                          callbacks=[TuneboardSamples(["Summarise: …"], tokenizer)])

    `prompts`: strings or `{"prompt", "reference"}`; `tokenizer`: a Hugging Face style
    tokenizer; the model is `pl_module.model` when it has `generate` (a wrapped
    Hugging Face model), else `pl_module`. Greedy unless `generate_kwargs` says
    otherwise; eval mode, `torch.no_grad()`, then the training mode and the random
    generators restored. `score(prompt, output, reference)` may score each output.
    `run`: the run to log to; default: the Trainer's `TuneboardLogger`'s.
    """

    def __init__(self, prompts, tokenizer, generate_kwargs=None, score=None, run=None):
        self.prompts = [prompt_of(p) for p in prompts]
        self.tokenizer = tokenizer
        self.generate_kwargs = dict(generate_kwargs or {})
        self.score = score
        self.run = run
        self._done = set()

    def _run_of(self, trainer):
        if self.run is not None:
            return self.run
        for logger in trainer.loggers:
            if isinstance(logger, TuneboardLogger):
                return logger._ensure_run()
        return None

    def on_validation_end(self, trainer, pl_module):
        if trainer.sanity_checking or not trainer.is_global_zero or not self.prompts:
            return
        step = trainer.global_step
        run = self._run_of(trainer)
        if run is None or step in self._done:
            return
        self._done.add(step)
        inner = getattr(pl_module, "model", None)
        model = inner if hasattr(inner, "generate") else pl_module
        outputs = generate_samples(model, self.tokenizer, self.prompts, self.generate_kwargs)
        samples = []
        for (prompt, reference), output in zip(self.prompts, outputs, strict=True):
            sample = {"prompt": prompt, "output": output}
            if reference is not None:
                sample["reference"] = reference
            if self.score is not None:
                try:
                    sample["score"] = float(self.score(prompt, output, reference))
                except Exception as exc:  # a scorer's bug must not stop the training
                    run._warn_once(("samples", "score"), f"score failed: {exc!r}")
            samples.append(sample)
        run.log_samples(samples, step=step)
