"""Why a job failed or is unhealthy, and what to change.

Rules are data: each `Rule` names the finding it raises, the jobs it reads (failed,
running) and a `detect` function over a `Evidence` bundle — the job's error, its recent
warning/error log lines, bounded windows of its metric series and its recent resource
samples. `job_findings(job)` runs them all. Suggested fixes are chosen from the job's
config, so a fix that is already on is not suggested again.

Failures told by their message are recognised by the catalogue (`catalogue.py`: one
table of real library wordings, each with its kind, source and fix recipe); the other
rules read series and samples: NaN in the loss, divergence, overfitting, a full disk on a
running job, a stalled job, an idle GPU. A failed job that nothing explains still gets
triage (`triage.py`).
"""

from dataclasses import dataclass

from jobs import selectors
from jobs.models import JobStatus

from .catalogue import signature_match
from .evidence import Evidence, Finding, log_evidence
from .infra import detect_stalled
from .resources import detect_disk_nearly_full, detect_gpu_idle
from .training import detect_divergence, detect_nan_loss, detect_overfitting
from .triage import triage_finding

# Finding is part of this module's interface: callers read findings from here.
__all__ = ["RULES", "Finding", "Rule", "job_findings", "job_findings_shown"]


def detect_catalogued(ev):
    """The catalogue's diagnosis of the job's failure message (or, while it runs, of its
    error log lines), with the failure point and the signature's source."""
    running = ev.job.status == JobStatus.RUNNING
    found = signature_match(ev, running=running)
    if found is None:
        return None
    sig, match, entry = found
    kind = sig.kind
    job = ev.job
    point = ev.failure_point()
    if running:
        point["stage"] = (
            next((s.name for s in job.stages.all() if s.status == "active"), None) or kind.stage
        )
        point["step"] = job.current_step
    elif not point["stage"] and kind.stage:
        point["stage"] = kind.stage
    evidence = {
        **point,
        "log": log_evidence(entry),
        "match": match.group(0)[:300],
        "signature": sig.id,
        "source": sig.source,
        "family": kind.family,
    }
    if kind.evidence:
        evidence.update(kind.evidence(ev))
    title = sig.title(ev, match) if callable(sig.title) else sig.title or kind.title
    where = ""
    if point["step"]:
        where += f" at step {point['step']:,}"
    if point["stage"]:
        where += f" during {point['stage'].replace('_', ' ')}"
    summary = f"{kind.why}{where}: {match.group(0)[:160]}"
    fixes = (sig.fixes or kind.fixes)(ev, match)
    return Finding(kind.code, "critical", title, summary, evidence, fixes, doc=kind.doc)


@dataclass(frozen=True)
class Rule:
    code: str
    statuses: tuple
    detect: object


RULES = [
    Rule("nan_loss", (JobStatus.FAILED, JobStatus.RUNNING), detect_nan_loss),
    Rule("catalogue", (JobStatus.FAILED, JobStatus.RUNNING), detect_catalogued),
    Rule("disk_full", (JobStatus.RUNNING,), detect_disk_nearly_full),
    Rule("stalled", (JobStatus.RUNNING,), detect_stalled),
    Rule("gpu_idle", (JobStatus.RUNNING,), detect_gpu_idle),
    Rule("loss_divergence", (JobStatus.RUNNING, JobStatus.FAILED), detect_divergence),
    Rule("overfitting", (JobStatus.RUNNING, JobStatus.COMPLETED), detect_overfitting),
]


def job_findings(job, now=None):
    """Every finding the rules raise for `job`, most severe first (one per kind)."""
    ev = Evidence(job, now=now)
    findings = []
    for rule in RULES:
        if job.status not in rule.statuses:
            continue
        finding = rule.detect(ev)
        if finding is not None and finding.code not in {f.code for f in findings}:
            findings.append(finding)
    # A NaN loss is the cause; the divergence that led to it is not a second problem.
    codes = {f.code for f in findings}
    if "nan_loss" in codes:
        findings = [f for f in findings if f.code != "loss_divergence"]
    # A failed job always gets an explanation: triage when no rule recognised it.
    if job.status == JobStatus.FAILED and not any(f.severity == "critical" for f in findings):
        findings.append(triage_finding(ev))
    findings.sort(key=lambda f: 0 if f.severity == "critical" else 1)
    return findings


def job_findings_shown(job):
    """The findings a job's page and `GET /api/jobs/{uid}` show, as dicts: a failed job's
    diagnosis, computed now; a running (or finished) job's open alerts, as the alert
    watcher last recorded them; `[]` for a queued job."""
    if job.status == JobStatus.FAILED:
        return [f.as_dict() for f in job_findings(job)]
    if job.status == JobStatus.QUEUED:
        return []
    return [finding_normalised(f) for f in selectors.alert_open_findings(job)]


def finding_normalised(stored):
    """A stored finding (alerts recorded before `kind`/`fixes` existed included) in the
    shape `Finding.as_dict` gives."""
    evidence = stored.get("evidence") or {}
    fixes = stored.get("fixes") or stored.get("suggested_fixes") or []
    return {
        **stored,
        "kind": stored.get("kind") or stored.get("code"),
        "code": stored.get("code") or stored.get("kind"),
        "stage": stored.get("stage", evidence.get("stage")),
        "step": stored.get("step", evidence.get("step")),
        "evidence": evidence,
        "fixes": fixes,
        "suggested_fixes": fixes,
        "doc": stored.get("doc", ""),
    }
