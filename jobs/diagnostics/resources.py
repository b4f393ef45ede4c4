"""Rules about the machine's limits: GPU memory, disk space, an idle GPU."""

from jobs.models import JobStatus

from .evidence import Finding, config_value, is_lora, log_evidence

OOM_RE = r"CUDA out of memory|OutOfMemoryError|CUBLAS_STATUS_ALLOC_FAILED|HIP out of memory"


def detect_oom(ev):
    match, entry = ev.search(OOM_RE)
    if not match:
        return None
    c = ev.config
    fixes = []
    batch = config_value(c, "per_device_train_batch_size", "batch_size")
    accum = config_value(c, "gradient_accumulation_steps", default=1)
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
    seq = config_value(c, "max_seq_length", "max_length", "block_size")
    if isinstance(seq, int) and seq > 512:
        fixes.append(
            f"Shorten max_seq_length ({seq} → {seq // 2}); activation memory grows "
            "with sequence length."
        )
    if not is_lora(c):
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
    evidence = {**ev.failure_point(), "log": log_evidence(entry), "match": match.group(0)}
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
    if is_lora(c):
        fixes.append(
            "Save only the LoRA adapter (model.save_pretrained on the peft model), "
            "not merged full weights."
        )
    fixes.append("Write checkpoints to a larger volume (output_dir) and clean old runs.")
    if c.get("save_steps") and isinstance(c["save_steps"], int):
        fixes.append(f"Save less often (save_steps {c['save_steps']} → {c['save_steps'] * 4}).")
    evidence = {**ev.failure_point(), "log": log_evidence(entry)}
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
