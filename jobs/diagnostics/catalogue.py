"""The catalogue of real failure signatures: how libraries word the errors that end
fine-tuning runs, and what each one means.

`SIGNATURES` is the one table. Each row is a `Signature`: an id, the `Kind` of finding it
raises (the finding's code, family, title, cause, fix recipe, documentation page and the
stage where it usually happens), a regular expression matched against the job's
"type: message" and traceback and its last error log lines, and where the wording comes
from (package, file, version). Rows are in priority order: when several match one
failure, the first wins, so a specific cause (a CUDA OOM inside a torchrun
`ChildFailedError`) comes before the wrapper that reports it. Patterns match the stable
part of a message, so they survive the rewordings between versions (the corpus in
`tests/diagnostics/corpus.json` holds the variants).

The kinds are in `kinds.py`; the rows in `signatures_runtime.py` (memory, a full disk,
numerics, distributed) and `signatures_setup.py` (data, model and setup, storage,
processes), joined here in that order. Fix recipes live in the family modules
(`resources`, `training`, `data`, `setup`, `infra`) and read the job's config, so a fix
names values: "batch 8 → 4".
"""

from .signatures_runtime import RUNTIME_SIGNATURES
from .signatures_setup import SETUP_SIGNATURES

# The one table, in priority order (the first matching row wins).
SIGNATURES = [*RUNTIME_SIGNATURES, *SETUP_SIGNATURES]
SIGNATURES_BY_ID = {sig.id: sig for sig in SIGNATURES}
KINDS = {sig.kind.code: sig.kind for sig in SIGNATURES}


def signature_match(ev, *, running=False):
    """The first signature (in table order) that matches the job's error, else its last
    error log lines: (signature, match, log entry or None), or None.

    A running job has no error yet: only its ERROR/CRITICAL lines are read, and only
    kinds marked `running` count, so a warning never raises an alert.
    """
    signatures = [s for s in SIGNATURES if s.kind.running] if running else SIGNATURES
    if not running and ev.error_text:
        for sig in signatures:
            for match in sig.regex.finditer(ev.error_text):
                if sig.when is None or sig.when(ev, match):
                    return sig, match, None
    entries = ev.error_logs() if running else ev.logs()
    for sig in signatures:
        for entry in reversed(entries):
            match = sig.regex.search(entry.message)
            if match and (sig.when is None or sig.when(ev, match)):
                return sig, match, entry
    return None
