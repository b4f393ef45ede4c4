"""Why a job failed or is unhealthy, and what to change.

Rules are data: each `Rule` names the finding it raises, the jobs it reads (failed,
running) and a `detect` function over a `Evidence` bundle — the job's error, its recent
warning/error log lines, bounded windows of its metric series and its recent resource
samples. `job_findings(job)` runs them all. Suggested fixes are chosen from the job's
config, so a fix that is already on is not suggested again.
"""

import itertools
import math
import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from jobs.core.values import encode_float, isoformat
from jobs.models import JobStatus, LogEntry, MetricPoint

SERIES_WINDOW = 2000
LOG_WINDOW = 400


@dataclass
class Finding:
    code: str
    severity: str  # "critical" | "warning"
    title: str
    summary: str
    evidence: dict = field(default_factory=dict)
    suggested_fixes: list = field(default_factory=list)

    def as_dict(self):
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "summary": self.summary,
            "evidence": self.evidence,
            "suggested_fixes": self.suggested_fixes,
        }


class Evidence:
    """Bounded, lazily loaded facts about one job that the rules read."""

    def __init__(self, job, now=None):
        self.job = job
        self.now = now or timezone.now()
        self.config = job.config or {}
        self.error_text = "\n".join(
            part for part in (job.error_type, job.error_message, job.error_traceback) if part
        )
        self._series = {}
        self._logs = None
        self._samples = None

    def series(self, key):
        """The last SERIES_WINDOW points of `key`, ascending: [(step, value)]."""
        if key not in self._series:
            rows = list(
                MetricPoint.objects.filter(job=self.job, key=key)
                .order_by("-step")
                .values_list("step", "value")[:SERIES_WINDOW]
            )
            rows.reverse()
            self._series[key] = [(s, math.nan if v is None else v) for s, v in rows]
        return self._series[key]

    def first_non_finite(self, key):
        """The first point of `key` that is NaN or ±inf, or None (one indexed query)."""
        from django.db.models import Q

        return (
            MetricPoint.objects.filter(job=self.job, key=key)
            .filter(Q(value__isnull=True) | Q(value=math.inf) | Q(value=-math.inf))
            .order_by("step")
            .values_list("step", "value")
            .first()
        )

    def logs(self):
        """Recent WARNING+ log lines, oldest first."""
        if self._logs is None:
            rows = list(
                LogEntry.objects.filter(
                    job=self.job, level__in=["WARNING", "ERROR", "CRITICAL"]
                ).order_by("-seq")[:LOG_WINDOW]
            )
            rows.reverse()
            self._logs = rows
        return self._logs

    def samples(self, minutes=None):
        if self._samples is None:
            from monitoring.models import ResourceSample

            rows = list(ResourceSample.objects.filter(job=self.job).order_by("-time")[:240])
            rows.reverse()
            self._samples = rows
        if minutes is None:
            return self._samples
        newest = self._samples[-1].time if self._samples else self.now
        return [s for s in self._samples if s.time >= newest - timedelta(minutes=minutes)]

    def search(self, pattern):
        """First match of `pattern` in the error, else in WARNING+ logs: (text, log)."""
        regex = re.compile(pattern, re.IGNORECASE)
        match = regex.search(self.error_text)
        if match:
            return match, None
        for entry in self.logs():
            match = regex.search(entry.message)
            if match:
                return match, entry
        return None, None

    def failure_point(self):
        job = self.job
        return {
            "stage": job.error_stage or None,
            "step": job.error_step,
            "time": isoformat(job.finished_at),
        }


def _log_evidence(entry):
    if entry is None:
        return None
    return {
        "seq": entry.seq,
        "level": entry.level,
        "message": entry.message[:500],
        "time": isoformat(entry.time),
    }


def _cfg(config, *names, default=None):
    for name in names:
        if name in config and config[name] is not None:
            return config[name]
    return default


def _is_lora(config):
    return any(k in config for k in ("lora_r", "lora_alpha", "peft", "lora")) or bool(
        config.get("use_peft")
    )


# --- rules ---------------------------------------------------------------------------

OOM_RE = r"CUDA out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|HIP out of memory"


def detect_oom(ev):
    match, entry = ev.search(OOM_RE)
    if not match:
        return None
    c = ev.config
    fixes = []
    batch = _cfg(c, "per_device_train_batch_size", "batch_size")
    accum = _cfg(c, "gradient_accumulation_steps", default=1)
    if isinstance(batch, int) and batch > 1:
        fixes.append(
            f"Halve per_device_train_batch_size ({batch} → {batch // 2}) and double "
            f"gradient_accumulation_steps ({accum} → {accum * 2}) to keep the effective "
            f"batch of {batch * accum}."
        )
    if not c.get("gradient_checkpointing"):
        fixes.append(
            "Turn on gradient_checkpointing=True: activations are recomputed in the "
            "backward pass instead of kept, at ~20–30% more compute."
        )
    seq = _cfg(c, "max_seq_length", "max_length", "block_size")
    if isinstance(seq, int) and seq > 512:
        fixes.append(
            f"Shorten max_seq_length ({seq} → {seq // 2}); activation memory grows "
            "with sequence length."
        )
    if not _is_lora(c):
        fixes.append(
            "Train LoRA adapters (peft) instead of all weights: optimiser state "
            "shrinks from 2× the model to a few MB."
        )
    elif not (c.get("load_in_4bit") or c.get("load_in_8bit")):
        fixes.append(
            "Load the base model in 4-bit (QLoRA: load_in_4bit=True, "
            "bnb_4bit_compute_dtype=bfloat16)."
        )
    optim = str(c.get("optim", ""))
    if "8bit" not in optim:
        fixes.append('Use an 8-bit optimiser (optim="paged_adamw_8bit").')
    evidence = {**ev.failure_point(), "log": _log_evidence(entry), "match": match.group(0)}
    peaks = [
        g.get("mem_used", 0) / g["mem_total"]
        for s in ev.samples()
        for g in s.gpus or []
        if g.get("mem_total")
    ]
    if peaks:
        evidence["peak_vram_fraction"] = round(max(peaks), 3)
    return Finding(
        "cuda_oom",
        "critical",
        "CUDA out of memory",
        "The GPU ran out of memory"
        + (f" at step {ev.job.error_step}" if ev.job.error_step else "")
        + (f" during {ev.job.error_stage.replace('_', ' ')}" if ev.job.error_stage else "")
        + ".",
        evidence,
        fixes,
    )


def _nan_fixes(c):
    fixes = []
    lr = _cfg(c, "learning_rate", "lr")
    if isinstance(lr, (int, float)) and lr > 0:
        fixes.append(f"Lower learning_rate ({lr:g} → {lr / 10:g}).")
    if not _cfg(c, "warmup_ratio", "warmup_steps"):
        fixes.append("Add a learning-rate warm-up (warmup_ratio=0.03).")
    if not _cfg(c, "max_grad_norm", default=None):
        fixes.append("Clip gradients (max_grad_norm=1.0).")
    if c.get("fp16"):
        fixes.append(
            "Train in bf16 instead of fp16 (bf16=True, fp16=False): fp16's range "
            "overflows to inf in attention and loss scaling."
        )
    if not fixes:
        fixes.append(
            "Check the batch at the failing step for empty or corrupt samples "
            "(a label-less batch divides by zero)."
        )
    return fixes


def detect_nan_loss(ev):
    first = ev.first_non_finite("train/loss") or ev.first_non_finite("loss")
    match, entry = (None, None)
    if first is None:
        match, entry = ev.search(r"\bloss\b[^\n]{0,40}\b(nan|inf)\b|\bnan loss\b")
        if not match:
            return None
    step = first[0] if first else ev.job.error_step
    value = "NaN" if first and first[1] is None else encode_float(first[1]) if first else "NaN"
    evidence = {
        "stage": "training",
        "step": step,
        "metric": {"key": "train/loss", "step": step, "value": value},
        "log": _log_evidence(entry),
    }
    return Finding(
        "nan_loss",
        "critical",
        "Loss became NaN" if value == "NaN" else "Loss became infinite",
        f"train/loss was {value} from step {step}: the optimisation diverged numerically.",
        evidence,
        _nan_fixes(ev.config),
    )


def _smooth(values, alpha=0.1):
    out, acc = [], None
    for v in values:
        acc = v if acc is None else alpha * v + (1 - alpha) * acc
        out.append(acc)
    return out


def detect_divergence(ev):
    points = [(s, v) for s, v in ev.series("train/loss") if math.isfinite(v)]
    if len(points) < 40:
        return None
    smooth = _smooth([v for _, v in points])
    low_index = min(range(len(smooth)), key=smooth.__getitem__)
    tail = smooth[low_index:]
    # Sustained: the rise spans at least 15% of the window and ends ≥ 30% above the low,
    # with the smoothed loss rising over most of that span (not one spike).
    if len(tail) < max(8, len(smooth) * 0.15):
        return None
    low, last = smooth[low_index], smooth[-1]
    rises = sum(1 for a, b in itertools.pairwise(tail) if b > a)
    if last < low * 1.3 or rises < 0.7 * (len(tail) - 1):
        return None
    start_step = points[low_index][0]
    return Finding(
        "loss_divergence",
        "warning",
        "Training loss is diverging",
        f"Smoothed train/loss rose {100 * (last / low - 1):.0f}% since step {start_step} "
        f"({low:.4g} → {last:.4g}).",
        {
            "stage": "training",
            "step": start_step,
            "metric": {"key": "train/loss", "step": points[-1][0], "value": points[-1][1]},
        },
        _nan_fixes(ev.config)[:3],
    )


def detect_overfitting(ev):
    val = [(s, v) for s, v in ev.series("val/loss") if math.isfinite(v)]
    train = [(s, v) for s, v in ev.series("train/loss") if math.isfinite(v)]
    if len(val) < 4 or len(train) < 10:
        return None
    best_index = min(range(len(val)), key=lambda i: val[i][1])
    best_step, best = val[best_index]
    after = val[best_index:]
    last_step, last = val[-1]
    if len(after) < 3 or last < best * 1.08:
        return None
    if sum(1 for a, b in itertools.pairwise(after) if b[1] > a[1]) < 2:
        return None
    train_at_best = [v for s, v in train if s <= best_step][-20:]
    train_now = [v for _, v in train[-20:]]
    if not train_at_best or sum(train_now) / len(train_now) >= sum(train_at_best) / len(
        train_at_best
    ):
        return None
    c = ev.config
    fixes = [
        f"Keep the checkpoint of step {best_step} (best val/loss {best:.4g}): "
        "load_best_model_at_end=True with metric_for_best_model='eval_loss'.",
        "Stop early: EarlyStoppingCallback(early_stopping_patience=2).",
    ]
    epochs = _cfg(c, "num_train_epochs")
    if isinstance(epochs, (int, float)) and epochs > 1:
        fixes.append(f"Train fewer epochs ({epochs:g} → {max(1, int(epochs) - 1)}).")
    if _is_lora(c) and (c.get("lora_dropout") or 0) < 0.1:
        fixes.append(f"Raise lora_dropout ({c.get('lora_dropout', 0)} → 0.1).")
    elif (c.get("weight_decay") or 0) < 0.01:
        fixes.append("Add weight decay (weight_decay=0.01).")
    fixes.append("Add more or more varied training data.")
    return Finding(
        "overfitting",
        "warning",
        "Overfitting: validation loss rising while train loss falls",
        f"val/loss rose from {best:.4g} (step {best_step}) to {last:.4g} (step {last_step}) "
        "while train/loss kept falling.",
        {
            "stage": "validation",
            "step": best_step,
            "metric": {"key": "val/loss", "step": last_step, "value": last},
        },
        fixes,
    )


def detect_stalled(ev):
    job = ev.job
    if job.status != JobStatus.RUNNING:
        return None
    last = job.last_heartbeat or job.started_at
    limit = timedelta(minutes=settings.TUNEBOARD_STALL_MINUTES)
    if last is None or ev.now - last < limit:
        return None
    minutes = int((ev.now - last).total_seconds() // 60)
    return Finding(
        "stalled",
        "critical",
        f"No heartbeat for {minutes} minutes",
        f"The job is running but has reported nothing since {isoformat(last)} "
        f"(step {job.current_step}).",
        {"stage": None, "step": job.current_step, "time": isoformat(last)},
        [
            f"Check that the training process is alive on {job.host or 'its host'} "
            "(ps, nvidia-smi).",
            "Dump its stacks with `py-spy dump --pid <PID>` to see where it waits.",
            "A multi-GPU job stuck in a collective: set NCCL_DEBUG=INFO and look for a rank "
            "that died or skipped a barrier.",
            "A data-loader deadlock: try dataloader_num_workers=0 once to rule it out.",
        ],
    )


def detect_gpu_idle(ev):
    job = ev.job
    if job.status != JobStatus.RUNNING:
        return None
    training = next((s for s in job.stages.all() if s.name == "training"), None)
    if training is None or training.status != "active":
        return None
    recent = [s for s in ev.samples(minutes=10) if s.gpus and s.time >= training.started_at]
    if len(recent) < 5:
        return None
    utils = [g.get("util") or 0 for s in recent for g in s.gpus]
    mean = sum(utils) / len(utils)
    if mean >= 30:
        return None
    cpu = [s.cpu_percent for s in recent if s.cpu_percent is not None]
    c = ev.config
    fixes = []
    workers = c.get("dataloader_num_workers", 0)
    if not workers or workers < 4:
        fixes.append(
            f"Raise dataloader_num_workers ({workers or 0} → 4–8) and set "
            "dataloader_pin_memory=True."
        )
    fixes.append(
        "Tokenize once before training (dataset.map(..., batched=True)) instead of "
        "on the fly in the collator."
    )
    if not c.get("group_by_length"):
        fixes.append("group_by_length=True cuts padding, so each step does more real work.")
    fixes.append(
        "Raise per_device_train_batch_size if memory allows: small batches leave the "
        "GPU waiting on the host."
    )
    return Finding(
        "gpu_idle",
        "warning",
        "GPU mostly idle during training",
        f"Mean GPU utilisation was {mean:.0f}% over the last {len(recent)} samples"
        + (f" while CPU averaged {sum(cpu) / len(cpu):.0f}%" if cpu else "")
        + ": the input pipeline is the bottleneck.",
        {
            "stage": "training",
            "step": job.current_step,
            "resources": {"gpu_util_mean": round(mean, 1), "samples": len(recent)},
        },
        fixes,
    )


DATA_PATTERNS = [
    (r"KeyError: '([^']+)'|column '?([^' ]+)'? not (?:found|in)", "column"),
    (r"does not have a padding token|pad_token", "pad_token"),
    (r"UnicodeDecodeError|codec can't decode|invalid (?:start|continuation) byte", "encoding"),
    (
        r"FileNotFoundError|No such file or directory|doesn't exist on the Hub|"
        r"Couldn't find (?:a dataset|file)|DatasetNotFoundError|Repository Not Found",
        "path",
    ),
    (r"ArrowInvalid|JSONDecodeError|ParserError|Failed to read file", "format"),
]


def detect_data_error(ev):
    job = ev.job
    if job.status != JobStatus.FAILED:
        return None
    in_data_stage = job.error_stage in ("dataset_loading", "tokenization")
    for pattern, kind in DATA_PATTERNS:
        match, entry = ev.search(pattern)
        if not match:
            continue
        if kind == "column" and not in_data_stage and "column" not in match.group(0):
            continue
        return _data_finding(ev, kind, match, entry)
    return None


def _data_finding(ev, kind, match, entry):
    c = ev.config
    evidence = {**ev.failure_point(), "log": _log_evidence(entry), "match": match.group(0)}
    if kind == "column":
        column = next((g for g in match.groups() if g), "?")
        available = re.search(r"available columns: \[([^\]]*)\]", ev.error_text)
        fixes = [
            f"The dataset has no column {column!r}. "
            + (f"Available: {available.group(1)}. " if available else "")
            + "Point the text column at a real one (config text_column) or build it with "
            "dataset.map(), e.g. joining instruction/input/output into one prompt."
        ]
        fixes.append("Print dataset.column_names before tokenizing to catch schema changes.")
        title = f"Dataset column {column!r} not found"
    elif kind == "pad_token":
        title = "Tokenizer has no padding token"
        fixes = [
            "Set tokenizer.pad_token = tokenizer.eos_token (and model.config.pad_token_id) "
            "before tokenizing with padding."
        ]
    elif kind == "encoding":
        title = "Dataset file is not valid UTF-8"
        fixes = [
            "Open or load the file with its real encoding (encoding='latin-1', or "
            "errors='replace' to keep going).",
            "Find the bad rows: `iconv -f utf-8 -t utf-8 file > /dev/null` names the line.",
        ]
    elif kind == "path":
        title = "Dataset or model path not found"
        fixes = [
            f"Check the dataset id/path ({ev.job.dataset or 'as configured'}) and that the "
            "machine can read it (HF_TOKEN for gated repos, mounted volumes).",
            "Run the loading code once outside training to validate paths.",
        ]
    else:
        title = "Dataset file could not be parsed"
        fixes = [
            "Validate the data file (JSON lines: one object per line; CSV: consistent "
            "columns) and load a small slice first (split='train[:100]')."
        ]
    if c.get("max_seq_length") is None and kind == "column":
        fixes.append("Set max_seq_length explicitly so truncation is deliberate.")
    return Finding(
        "data_error",
        "critical",
        title,
        f"{ev.job.error_type or 'Error'} while "
        f"{(ev.job.error_stage or 'loading data').replace('_', ' ')}: "
        f"{match.group(0)}",
        evidence,
        fixes,
    )


def detect_disk_full(ev):
    match, entry = ev.search(r"No space left on device|Errno 28|Disk quota exceeded")
    nearly_full = None
    samples = ev.samples()
    if samples and samples[-1].disk_total:
        fraction = (samples[-1].disk_used or 0) / samples[-1].disk_total
        if fraction >= 0.97:
            nearly_full = fraction
    if not match and nearly_full is None:
        return None
    c = ev.config
    fixes = []
    if not c.get("save_total_limit"):
        fixes.append("Keep fewer checkpoints: save_total_limit=2 deletes older ones.")
    if _is_lora(c):
        fixes.append(
            "Save only the LoRA adapter (model.save_pretrained on the peft model), "
            "not merged full weights."
        )
    fixes.append("Write checkpoints to a larger volume (output_dir) and clean old runs.")
    if c.get("save_steps") and isinstance(c["save_steps"], int):
        fixes.append(f"Save less often (save_steps {c['save_steps']} → {c['save_steps'] * 4}).")
    evidence = {**ev.failure_point(), "log": _log_evidence(entry)}
    if nearly_full is not None:
        evidence["resources"] = {"disk_used_fraction": round(nearly_full, 3)}
    return Finding(
        "disk_full",
        "critical",
        "Disk full" if match else "Disk almost full",
        (
            f"Writing failed: {match.group(0)}."
            if match
            else f"The job's disk is {100 * nearly_full:.0f}% full."
        ),
        evidence,
        fixes,
    )


def detect_nccl_timeout(ev):
    match, entry = ev.search(
        r"NCCL[^\n]{0,80}time(?:d)? ?out|Watchdog caught collective operation timeout|"
        r"ProcessGroupNCCL[^\n]{0,80}(?:timeout|Timeout)|NCCL error"
    )
    if not match:
        return None
    timeout = ev.config.get("ddp_timeout")
    return Finding(
        "nccl_timeout",
        "critical",
        "NCCL collective timed out",
        "A distributed collective did not complete on every rank in time.",
        {**ev.failure_point(), "log": _log_evidence(entry), "match": match.group(0)},
        [
            "Set NCCL_DEBUG=INFO (and TORCH_DISTRIBUTED_DEBUG=DETAIL) to see which rank stalls.",
            "Make every rank reach the same collectives: evaluation or saving on rank 0 only, "
            "or uneven data shards, leave the others waiting.",
            f"Raise ddp_timeout ({timeout or 1800} → {(timeout or 1800) * 2} s) if a slow step "
            "(checkpoint, eval) is expected.",
            "On PCIe-only machines try NCCL_P2P_DISABLE=1; check the interconnect (IB/RoCE).",
        ],
    )


@dataclass(frozen=True)
class Rule:
    code: str
    statuses: tuple
    detect: object


RULES = [
    Rule("cuda_oom", (JobStatus.FAILED, JobStatus.RUNNING), detect_oom),
    Rule("nan_loss", (JobStatus.FAILED, JobStatus.RUNNING), detect_nan_loss),
    Rule("nccl_timeout", (JobStatus.FAILED, JobStatus.RUNNING), detect_nccl_timeout),
    Rule("disk_full", (JobStatus.FAILED, JobStatus.RUNNING), detect_disk_full),
    Rule("data_error", (JobStatus.FAILED,), detect_data_error),
    Rule("stalled", (JobStatus.RUNNING,), detect_stalled),
    Rule("gpu_idle", (JobStatus.RUNNING,), detect_gpu_idle),
    Rule("loss_divergence", (JobStatus.RUNNING, JobStatus.FAILED), detect_divergence),
    Rule("overfitting", (JobStatus.RUNNING, JobStatus.COMPLETED), detect_overfitting),
]


def job_findings(job, now=None):
    """Every finding the rules raise for `job`, most severe first."""
    ev = Evidence(job, now=now)
    findings = []
    for rule in RULES:
        if job.status not in rule.statuses:
            continue
        finding = rule.detect(ev)
        if finding is not None:
            findings.append(finding)
    # A NaN loss is the cause; the divergence that led to it is not a second problem.
    codes = {f.code for f in findings}
    if "nan_loss" in codes:
        findings = [f for f in findings if f.code != "loss_divergence"]
    findings.sort(key=lambda f: 0 if f.severity == "critical" else 1)
    return findings
