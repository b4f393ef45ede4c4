"""`TuneboardCallback`: report a Hugging Face `Trainer` run to Tuneboard.

    trainer = Trainer(..., callbacks=[TuneboardCallback(name="bert-sst2",
                                                        model="bert-base-uncased",
                                                        dataset="sst2")])
    trainer.train()
    trainer.evaluate()          # still reported: validation stage, val/* metrics
    trainer.save_model("out")   # save_model stage

Without a run, the callback creates one when the Trainer is built (from its arguments
and `init_options`) and keeps it open until the process exits, when it is completed —
so `evaluate()`, `predict()` and `save_model()` after `train()` are reported — or until
`callback.run.finish()`. A script that dies fails it (the client's excepthook). With a
run of your own (`TuneboardCallback(run)`), the run is yours to finish (`with run:`).

Trainer events map to stages: training on train begin/end, validation around each
evaluation and prediction, save_model on each checkpoint and on `trainer.save_model()`.
Metric names are mapped (`METRIC_NAMES`, `metric_name`): `loss` → `train/loss`,
`eval_*` → `val/*` (`eval_loss` → `val/loss`, `eval_runtime` → `val/runtime`),
`test_*` (from `predict()`) → `test/*`; the end-of-training values (`train_runtime`,
`train_loss`, `train_samples_per_second`, `total_flos`, …) go to `run.summary()`;
`epoch` is the points' epoch, not a series; anything else keeps its name. Progress comes
from `state.global_step / state.max_steps`. Dataset loading and tokenization happen
before the Trainer exists: mark them on a run of your own if you want those stages.

Samples and checkpoints: `TuneboardCallback(sample_prompts=["Summarise: …", …],
generate_kwargs={"max_new_tokens": 64}, every="eval")` generates from the model under
training on those fixed prompts at each evaluation (or every N steps with `every=N`)
and logs them with `run.log_samples`: greedy unless `generate_kwargs` says otherwise, in
eval mode under `torch.no_grad()`, then the training mode and the random number
generators are restored, so training goes on exactly as it would have without
sampling. A prompt may be a dict `{"prompt", "reference"}`; `sample_score(prompt,
output, reference)` may score each output. The tokenizer is the Trainer's
`processing_class` unless `tokenizer=` is given. Each checkpoint the Trainer saves
(`on_save`) is reported with `run.checkpoint`: its path, its size on disk and the
evaluation metrics logged at its step (as `val/*`). Generation runs on the main process
only, so it suits data-parallel training, not sharded models (FSDP, ZeRO-3).

`transformers` is imported only when this module is; `import tuneboard` never needs it.
"""

import functools
import math
import numbers
import os

from ..launch import init
from .generation import generate_samples, prompt_of

try:
    from transformers import Trainer, TrainerCallback
    from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR
except ImportError:  # lets the module be imported (and read) without transformers
    Trainer = None
    TrainerCallback = object
    PREFIX_CHECKPOINT_DIR = "checkpoint"

__all__ = ["METRIC_NAMES", "TuneboardCallback", "generate_samples", "metric_name"]

METRIC_NAMES = {
    "loss": "train/loss",
    "eval_loss": "val/loss",
    "eval_accuracy": "val/accuracy",
    "eval_f1": "val/f1",
}
SUMMARY_NAMES = {"total_flos"}


def metric_name(name):
    """`(key, is_summary)` for a number the Trainer logged under `name`, or None for
    one that is not a series of its own (`epoch`)."""
    if name in METRIC_NAMES:
        return METRIC_NAMES[name], False
    if name == "epoch":
        return None
    if name.startswith("eval_"):
        return "val/" + name[len("eval_") :], False
    if name.startswith("test_"):
        return "test/" + name[len("test_") :], False
    if name.startswith("train_") or name in SUMMARY_NAMES:
        return name, True
    return name, False


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

    `run`: an open run, which the callback never finishes (the caller does). Without
    one, `init_options` (server, token, name, model, dataset, …, any `tuneboard.init`
    option) create a run at train begin, kept open until the process exits (then
    completed) or `callback.run.finish()`.
    """

    def __init__(
        self,
        run=None,
        *,
        sample_prompts=None,
        generate_kwargs=None,
        every="eval",
        tokenizer=None,
        sample_score=None,
        **init_options,
    ):
        if TrainerCallback is object:
            raise ImportError("TuneboardCallback needs transformers: pip install transformers")
        if every != "eval" and not (isinstance(every, int) and every > 0):
            raise ValueError('every: "eval" or a number of steps')
        self.run = run
        self.owns_run = run is None
        self.init_options = init_options
        self.sample_prompts = [prompt_of(p) for p in (sample_prompts or [])]
        self.generate_kwargs = dict(generate_kwargs or {})
        self.every = every
        self.tokenizer = tokenizer
        self.sample_score = sample_score
        self._sampled_steps = set()
        self._evaluating = False
        _report_save_model()

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
            total_steps = state.max_steps or (args.max_steps if args.max_steps > 0 else 0)
            if total_steps:
                options.setdefault("total_steps", total_steps)
            if args.num_train_epochs:
                options.setdefault("total_epochs", args.num_train_epochs)
            self.run = init(**options)
            # Kept open after train(): evaluate(), predict() and save_model() still
            # report; the process's exit completes it.
            self.run.finish_at_exit = True
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

    def on_init_end(self, args, state, control, model=None, **kwargs):
        # The run starts with the Trainer, so what the script prints between building it
        # and train() (dataset sizes, a baseline evaluate()) is captured too.
        self._ensure_run(args, state, model)

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        # Every process makes its run: on other nodes' local rank 0 it samples the node.
        run = self._ensure_run(args, state, model)
        if not state.is_world_process_zero:
            return
        run.stage("training", "active")
        self._progress(state)

    def on_step_end(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._progress(state)
            if self.run is not None and self.run.should_stop:
                # Asked to stop from the job page: the Trainer leaves its loop after this
                # step (saving first when it saves at all); the run then ends cancelled.
                control.should_training_stop = True
                if getattr(args, "save_strategy", "no") not in ("no", None):
                    control.should_save = True
            if isinstance(self.every, int) and state.global_step % self.every == 0:
                self._sample(state, kwargs)

    def _log_numbers(self, state, values):
        metrics, summary = {}, {}
        for name, value in (values or {}).items():
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                continue  # e.g. strings in the final summary
            mapped = metric_name(name)
            if mapped is None:
                continue
            key, is_summary = mapped
            (summary if is_summary else metrics)[key] = float(value)
        if metrics:
            self.run.log(metrics, step=state.global_step, epoch=state.epoch)
        if summary:
            self.run.summary(summary)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or self.run is None or not logs:
            return
        self._log_numbers(state, logs)

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
        if self.every == "eval":
            self._sample(state, kwargs)

    def on_predict(self, args, state, control, metrics=None, **kwargs):
        if not state.is_world_process_zero or self.run is None:
            return
        self._log_numbers(state, metrics)  # test_* → test/*
        if self._evaluating:
            self._evaluating = False
            self.run.stage("validation", "completed", message="predict")

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or self.run is None:
            return
        self.run.stage("save_model", "active", message=f"checkpoint-{state.global_step}")
        self.run.stage("save_model", "completed", message=f"checkpoint-{state.global_step}")
        path = os.path.join(args.output_dir, f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}")
        self.run.checkpoint(path, step=state.global_step, metrics=_eval_metrics_at(state))

    # samples ----------------------------------------------------------------------

    def _sample(self, state, event_kwargs):
        """Generate on the fixed prompts from the model under training and log them."""
        if self.run is None or not self.sample_prompts or not self.run.reporting:
            return
        if state.global_step in self._sampled_steps:
            return  # evaluate() right after training: this step is already logged
        model = event_kwargs.get("model")
        tokenizer = self.tokenizer or event_kwargs.get("processing_class")
        tokenizer = getattr(tokenizer, "tokenizer", tokenizer)  # a processor's tokenizer
        if model is None or tokenizer is None or not hasattr(model, "generate"):
            self.run._warn_once(
                ("samples", "tokenizer"),
                "sample_prompts need a model that can generate and a tokenizer "
                "(Trainer(processing_class=…) or TuneboardCallback(tokenizer=…))",
            )
            return
        self._sampled_steps.add(state.global_step)
        outputs = generate_samples(model, tokenizer, self.sample_prompts, self.generate_kwargs)
        samples = []
        for (prompt, reference), output in zip(self.sample_prompts, outputs, strict=True):
            sample = {"prompt": prompt, "output": output}
            if reference is not None:
                sample["reference"] = reference
            if self.sample_score is not None:
                try:
                    sample["score"] = float(self.sample_score(prompt, output, reference))
                except Exception as exc:  # a scorer's bug must not stop the training
                    self.run._warn_once(("samples", "score"), f"sample_score failed: {exc!r}")
            samples.append(sample)
        self.run.log_samples(samples, step=state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        if not state.is_world_process_zero or self.run is None:
            return
        self._progress(state)
        self.run.stage("training", "completed")


def _eval_metrics_at(state):
    """The evaluation metrics logged at the current step, under Tuneboard's names."""
    metrics = {}
    for entry in state.log_history:
        if entry.get("step") != state.global_step:
            continue
        for name, value in entry.items():
            if not name.startswith("eval_") or isinstance(value, bool):
                continue
            if isinstance(value, numbers.Real):
                metrics[metric_name(name)[0]] = float(value)
    return metrics


def _report_save_model():
    """Wrap `Trainer.save_model` once: the Trainer has no event for a save the script
    asks for, so a Trainer with a `TuneboardCallback` reports it as the save_model stage
    (checkpoints, saved by the Trainer itself, come through `on_save`)."""
    if Trainer is None or getattr(Trainer.save_model, "_tuneboard", False):
        return
    original = Trainer.save_model

    @functools.wraps(original)
    def save_model(self, output_dir=None, _internal_call=False):
        runs = []
        if not _internal_call and self.is_world_process_zero():
            for callback in self.callback_handler.callbacks:
                run = (
                    getattr(callback, "run", None)
                    if isinstance(callback, TuneboardCallback)
                    else None
                )
                if run is not None and run.reporting and "save_model" not in run._active_stages:
                    runs.append(run)
        target = str(output_dir or self.args.output_dir)
        for run in runs:
            run.stage("save_model", "active", message=target)
        try:
            result = original(self, output_dir, _internal_call)
        except BaseException:
            for run in runs:
                run.stage("save_model", "failed", message=target)
            raise
        for run in runs:
            run.stage("save_model", "completed", message=target)
        return result

    save_model._tuneboard = True
    Trainer.save_model = save_model
