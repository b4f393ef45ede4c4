"""Rules about the training data: missing columns, tokenizer, encoding, paths, formats."""

import re

from jobs.models import JobStatus

from .evidence import Finding, log_evidence

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
    evidence = {**ev.failure_point(), "log": log_evidence(entry), "match": match.group(0)}
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
