"""What the client reads from its environment and the launch it runs in: flags, the
distributed role of this process, run ids derived from names and launches, and values
made safe for JSON."""

import contextlib
import hashlib
import math
import numbers
import os
import re
import secrets


def _slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:48].strip("-") or "job"


def _uid_from_name(name):
    return f"{_slug(name)}-{secrets.token_hex(3)}"


def _env_flag(name, default):
    """An on/off environment variable: 0/false/no/off turn it off."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off")


def _env_int(environ, name):
    try:
        return int(environ[name])
    except (KeyError, ValueError):
        return None


def distributed_role(environ=None):
    """This process's part in a distributed launch (torchrun, Accelerate, DeepSpeed):

    - "main": not distributed, or global rank 0: reports everything;
    - "node": local rank 0 of another node: samples its node's resources into the job;
    - "idle": every other rank: reports nothing.
    """
    environ = os.environ if environ is None else environ
    try:
        rank = int(environ.get("RANK", 0))
        local_rank = int(environ.get("LOCAL_RANK", rank))
    except ValueError:
        return "main"
    if rank == 0:
        return "main"
    return "node" if local_rank == 0 else "idle"


def _launch_key(environ):
    """An id that every process of one distributed launch shares, or None.

    torchrun's rendezvous id (`--rdzv-id`; "none" when not given), then Slurm's job id,
    then the rendezvous address (the same for every node of a launch, but also for the
    next launch on that address: give TUNEBOARD_RUN_ID or --rdzv-id when it repeats).
    """
    run_id = environ.get("TORCHELASTIC_RUN_ID", "")
    if run_id and run_id != "none":
        return f"torchelastic:{run_id}"
    if environ.get("SLURM_JOB_ID"):
        return f"slurm:{environ['SLURM_JOB_ID']}.{environ.get('SLURM_STEP_ID', '')}"
    if environ.get("MASTER_ADDR") and environ.get("MASTER_PORT"):
        return f"master:{environ['MASTER_ADDR']}:{environ['MASTER_PORT']}"
    return None


def _distributed_uid(name, environ):
    """The job uid all processes of a multi-node launch derive alike, or None."""
    world = _env_int(environ, "WORLD_SIZE") or 1
    if world <= 1:
        return None
    local_world = _env_int(environ, "LOCAL_WORLD_SIZE")
    if local_world is not None and local_world >= world:
        return None  # one node: only rank 0 reports, no other process needs the uid
    key = _launch_key(environ)
    if key is None:
        return None
    digest = hashlib.sha256(f"{key}|{name}".encode()).hexdigest()[:8]
    return f"{_slug(name)[:55]}-{digest}"


def _error_type(exc):
    cls = type(exc)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _json_safe(value):
    """`value` as JSON the server accepts: non-finite floats and unknown objects
    (numpy scalars, paths, dtypes, …) become numbers or strings."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(item) for item in value]
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _json_safe(float(value))
    return str(value)


def disk_size(path):
    """Bytes on disk of a file, or of every file under a directory; None if unreadable."""
    try:
        if os.path.isfile(path):
            return os.path.getsize(path)
        if not os.path.isdir(path):
            return None
        total = 0
        for root, _dirs, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(os.path.join(root, name))
        return total
    except OSError:
        return None
