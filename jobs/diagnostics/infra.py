"""The processes around training: a silent job, distributed collectives and rendezvous,
processes killed or stopped from outside. The `*_fixes` recipes are named by the
catalogue's distributed and process kinds."""

from datetime import timedelta

from django.conf import settings

from jobs.core.values import isoformat
from jobs.models import JobStatus

from .evidence import Finding


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


def nccl_timeout_fixes(ev, match=None):
    timeout = ev.config.get("ddp_timeout")
    return [
        "Set NCCL_DEBUG=INFO (and TORCH_DISTRIBUTED_DEBUG=DETAIL) to see which rank stalls.",
        "Make every rank reach the same collectives: evaluation or saving on rank 0 only, "
        "or uneven data shards, leave the others waiting.",
        f"Raise ddp_timeout ({timeout or 1800} → {(timeout or 1800) * 2} s) if a slow step "
        "(checkpoint, eval) is expected.",
        "On PCIe-only machines try NCCL_P2P_DISABLE=1; check the interconnect (IB/RoCE).",
    ]


def nccl_error_fixes(ev, match=None):
    return [
        "Rerun with NCCL_DEBUG=INFO: the line before the error names the transport and "
        "the peer that failed.",
        "In containers give NCCL room: --shm-size=16g or --ipc=host (an 'unhandled system "
        "error' is often /dev/shm too small).",
        "Rule out the fabric: NCCL_IB_DISABLE=1 (InfiniBand) or NCCL_P2P_DISABLE=1 "
        "(peer-to-peer over PCIe), one at a time.",
        "A 'remote process exited' error is a symptom: read the other ranks' logs for the "
        "first failure.",
    ]


def rank_failure_fixes(ev, match=None):
    return [
        "A worker process died and torchrun stopped the others: the root cause is the "
        "first failing rank's traceback (the 'Root Cause' section, or its error_file).",
        "Record each rank's errors: decorate the entry point with "
        "@torch.distributed.elastic.multiprocessing.errors.record.",
        "Run once on a single GPU (no torchrun) to see the error without the wrapper.",
    ]


def port_in_use_fixes(ev, match=None):
    port = ev.config.get("master_port") or 29500
    return [
        f"Another job on the host already listens on the rendezvous port ({port}): give "
        f"each job its own, e.g. torchrun --master_port {int(port) + 1} (or "
        "--rdzv-endpoint localhost:0 to pick a free one).",
        "A previous run may still be alive: look for leftover processes (ps aux | grep "
        "torchrun) and stop them.",
    ]


def rendezvous_fixes(ev, match=None):
    return [
        "Not every node joined in time: check --nnodes, that MASTER_ADDR:MASTER_PORT is "
        "reachable from each node (firewall, security groups) and that all nodes started.",
        "Raise the join timeout for slow schedulers (--rdzv-conf join_timeout=1800).",
    ]


def killed_fixes(ev, match=None):
    from .resources import host_memory_fixes

    return [
        "SIGKILL (exit 137) comes from outside the process — most often the kernel's OOM "
        "killer or a container memory limit, otherwise a scheduler enforcing a limit.",
        *host_memory_fixes(ev, match)[:3],
    ]


def preempted_fixes(ev, match=None):
    c = ev.config
    save_steps = c.get("save_steps")
    fixes = [
        "The job was stopped from outside (SIGTERM: pre-emption, a scheduler time limit, "
        "a node drain): resume from the last checkpoint with resume_from_checkpoint=True.",
    ]
    if isinstance(save_steps, int) and save_steps > 200:
        fixes.append(
            f"Checkpoint more often on pre-emptible machines (save_steps {save_steps} → "
            f"{max(100, save_steps // 4)}) so less work is lost."
        )
    else:
        fixes.append("Checkpoint regularly (save_strategy='steps', save_steps) so less is lost.")
    fixes.append(
        "On spot/pre-emptible capacity, restart automatically (a Kubernetes Job with "
        "backoffLimit, Slurm --requeue); for time limits request more (--time)."
    )
    return fixes
