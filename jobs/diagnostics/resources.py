"""The machine's limits: GPU and host memory, disk space and files, an idle GPU.

The fix recipes here (`oom_fixes`, `disk_fixes`, …) are named by the catalogue's kinds;
the detectors read resource samples rather than messages.
"""

import re

from jobs.models import JobStatus

from .evidence import Finding, config_value, is_lora

DOC_DISK = (
    "https://huggingface.co/docs/transformers/main_classes/trainer"
    "#transformers.TrainingArguments.save_total_limit"
)


def oom_fixes(ev, match=None):
    """GPU memory: smaller per-device batches at the same effective batch, recomputed
    activations, shorter sequences, fewer trainable weights, smaller optimiser state."""
    c = ev.config
    fixes = []
    batch = config_value(c, "per_device_train_batch_size", "batch_size")
    accum = config_value(c, "gradient_accumulation_steps", default=1)
    if isinstance(batch, int) and batch > 1 and isinstance(accum, int):
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
    text = ev.error_text
    if re.search(r"reserved but unallocated|fragmentation|max_split_size_mb", text, re.I):
        fixes.append(
            "Memory is fragmented (reserved but unallocated): set "
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True before starting."
        )
    if not fixes:
        fixes.append(
            "Everything that saves memory is already on: train on a GPU with more memory, "
            "or shard the model over several GPUs (FSDP or DeepSpeed ZeRO-3)."
        )
    return fixes


def oom_evidence(ev):
    """The highest VRAM use the job's samples saw, as a fraction of the GPU's memory."""
    peaks = [
        g.get("mem_used", 0) / g["mem_total"]
        for s in ev.samples()
        for g in s.gpus or []
        if g.get("mem_total")
    ]
    return {"peak_vram_fraction": round(max(peaks), 3)} if peaks else {}


def host_memory_fixes(ev, match=None):
    """Host RAM: fewer loader workers, data streamed or memory-mapped, weights loaded lazily."""
    c = ev.config
    fixes = []
    workers = config_value(c, "dataloader_num_workers", default=0)
    if isinstance(workers, int) and workers > 2:
        fixes.append(
            f"Lower dataloader_num_workers ({workers} → {workers // 2}): each worker holds "
            "its own copy of the dataset's Python objects."
        )
    fixes.append(
        "Keep the dataset memory-mapped (load_dataset keeps Arrow on disk; avoid "
        "keep_in_memory=True and converting it to Python lists), or stream it "
        "(streaming=True)."
    )
    fixes.append(
        "Load the model straight to the GPU (device_map='auto', low_cpu_mem_usage=True) "
        "instead of materialising it in host RAM first."
    )
    batch = config_value(c, "per_device_train_batch_size", "batch_size")
    if isinstance(batch, int) and batch > 1:
        fixes.append(f"Lower per_device_train_batch_size ({batch} → {batch // 2}).")
    fixes.append(
        "Confirm with `dmesg -T | grep -i 'killed process'` (or the container's OOMKilled "
        "status) and raise the memory limit (docker --memory, Kubernetes resources.limits, "
        "Slurm --mem)."
    )
    return fixes


def shared_memory_fixes(ev, match=None):
    workers = config_value(ev.config, "dataloader_num_workers", default=0)
    return [
        "Give the container more shared memory: docker run --shm-size=16g (or --ipc=host; "
        "on Kubernetes mount an emptyDir with medium: Memory at /dev/shm).",
        f"Lower dataloader_num_workers ({workers or 0} → {max(0, (workers or 0) // 2)}), "
        "or 0 to confirm the workers are the cause.",
    ]


def disk_fixes(ev, match=None):
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
    return fixes


def checkpoint_write_fixes(ev, match=None):
    c = ev.config
    out = c.get("output_dir") or "output_dir"
    fixes = [
        f"Check free space and health of the volume behind {out} (df -h, dmesg for I/O "
        "errors); a network mount that dropped mid-write leaves a truncated file.",
        "Delete the partial checkpoint-N folder the crash left behind before resuming: "
        "resume_from_checkpoint=True picks the newest folder, complete or not.",
    ]
    if not c.get("save_total_limit"):
        fixes.append("save_total_limit=2 keeps the volume from filling with old checkpoints.")
    if c.get("save_safetensors") is False:
        fixes.append("save_safetensors=True writes each file in one pass and fails loudly.")
    return fixes


def corrupt_checkpoint_fixes(ev, match=None):
    return [
        "The file was cut short while being written (a crash, a full disk or a killed "
        "job during save): delete that checkpoint and resume from the previous one.",
        "Compare the file's size with the original (or re-download it: "
        "huggingface-cli download <repo> --force-download).",
    ]


def permission_fixes(ev, match=None):
    out = ev.config.get("output_dir") or "output_dir"
    return [
        f"Make {out} writable by the user the job runs as (chown/chmod), or point "
        "output_dir at a writable volume.",
        "Set HF_HOME (and HF_DATASETS_CACHE) to a writable directory: the default cache "
        "in ~/.cache may be read-only inside containers.",
        "A read-only mount (Kubernetes readOnly: true, a snapshot) cannot take checkpoints: "
        "mount a writable volume for outputs.",
    ]


def detect_disk_nearly_full(ev):
    """A running job whose volume is ≥ 97% full (a failed one is told by its message)."""
    samples = ev.samples()
    if not samples or not samples[-1].disk_total:
        return None
    fraction = (samples[-1].disk_used or 0) / samples[-1].disk_total
    if fraction < 0.97:
        return None
    evidence = {**ev.failure_point(), "log": None}
    evidence["resources"] = {"disk_used_fraction": round(fraction, 3)}
    return Finding(
        "disk_full",
        "critical",
        "Disk almost full",
        f"The job's disk is {100 * fraction:.0f}% full.",
        evidence,
        disk_fixes(ev),
        doc=DOC_DISK,
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
