"""Rules about the processes around training: a silent job, a stuck distributed collective."""

from datetime import timedelta

from django.conf import settings

from jobs.core.values import isoformat
from jobs.models import JobStatus

from .evidence import Finding, log_evidence


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
        {**ev.failure_point(), "log": log_evidence(entry), "match": match.group(0)},
        [
            "Set NCCL_DEBUG=INFO (and TORCH_DISTRIBUTED_DEBUG=DETAIL) to see which rank stalls.",
            "Make every rank reach the same collectives: evaluation or saving on rank 0 only, "
            "or uneven data shards, leave the others waiting.",
            f"Raise ddp_timeout ({timeout or 1800} → {(timeout or 1800) * 2} s) if a slow step "
            "(checkpoint, eval) is expected.",
            "On PCIe-only machines try NCCL_P2P_DISABLE=1; check the interconnect (IB/RoCE).",
        ],
    )
