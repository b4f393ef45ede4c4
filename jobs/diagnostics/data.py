"""The training data: missing columns, tokenizer padding, encodings, paths, file formats,
empty splits, labels that do not fit the inputs or the model.

The catalogue (`catalogue.py`) recognises these failures from their messages; this module
holds what is particular to data — which `KeyError`s name a dataset column, the columns a
message says exist — and the fix recipes the catalogue's data kinds name.
"""

import re

from .evidence import config_value

DATA_STAGES = ("dataset_loading", "tokenization")
# Column names that datasets, collators and trainers read by name: a bare KeyError naming
# one of them is a schema problem, not a bug in the model code.
COLUMN_NAMES = {
    "text",
    "input_ids",
    "attention_mask",
    "labels",
    "label",
    "token_type_ids",
    "prompt",
    "completion",
    "chosen",
    "rejected",
    "messages",
    "conversations",
    "instruction",
    "input",
    "output",
    "response",
    "question",
    "answer",
    "answers",
    "context",
    "content",
    "sentence",
    "target",
}
AVAILABLE_RES = [
    r"available columns: \[([^\]]*)\]",
    r"Current columns in the dataset: \[([^\]]*)\]",
    r"The following columns have been ignored: \[([^\]]*)\]",
    r"has columns? \[([^\]]*)\]",
]


def missing_column(match):
    """The column a match names, without brackets and quotes ('?' when it names none)."""
    raw = (match.groupdict().get("column") or "").strip()
    names = re.findall(r"'([^']+)'|\"([^\"]+)\"", raw)
    if names:
        return names[0][0] or names[0][1]
    return raw.strip("[]'\" ") or "?"


def available_columns(text):
    """The columns the message says the dataset has, as the message lists them, or None."""
    for pattern in AVAILABLE_RES:
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return found.group(1)
    return None


def text_column(config):
    return config_value(config, "dataset_text_field", "text_column")


def column_key_plausible(ev, match):
    """Whether a bare `KeyError: 'x'` is a dataset column: raised while loading or
    tokenizing, or naming a column datasets and trainers read by name."""
    key = missing_column(match)
    return ev.job.error_stage in DATA_STAGES or key in COLUMN_NAMES or key == text_column(ev.config)


def column_title(ev, match):
    return f"Dataset column {missing_column(match)!r} not found"


def column_fixes(ev, match):
    column = missing_column(match)
    available = available_columns(ev.error_text)
    fixes = [
        f"The dataset has no column {column!r}. "
        + (f"Available: {available}. " if available else "")
        + "Point the text column at a real one (config text_column) or build it with "
        "dataset.map(), e.g. joining instruction/input/output into one prompt."
    ]
    fixes.append("Print dataset.column_names before tokenizing to catch schema changes.")
    if ev.config.get("max_seq_length") is None:
        fixes.append("Set max_seq_length explicitly so truncation is deliberate.")
    return fixes


def unused_columns_fixes(ev, match):
    return [
        "Tokenize before training so the dataset has input_ids/attention_mask (and labels), "
        "or give SFTTrainer the text column (dataset_text_field) or a formatting_func.",
        "With a custom collator that reads raw columns, set remove_unused_columns=False.",
    ]


def pad_token_fixes(ev, match):
    return [
        "Set tokenizer.pad_token = tokenizer.eos_token (and model.config.pad_token_id) "
        "before tokenizing with padding.",
        "Or add a dedicated pad token (tokenizer.add_special_tokens({'pad_token': '<pad>'})) "
        "and model.resize_token_embeddings(len(tokenizer)).",
    ]


def encoding_fixes(ev, match):
    return [
        "Open or load the file with its real encoding (encoding='latin-1', or "
        "errors='replace' to keep going).",
        "Find the bad rows: `iconv -f utf-8 -t utf-8 file > /dev/null` names the line.",
    ]


def path_fixes(ev, match):
    return [
        f"Check the dataset id/path ({ev.job.dataset or 'as configured'}) and that the "
        "machine can read it (HF_TOKEN for gated repos, mounted volumes).",
        "Run the loading code once outside training to validate paths.",
    ]


def format_fixes(ev, match):
    return [
        "Validate the data file (JSON lines: one object per line; CSV: consistent "
        "columns) and load a small slice first (split='train[:100]').",
        "Give load_dataset the column types (features=Features({...})) when a column mixes "
        "types across files, so every shard casts the same way.",
    ]


def empty_dataset_fixes(ev, match):
    c = ev.config
    fixes = [
        "The split has no rows once loaded and filtered: print len(dataset) after each "
        "load/filter/map step to see where they go.",
        "Check the split name and data_files pattern (split='train' exists? the glob "
        "matches files?).",
    ]
    seq = config_value(c, "max_seq_length", "max_length")
    if isinstance(seq, int):
        fixes.append(
            f"A filter on length (max_seq_length {seq}) or packing can drop every example: "
            "relax it or truncate instead of filtering."
        )
    return fixes


def _pair(match):
    """The two sizes a mismatch message names, as ints, or (None, None)."""
    numbers = [int(n) for n in re.findall(r"\d+", match.group(0))[:2]]
    return [*numbers, None, None][:2]


def batch_mismatch_fixes(ev, match):
    a, b = _pair(match)
    batch = config_value(ev.config, "per_device_train_batch_size", "batch_size")
    fixes = []
    if a and b and b % a == 0 and b // a > 1:
        fixes.append(
            f"The targets are {b // a}× the inputs ({a} vs {b}): the labels are per token "
            "(length × batch) while the model predicts one class per example — use a "
            "sequence-classification head's labels (one int per example), or a token "
            "model for per-token labels."
        )
    fixes.append(
        "For causal-LM fine-tuning let the collator build labels from input_ids "
        "(DataCollatorForLanguageModeling(tokenizer, mlm=False)) instead of a label column."
    )
    if isinstance(batch, int):
        fixes.append(
            f"Check one batch: inputs and labels should both have {batch} rows "
            "(per_device_train_batch_size)."
        )
    return fixes


def sequence_length_fixes(ev, match):
    c = ev.config
    sizes = [n for n in _pair(match) if n]
    limit = min(sizes) if sizes else None
    seq = config_value(c, "max_seq_length", "max_length", "block_size")
    fixes = []
    if isinstance(seq, int) and limit and seq > limit:
        fixes.append(f"Lower max_seq_length ({seq} → {limit}) to the model's context length.")
    elif limit:
        fixes.append(f"Truncate to the model's context length: max_length={limit}.")
    fixes.append(
        "Tokenize with truncation=True and max_length set (tokenizer(..., truncation=True, "
        "max_length=N)); packing must also respect the limit."
    )
    fixes.append(
        "Check model.config.max_position_embeddings: a longer context needs RoPE scaling "
        "(rope_scaling) or another model."
    )
    return fixes


def embedding_index_fixes(ev, match):
    return [
        "After adding tokens to the tokenizer, grow the embeddings: "
        "model.resize_token_embeddings(len(tokenizer)).",
        "A sequence longer than max_position_embeddings indexes past the position table: "
        "tokenize with truncation=True, max_length=model.config.max_position_embeddings.",
        "Check that the tokenizer is the model's own (same vocab size as model.config.vocab_size).",
    ]


def label_range_fixes(ev, match):
    c = ev.config
    fixes = []
    num_labels = c.get("num_labels")
    if isinstance(num_labels, int):
        fixes.append(
            f"Labels must lie in 0…{num_labels - 1} (num_labels={num_labels}): count the "
            "distinct labels and set num_labels to match, mapping them with label2id."
        )
    else:
        fixes.append(
            "A label id is ≥ the number of classes (or the vocab size): set num_labels to the "
            "number of distinct labels, or map labels into 0…n-1."
        )
    fixes.append(
        "Padding positions must be -100 in labels (ignored by the loss), not pad_token_id "
        "of an added token beyond the vocab: resize_token_embeddings(len(tokenizer))."
    )
    fixes.append(
        "Rerun one step with CUDA_LAUNCH_BLOCKING=1 (or on CPU) to get the failing op and "
        "the offending value; the CUDA trace is asynchronous."
    )
    return fixes


def unpadded_fixes(ev, match):
    return [
        "Pad the batch: tokenizer(..., padding=True, truncation=True) or "
        "DataCollatorWithPadding(tokenizer) / DataCollatorForLanguageModeling.",
        "Drop the raw text columns before batching (dataset.map(..., "
        "remove_columns=dataset.column_names)), so only tensors reach the collator.",
    ]
