"""Realistic, deterministic training history for demo jobs.

The curves follow what fine-tuning runs look like: train loss that warms up and then
decays exponentially with noise, a validation loss a little above it, accuracy and F1
rising towards a ceiling, a warm-up + cosine/linear learning-rate schedule, gradient
norms that settle. Everything is written through the service functions.
"""

import math
import random
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from jobs import services
from jobs.models import JobStatus, StageStatus
from monitoring.services import resource_samples_ingest

from . import generations

GIB = 1024**3
POINT_BATCH = 10_000


def job_rng(seed, uid):
    return random.Random(seed * 1_000_003 + zlib.crc32(uid.encode()))


def learning_rate(config, step, total):
    peak = float(config.get("learning_rate", 2e-4))
    warmup = int(total * float(config.get("warmup_ratio", 0.03) or 0))
    if warmup and step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    if config.get("lr_scheduler_type") == "cosine":
        return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return peak * max(0.0, 1 - progress)


class Curves:
    """Loss/accuracy curves of one job, pinned to its final metrics when it has them."""

    def __init__(self, rng, total_steps, final=None):
        final = final or {}
        self.rng = rng
        self.total = max(1, total_steps)
        self.start_loss = rng.uniform(2.2, 3.4)
        self.final_train = float(final.get("train/loss", rng.uniform(0.35, 0.9)))
        self.final_val = float(final.get("val/loss", self.final_train * rng.uniform(1.05, 1.25)))
        self.final_acc = float(final.get("val/accuracy", rng.uniform(0.72, 0.9)))
        self.final_f1 = float(final.get("val/f1", self.final_acc - rng.uniform(0.0, 0.03)))
        self.rate = rng.uniform(4.0, 6.0)

    def _decay(self, step):
        t = step / self.total
        return math.exp(-self.rate * t) - math.exp(-self.rate)

    def train_loss(self, step):
        shape = self._decay(step) / (1 - math.exp(-self.rate))
        base = self.final_train + (self.start_loss - self.final_train) * shape
        warm = 0.15 * math.exp(-(((step / self.total) / 0.02) ** 2))
        return max(1e-4, base + warm + self.rng.gauss(0, 0.04 * base))

    def val_loss(self, step):
        shape = self._decay(step) / (1 - math.exp(-self.rate))
        return self.final_val + (self.start_loss * 1.05 - self.final_val) * shape

    def accuracy(self, step, final):
        shape = self._decay(step) / (1 - math.exp(-self.rate))
        return max(0.0, final - (final - 0.3) * shape + self.rng.gauss(0, 0.004))


def _stage_windows(job):
    return {s.name: s for s in job.stages.all()}


def _time_at(window_start, window_end, fraction):
    return window_start + (window_end - window_start) * min(1.0, max(0.0, fraction))


class _History:
    """The metric points and log lines generated for one job, in the order made."""

    def __init__(self):
        self.points = []
        self.lines = []
        self.evaluations = []  # (time, step, {val key: value}): samples and checkpoints

    def log(self, time, level, message):
        self.lines.append(
            {"seq": len(self.lines), "time": time.isoformat(), "level": level, "message": message}
        )

    def record(self, time, step, epoch, values):
        for key, value in values:
            self.points.append(
                {"key": key, "step": step, "value": value, "epoch": epoch, "time": time.isoformat()}
            )


@dataclass
class _Training:
    """How the generated training stage runs: its steps, intervals and time window."""

    total: int
    last_step: int
    log_every: int
    eval_every: int
    steps_per_epoch: float
    t_start: datetime
    t_end: datetime
    span_end: float
    nan_failure: bool
    diverge_from: int | None


def job_history_generate(*, job, seed, final_metrics=None):
    """Replace a job's history with generated points, logs and resource samples.

    Failed jobs stop at their failure step; completed jobs end exactly at their
    `final_metrics`. Returns `(points, lines, samples)` counts.
    """
    services.job_history_clear(job=job)
    if job.status == JobStatus.QUEUED or not job.started_at:
        return 0, 0, 0
    rng = job_rng(seed, job.uid)
    stages = _stage_windows(job)
    now = timezone.now()
    total = job.total_steps or 1000
    last_step = _last_training_step(job, stages["training"], total)
    curves = Curves(rng, total, final_metrics if job.status != JobStatus.RUNNING else None)
    history = _History()
    _preparation_logs(history, job, stages, rng)
    if last_step > 0:
        training = _training_plan(job, stages["training"], total, last_step, now)
        _training_history(history, job, training, curves, rng)
    _closing_logs(history, job, stages)
    samples = _resource_history(job, stages, rng, now)
    _history_store(job, history, samples)
    generations.evaluations_store(job, history.evaluations, seed=seed, total=total)
    return len(history.points), len(history.lines), len(samples)


def _last_training_step(job, training, total):
    """The last step the job logged: where it failed, the end, or where it is now."""
    if training.status == StageStatus.PENDING or not training.started_at:
        return 0
    if job.status == JobStatus.FAILED and job.error_stage == "training":
        return job.error_step or job.current_step
    if job.status == JobStatus.COMPLETED or job.error_stage in ("validation", "save_model"):
        return total
    return job.current_step


def _preparation_logs(history, job, stages, rng):
    """Log lines of the stages before training: loading the dataset, tokenizing."""
    config = job.config or {}
    log = history.log
    log(job.started_at, "INFO", f"Tuneboard run {job.uid} on host {job.host or 'unknown'}")
    log(job.started_at, "INFO", f"Loading dataset {job.dataset}")
    ds = stages["dataset_loading"]
    if ds.finished_at and ds.status == StageStatus.COMPLETED:
        rows = rng.randint(8, 400) * 1000
        log(
            ds.finished_at,
            "INFO",
            f"Dataset loaded: {rows:,} train rows, {rows // 20:,} validation rows",
        )
    tok = stages["tokenization"]
    if tok.started_at:
        log(tok.started_at, "INFO", f"Loading tokenizer for {job.base_model}")
        log(
            tok.started_at,
            "INFO",
            f"Tokenizing with max_seq_length={config.get('max_seq_length', 512)}",
        )
    if tok.finished_at and tok.status == StageStatus.COMPLETED:
        log(tok.finished_at, "INFO", "Tokenization done; 3.8% of samples truncated")


def _training_plan(job, training, total, last_step, now):
    config = job.config or {}
    nan_failure = "nan" in (job.error_message or "").lower()
    return _Training(
        total=total,
        last_step=last_step,
        log_every=int(config.get("logging_steps", 10)) or 10,
        eval_every=int(config.get("eval_steps", max(1, total // 20))) or max(1, total // 20),
        steps_per_epoch=total / float(job.total_epochs or 1),
        t_start=training.started_at,
        t_end=training.finished_at or now,
        span_end=last_step / total if job.status == JobStatus.RUNNING else 1.0,
        nan_failure=nan_failure,
        # A NaN failure: the loss blows up over the last 15% of steps before it turns NaN.
        diverge_from=int(last_step * 0.85) if nan_failure else None,
    )


def _training_history(history, job, training, curves, rng):
    """Train and eval points of every logged step, with the trainer's log lines."""
    config = job.config or {}
    trainable = rng.uniform(0.1, 1.2)
    history.log(
        training.t_start,
        "INFO",
        f"***** Running training *****  Num epochs = {job.total_epochs or 1}, "
        f"Total optimization steps = {training.total:,}, trainable params {trainable:.2f}%",
    )
    if config.get("gradient_checkpointing"):
        history.log(
            training.t_start,
            "WARNING",
            "`use_cache=True` is incompatible with gradient checkpointing. "
            "Setting `use_cache=False`.",
        )
    last_step = training.last_step
    steps = list(range(training.log_every, last_step + 1, training.log_every))
    if not steps or steps[-1] != last_step:
        steps.append(last_step)
    for step in steps:
        fraction = step / last_step * training.span_end if last_step else 0
        time = _time_at(training.t_start, training.t_end, fraction)
        _training_step(history, job, training, curves, rng, step, time)


def _training_step(history, job, training, curves, rng, step, time):
    total, diverge_from = training.total, training.diverge_from
    epoch = round(step / training.steps_per_epoch, 4)
    loss = curves.train_loss(step)
    grad = max(0.05, rng.gauss(1.2 * math.exp(-3 * step / total) + 0.35, 0.08))
    if diverge_from and step >= diverge_from:
        blow = (step - diverge_from) / max(1, training.last_step - diverge_from)
        loss *= 1 + 8 * blow**2
        grad *= 1 + 60 * blow**3
    if training.nan_failure and step == training.last_step:
        loss, grad = math.nan, math.inf
    if job.status == JobStatus.COMPLETED and step == total:
        loss = curves.final_train
    lr = learning_rate(job.config or {}, step, total)
    history.record(
        time, step, epoch, (("train/loss", loss), ("learning_rate", lr), ("grad_norm", grad))
    )
    if step % (training.log_every * 10) == 0 or step == training.last_step:
        history.log(
            time,
            "INFO",
            f"{{'loss': {loss:.4f}, 'grad_norm': {grad:.4f}, "
            f"'learning_rate': {lr:.3e}, 'epoch': {epoch:.2f}}}",
        )
    if step % training.eval_every == 0 or (step == total and job.status == JobStatus.COMPLETED):
        _evaluation_step(history, job, training, curves, rng, step, time, epoch)
    if diverge_from and step >= diverge_from and step % (training.log_every * 5) == 0:
        history.log(time, "WARNING", f"Gradient overflow at step {step}; grad_norm={grad:.1f}")


def _evaluation_step(history, job, training, curves, rng, step, time, epoch):
    """An evaluation's points and log line; a finished job's last one hits its final metrics."""
    final_eval = step == training.total and job.status in (JobStatus.COMPLETED, JobStatus.FAILED)
    val = curves.final_val if final_eval else curves.val_loss(step) * rng.uniform(0.99, 1.01)
    acc = curves.final_acc if final_eval else curves.accuracy(step, curves.final_acc)
    f1 = curves.final_f1 if final_eval else curves.accuracy(step, curves.final_f1)
    if training.nan_failure and step >= (training.diverge_from or step + 1):
        val = val * 3
    history.record(time, step, epoch, (("val/loss", val), ("val/accuracy", acc), ("val/f1", f1)))
    history.evaluations.append((time, step, {"val/loss": val, "val/accuracy": acc, "val/f1": f1}))
    history.log(
        time,
        "INFO",
        f"{{'eval_loss': {val:.4f}, 'eval_accuracy': {acc:.4f}, "
        f"'eval_f1': {f1:.4f}, 'epoch': {epoch:.2f}}}",
    )


def _closing_logs(history, job, stages):
    """Log lines of evaluation, saving, and how the job ended."""
    log = history.log
    val_stage = stages["validation"]
    if val_stage.started_at:
        log(val_stage.started_at, "INFO", "***** Running evaluation *****")
    save = stages["save_model"]
    if save.started_at:
        target = job.deployment.get("artifact_path") or f"/mnt/checkpoints/{job.uid}"
        log(save.started_at, "INFO", f"Saving model checkpoint to {target}")
    if job.status == JobStatus.COMPLETED:
        log(job.finished_at, "INFO", f"Training completed in {_human(job.duration)}")
    elif job.status == JobStatus.FAILED:
        for line in (job.error_traceback or job.error_message).splitlines()[-6:]:
            log(job.finished_at, "ERROR", line)
    elif job.status == JobStatus.CANCELLED:
        log(job.finished_at, "WARNING", "Received SIGTERM; stopping after the current step")


def _history_store(job, history, samples):
    """Write the generated history through the services, in batches."""
    lines, points = history.lines, history.points
    # Wall-time order for sequence numbers, as a real reporter would assign them.
    lines.sort(key=lambda line: line["time"])
    for index, line in enumerate(lines):
        line["seq"] = index
    for start in range(0, len(points), POINT_BATCH):
        services.metrics_ingest(job=job, points=points[start : start + POINT_BATCH])
    for start in range(0, len(lines), 2000):
        services.logs_ingest(job=job, lines=lines[start : start + 2000])
    for start in range(0, len(samples), 1000):
        resource_samples_ingest(
            host=job.host or "localhost", samples=samples[start : start + 1000], jobs=[job]
        )


def _human(seconds):
    seconds = int(seconds or 0)
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _resource_history(job, stages, rng, now):
    """GPU-bound samples over the job's life: idle while loading, saturated in training."""
    start, end = job.started_at, job.finished_at or now
    span = (end - start).total_seconds()
    interval = max(30.0, span / 1500)
    gpus = int((job.config or {}).get("num_gpus", 1) or 1)
    oom = "out of memory" in (job.error_message or "").lower()
    samples = []
    t = 0.0
    while t <= span:
        time = start + timedelta(seconds=t)
        stage = next(
            (
                s.name
                for s in stages.values()
                if s.started_at and s.started_at <= time and (s.finished_at or end) >= time
            ),
            "training",
        )
        busy = {
            "dataset_loading": 0.02,
            "tokenization": 0.03,
            "training": 0.96,
            "validation": 0.7,
            "save_model": 0.05,
        }[stage]
        mem_frac = {"dataset_loading": 0.01, "tokenization": 0.01}.get(stage, 0.78)
        if oom and stage == "training":
            mem_frac = min(0.985, 0.85 + 0.13 * t / span)
        gpu_list = []
        for index in range(gpus):
            util = min(100.0, max(0.0, rng.gauss(busy * 100, 3)))
            gpu_list.append(
                {
                    "index": index,
                    "name": "NVIDIA A100-SXM4-80GB",
                    "util": util,
                    "mem_used": int(80 * GIB * min(0.99, mem_frac + rng.uniform(-0.01, 0.01))),
                    "mem_total": 80 * GIB,
                    "temp": 38 + util * 0.35 + rng.uniform(-1, 1),
                    "power": 60 + util * 3.3 + rng.uniform(-5, 5),
                    "power_limit": 400.0,
                }
            )
        cpu = {"tokenization": 88.0, "dataset_loading": 45.0}.get(stage, 22.0)
        samples.append(
            {
                "time": time.isoformat(),
                "cpu_percent": max(0.0, rng.gauss(cpu, 4)),
                "cpu_temp": 45 + cpu * 0.3 + rng.uniform(-1, 1),
                "ram_used": int(
                    GIB * (48 + rng.uniform(-2, 2) + (30 if stage == "tokenization" else 0))
                ),
                "ram_total": 256 * GIB,
                "gpus": gpu_list,
                "disk_used": int(GIB * (1200 + t / 3600 * 8)),
                "disk_total": 2000 * GIB,
                "disk_read_rate": max(
                    0.0, rng.gauss(350e6 if stage == "dataset_loading" else 20e6, 5e6)
                ),
                "disk_write_rate": max(
                    0.0, rng.gauss(900e6 if stage == "save_model" else 2e6, 1e6)
                ),
                "net_rx_rate": max(
                    0.0, rng.gauss(120e6 if stage == "dataset_loading" else 1e6, 2e5)
                ),
                "net_tx_rate": max(0.0, rng.gauss(5e5, 1e5)),
            }
        )
        t += interval
    return samples
