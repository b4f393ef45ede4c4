"""What changed between a failed run and the next run of the same model and dataset
that succeeded: the config keys whose values differ, for "this failed here before"."""

import json

# Keys that differ on every run and explain nothing.
IGNORED_KEYS = {"seed", "output_dir", "run_name", "logging_dir", "hub_model_id", "report_to"}
MISSING = object()


def _shown(value):
    if value is MISSING:
        return "unset"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return "null" if value is None else str(value)


def config_changes(before, after):
    """[{"key", "before", "after"}] for each key whose value differs between two configs
    (added and removed keys included, shown as "unset"), sorted by key."""
    before, after = before or {}, after or {}
    changes = []
    for key in sorted(set(before) | set(after)):
        if key in IGNORED_KEYS:
            continue
        old, new = before.get(key, MISSING), after.get(key, MISSING)
        if old == new and type(old) is type(new):
            continue
        changes.append({"key": key, "before": _shown(old), "after": _shown(new)})
    return changes


def describe_changes(changes, limit=6):
    """ "per_device_train_batch_size 8 → 4 and gradient_checkpointing false → true"."""
    parts = [f"{c['key']} {c['before']} → {c['after']}" for c in changes[:limit]]
    if len(changes) > limit:
        parts.append(f"{len(changes) - limit} more")
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]
