"""Numerics and the training curves: a NaN or infinite loss, fp16/bf16 problems,
divergence, overfitting. The `*_fixes` recipes are named by the catalogue's kinds."""

import itertools
import math

from jobs.core.values import encode_float

from .evidence import Finding, config_value, is_lora

DOC_NAN = "https://pytorch.org/docs/stable/autograd.html#anomaly-detection"


def _nan_fixes(c):
    fixes = []
    lr = config_value(c, "learning_rate", "lr")
    if isinstance(lr, (int, float)) and lr > 0:
        fixes.append(f"Lower learning_rate ({lr:g} → {lr / 10:g}).")
    if not config_value(c, "warmup_ratio", "warmup_steps"):
        fixes.append("Add a learning-rate warm-up (warmup_ratio=0.03).")
    if not config_value(c, "max_grad_norm", default=None):
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


def nan_fixes(ev, match=None):
    return _nan_fixes(ev.config)


def fp16_overflow_fixes(ev, match=None):
    c = ev.config
    fixes = []
    if c.get("fp16") or not c.get("bf16"):
        fixes.append(
            "Train in bf16 (bf16=True, fp16=False) on Ampere or newer GPUs: its range "
            "does not overflow where fp16 does."
        )
    lr = config_value(c, "learning_rate", "lr")
    if isinstance(lr, (int, float)) and lr > 0:
        fixes.append(f"Lower learning_rate ({lr:g} → {lr / 2:g}).")
    if not config_value(c, "max_grad_norm", default=None):
        fixes.append("Clip gradients (max_grad_norm=1.0).")
    fixes.append(
        "With DeepSpeed, raise the loss-scale floor or window (fp16.initial_scale_power=12, "
        "loss_scale_window=1000) — or leave fp16 for bf16."
    )
    return fixes


def fp16_weights_fixes(ev, match=None):
    return [
        "The trainable weights are float16 while fp16=True: load the model in float32 "
        "(torch_dtype=torch.float32) and let autocast use fp16, or load in bfloat16 and "
        "train with bf16=True.",
        "With LoRA on a half-precision base, cast the adapters to float32: "
        "prepare_model_for_kbit_training(model) or "
        "`for p in model.parameters(): p.data = p.data.float() if p.requires_grad else p.data`.",
    ]


def bf16_fixes(ev, match=None):
    c = ev.config
    fixes = []
    if c.get("bf16") or c.get("bf16") is None:
        fixes.append(
            "This GPU has no bf16 (pre-Ampere: V100, T4): use fp16=True, bf16=False "
            "(and bnb_4bit_compute_dtype=float16 with QLoRA)."
        )
    fixes.append("Or run on an Ampere or newer GPU (A10, A100, L4, H100).")
    fixes.append(
        "Check on the machine: python -c 'import torch; print(torch.cuda.is_bf16_supported())'; "
        "False on a GPU machine also means torch cannot see CUDA."
    )
    return fixes


def fp16_unsupported_fixes(ev, match=None):
    return [
        "Half precision needs a GPU: torch sees none here. Check nvidia-smi, "
        "CUDA_VISIBLE_DEVICES and that torch is a CUDA build (torch.cuda.is_available()).",
        "To train on CPU on purpose, turn off fp16/bf16 and load the model in float32.",
    ]


def detect_nan_loss(ev):
    """A NaN or ±inf point in the loss series (a failure message saying so is catalogued)."""
    first = ev.first_non_finite("train/loss") or ev.first_non_finite("loss")
    if first is None:
        return None
    step = first[0]
    value = "NaN" if first[1] is None else encode_float(first[1])
    evidence = {
        "stage": "training",
        "step": step,
        "metric": {"key": "train/loss", "step": step, "value": value},
        "log": None,
    }
    return Finding(
        "nan_loss",
        "critical",
        "Loss became NaN" if value == "NaN" else "Loss became infinite",
        f"train/loss was {value} from step {step}: the optimisation diverged numerically.",
        evidence,
        _nan_fixes(ev.config),
        doc=DOC_NAN,
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
    epochs = config_value(c, "num_train_epochs")
    if isinstance(epochs, (int, float)) and epochs > 1:
        fixes.append(f"Train fewer epochs ({epochs:g} → {max(1, int(epochs) - 1)}).")
    if is_lora(c) and (c.get("lora_dropout") or 0) < 0.1:
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
