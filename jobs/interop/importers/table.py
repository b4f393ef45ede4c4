"""Run histories as tables: CSV and JSON Lines, as W&B exports them, or any table with a
step column and metric columns.

- W&B `run.history()` (saved as CSV or JSONL): a row per step, `_step`, `_timestamp`
  (Unix seconds), `_runtime`, and one column per metric key.
- W&B's chart "Export CSV": `Step`, then `<run name> - <key>` columns (and their
  `__MIN` / `__MAX` companions, left out): each run name becomes its own job.
- Anything else: `--step-column` names the step (default: the first of `_step`, `step`,
  `Step`, `global_step`, `trainer/global_step`, `iteration`, `epoch`), every other column
  with numbers is a metric; empty cells are no point.

One file is one source: a cell that is not a number in a metric column, a step that is
not a whole number ≥ 0, or broken text makes the whole file bad (reported, skipped).
"""

import csv
import json
import math
import re
from pathlib import Path

from .base import BadSource, ImportedRun

STEP_COLUMNS = ("_step", "step", "Step", "global_step", "trainer/global_step", "iteration", "epoch")
TIME_COLUMNS = ("_timestamp", "timestamp", "wall_time", "time")
IGNORED_COLUMNS = {"_runtime", "_wandb", "Wall time", "Relative Time (Process)"}
RUN_COLUMN = re.compile(r"^(?P<run>.+?) - (?P<key>.+)$")
NON_FINITE = {"nan": math.nan, "inf": math.inf, "infinity": math.inf, "-inf": -math.inf}


def files_under(path, suffixes):
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise BadSource(f"{path}: no such file or directory")
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def _number(raw):
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if not text:
            return None
        if text.lower() in NON_FINITE:
            return NON_FINITE[text.lower()]
        return float(text)  # ValueError: not a number
    raise ValueError(f"not a number: {raw!r}")


def _step(raw, row_number, column, path):
    try:
        value = _number(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < 0 or not value.is_integer():
        raise BadSource(
            f"{path}: row {row_number}: the step ({column}) {raw!r} is not a whole number ≥ 0"
        )
    return int(value)


def rows_to_runs(rows, *, path, kind, step_column=None, name=None, model="", dataset="", tags=()):
    """`ImportedRun`s of one table's rows (dicts); raises `BadSource` for a bad table."""
    rows = list(rows)
    if not rows:
        raise BadSource(f"{path}: no rows")
    columns = []
    for row in rows:
        columns.extend(column for column in row if column not in columns)
    step_column = step_column or next((c for c in STEP_COLUMNS if c in columns), None)
    if step_column is None or step_column not in columns:
        raise BadSource(
            f"{path}: no step column ({', '.join(STEP_COLUMNS)}); name it with --step-column"
        )
    time_column = next((c for c in TIME_COLUMNS if c in columns and c != step_column), None)
    metric_columns = [
        c
        for c in columns
        if c not in (step_column, time_column)
        and c not in IGNORED_COLUMNS
        and not c.endswith(("__MIN", "__MAX"))
        and not c.startswith("_")
    ]
    # A column of text (a run's name, a note) is not a metric: left out unless it has
    # numbers, in which case every cell must be a number.
    numeric = []
    for column in metric_columns:
        cells = [row.get(column) for row in rows if row.get(column) not in (None, "")]
        parsed = 0
        for cell in cells:
            try:
                _number(cell)
                parsed += 1
            except (TypeError, ValueError):
                pass
        if parsed == 0:
            continue
        if parsed != len(cells):
            bad = next(c for c in cells if not _is_number(c))
            raise BadSource(f"{path}: column {column!r} mixes numbers and {bad!r}")
        numeric.append(column)
    if not numeric:
        raise BadSource(f"{path}: no metric columns besides the step ({step_column})")
    stem = Path(path).stem
    runs = {}
    for number, row in enumerate(rows, start=2 if kind == "csv" else 1):
        step = _step(row.get(step_column), number, step_column, path)
        at = None
        if time_column and row.get(time_column) not in (None, ""):
            try:
                at = _number(row[time_column])
            except ValueError:
                raise BadSource(
                    f"{path}: row {number}: the time {row[time_column]!r} is not a number"
                )
        for column in numeric:
            value = _number(row.get(column))
            if value is None:
                continue
            match = RUN_COLUMN.match(column) if name is None else None
            run_name, key = (match["run"], match["key"]) if match else (name or stem, column)
            point = {"key": key, "step": step, "value": value}
            if at is not None:
                point["time"] = at
            runs.setdefault(run_name, []).append(point)
    resolved = str(Path(path).resolve())
    imported = []
    for run_name, points in runs.items():
        origin = resolved if len(runs) == 1 else f"{resolved}#{run_name}"
        run = ImportedRun(
            kind=kind,
            origin=origin,
            name=run_name,
            model=model,
            dataset=dataset,
            tags=list(tags),
            points=points,
        )
        imported.append(run)
    return imported


def _is_number(cell):
    try:
        _number(cell)
    except (TypeError, ValueError):
        return False
    return True


def read_csv(path):
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise BadSource(f"{path}: not a readable CSV file ({exc})")


def read_jsonl(path):
    rows = []
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as exc:
                    raise BadSource(f"{path}: line {number} is not JSON ({exc})")
                if not isinstance(row, dict):
                    raise BadSource(f"{path}: line {number} is not a JSON object")
                rows.append({k: v for k, v in row.items() if not isinstance(v, (dict, list))})
    except UnicodeDecodeError as exc:
        raise BadSource(f"{path}: not UTF-8 text ({exc})")
    return rows


def read_runs(path, *, kind, step_column=None, name=None, model="", dataset="", tags=()):
    """`ImportedRun`s of every table file under `path`; a bad file is yielded as
    `BadSource` and the others go on."""
    suffixes = {".csv"} if kind == "csv" else {".jsonl", ".ndjson", ".json"}
    for file in files_under(path, suffixes):
        try:
            rows = read_csv(file) if kind == "csv" else read_jsonl(file)
            yield from rows_to_runs(
                rows,
                path=file,
                kind=kind,
                step_column=step_column,
                name=name,
                model=model,
                dataset=dataset,
                tags=tags,
            )
        except BadSource as bad:
            yield bad
