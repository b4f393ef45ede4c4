"""Triage for a failure no catalogue signature recognises: what its exception type
usually means, the first error-level log line, and where it stopped.

Better than "no diagnosis": the reader gets the failure point and a checklist to start
from. A triage finding is not a diagnosis: it is a warning, and it never counts as one
in the corpus figure.
"""

from .evidence import Finding, log_evidence

# Exception type (last dotted part) → the usual causes in fine-tuning code, most likely first.
TYPE_CAUSES = {
    "KeyError": [
        "A dict or dataset row lacks the key the code reads (a column renamed or dropped by "
        "remove_columns / remove_unused_columns).",
        "A config key spelled differently from what the script expects.",
    ],
    "ValueError": [
        "An argument the library rejects (a config value, a shape, a dtype): the message names it.",
        "Mismatched versions of transformers/peft/trl whose arguments changed.",
    ],
    "TypeError": [
        "An argument passed that this version does not accept (renamed or removed in "
        "transformers/trl): compare with the installed version's signature.",
        "None where an object was expected (a tokenizer or model that failed to load).",
    ],
    "AttributeError": [
        "An API that moved or was renamed between library versions.",
        "A wrapped model (DDP, PEFT, compiled) hiding the attribute: use .module or .base_model.",
    ],
    "RuntimeError": [
        "A tensor operation failed: shapes, devices or dtypes — the message names the op.",
        "A CUDA error reported asynchronously: rerun with CUDA_LAUNCH_BLOCKING=1 for the "
        "real location.",
    ],
    "AssertionError": [
        "A library's internal check on its inputs: read the assert's line in the traceback.",
    ],
    "IndexError": [
        "An index past the end of a list or tensor: an empty batch or a label/token id out "
        "of range.",
    ],
    "ImportError": [
        "A package missing or at an incompatible version in the job's environment.",
    ],
    "ModuleNotFoundError": [
        "A package missing in the job's environment (pip install it there).",
    ],
    "OSError": [
        "A file or network operation failed: the errno in the message names which.",
    ],
    "ZeroDivisionError": [
        "An empty dataset or a zero-length epoch (no batches once filtered).",
    ],
    "NotImplementedError": [
        "An operation this device or dtype does not support (CPU half precision, MPS).",
    ],
    "TimeoutError": [
        "A network or distributed wait that never completed.",
    ],
    "ConnectionError": [
        "A remote service (the Hub, a tracker, the master node) could not be reached.",
    ],
    "RecursionError": [
        "A config or module structure that references itself.",
    ],
}
DEFAULT_CAUSES = [
    "Read the last frames of the traceback that are in your own code: they show what "
    "the job was doing.",
]


def type_name(error_type):
    return (error_type or "").rsplit(".", 1)[-1]


def triage_finding(ev):
    """A warning-level finding for a failed job that no rule explained."""
    job = ev.job
    name = type_name(job.error_type)
    causes = TYPE_CAUSES.get(name, [])
    first_error = next(iter(ev.error_logs()), None)
    where = []
    if job.error_stage:
        where.append(f"during {job.get_error_stage_display().lower()}")
    if job.error_step:
        where.append(f"at step {job.error_step:,}")
    message = (job.error_message or "").strip().splitlines()
    summary = f"{job.error_type or 'The job'} failed {' '.join(where)}".rstrip() + (
        f": {message[0][:200]}" if message else "."
    )
    fixes = list(causes) + DEFAULT_CAUSES
    if first_error is not None:
        fixes.append(
            f"The first error in the log (line {first_error.seq}) is often the cause, and "
            "later lines its consequences: start there."
        )
    return Finding(
        "triage",
        "warning",
        f"Not a known failure: {name or 'error'}" + (" — common causes" if causes else ""),
        summary,
        {**ev.failure_point(), "log": log_evidence(first_error), "exception": name or None},
        fixes,
    )
