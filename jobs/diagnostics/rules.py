"""Why a job failed or is unhealthy, and what to change.

Rules are data: each `Rule` names the finding it raises, the jobs it reads (failed,
running) and a `detect` function over a `Evidence` bundle — the job's error, its recent
warning/error log lines, bounded windows of its metric series and its recent resource
samples. `job_findings(job)` runs them all. Suggested fixes are chosen from the job's
config, so a fix that is already on is not suggested again.

The detectors live by family: `resources` (GPU memory, disk, idle GPU), `training` (NaN
loss, divergence, overfitting), `data` (dataset and tokenizer errors) and `infra` (stalled
jobs, NCCL timeouts); `evidence` holds `Evidence`, `Finding` and the shared helpers.
"""

from dataclasses import dataclass

from jobs.models import JobStatus

from .data import detect_data_error
from .evidence import Evidence, Finding
from .infra import detect_nccl_timeout, detect_stalled
from .resources import detect_disk_full, detect_gpu_idle, detect_oom
from .training import detect_divergence, detect_nan_loss, detect_overfitting

# Finding is part of this module's interface: callers read findings from here.
__all__ = ["RULES", "Finding", "Rule", "job_findings"]


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
