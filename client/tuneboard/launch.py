"""`init()`: the job a script reports to, made (or resumed) from its arguments, the
environment and the launch."""

import os
import re
import sys
import time

from . import console
from .config import resolve
from .environment import _distributed_uid, _env_flag, _json_safe, _uid_from_name, distributed_role
from .run import MODES, Run
from .system import DEFAULT_INTERVAL, SystemMetrics
from .transport import hostname


def _mode(mode, token):
    """The run's mode ("online" or "offline"): the argument, else `TUNEBOARD_MODE`."""
    mode = (mode or os.environ.get("TUNEBOARD_MODE") or "online").strip().lower()
    if mode not in MODES:
        raise ValueError(f"mode: {mode!r} is not one of {', '.join(MODES)} (TUNEBOARD_MODE)")
    if not token and mode == "online":
        raise ValueError(
            "token: pass token=, set TUNEBOARD_TOKEN or run `python -m tuneboard login` "
            "(manage.py create_token makes one)"
        )
    return mode


def _name_and_uid(name, uid):
    """The job's name (default: the uid, `TUNEBOARD_RUN_ID` or the script's name) and
    uid (default: `TUNEBOARD_RUN_ID`, else one derived from a multi-node launch, else
    None: made from the name later)."""
    if name is None:
        script = os.path.splitext(os.path.basename(sys.argv[0] or ""))[0]
        name = uid or os.environ.get("TUNEBOARD_RUN_ID") or script or "run"
    uid = uid or os.environ.get("TUNEBOARD_RUN_ID") or _distributed_uid(name, os.environ)
    if uid is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", str(uid)):
        raise ValueError("uid: 1–64 characters: letters, digits, '-' and '_'")
    return name, uid


def _job_body(uid, *, name, model, dataset, config, tags, total_steps, total_epochs, host):
    """The body of `POST /api/jobs` (the optional fields only when given)."""
    body = {"uid": uid, "name": name, "model": model or "", "dataset": dataset or ""}
    if host is not None:
        body["host"] = host
    if config is not None:
        body["config"] = _json_safe(dict(config))
    if tags is not None:
        body["tags"] = list(tags)
    if total_steps is not None:
        body["total_steps"] = int(total_steps)
    if total_epochs is not None:
        body["total_epochs"] = float(total_epochs)
    return body


def init(
    server=None,
    token=None,
    *,
    name=None,
    model="",
    dataset="",
    config=None,
    tags=None,
    uid=None,
    total_steps=None,
    total_epochs=None,
    host=None,
    system_metrics=None,
    system_metrics_interval=DEFAULT_INTERVAL,
    capture_console=None,
    mode=None,
    on_stop=None,
    raise_on_stop=False,
    **transport_options,
):
    """Create (or, with a known `uid`, resume) a job and return its `Run`.

    `server` and `token` default to `TUNEBOARD_SERVER` and `TUNEBOARD_TOKEN`, then to
    what `python -m tuneboard login` stored in the user's config file. `mode` (default
    `TUNEBOARD_MODE`, else "online"): "offline" sends nothing and writes every event to
    the run's directory under `TUNEBOARD_DIR`, for `python -m tuneboard sync`; online,
    events the server has not taken when the run ends are kept there too.

    A stop requested from the job page sets `run.should_stop`, calls `on_stop(run)` (in
    the client's sender thread) and, with `raise_on_stop=True`, raises `StopRequested`
    in the main thread; finishing the run then ends the job `cancelled`. Without a
    `uid`, `TUNEBOARD_RUN_ID` is used, else (in a multi-node launch) one derived from the
    launch, else one made from the name, so the job can be reported even while the
    server is unreachable: creation is queued like everything else and sent first.

    `system_metrics` (default on; `TUNEBOARD_SYSTEM_METRICS=0` turns it off) samples the
    host every `system_metrics_interval` seconds into the job. `capture_console` (default
    on, `TUNEBOARD_CAPTURE_CONSOLE=0` off; "fd" to include child processes) sends what
    the script prints and logs as log lines. `host` (default `TUNEBOARD_HOST` or the host
    name) names this machine. In a distributed launch (`RANK`, `LOCAL_RANK`,
    `WORLD_SIZE`), global rank 0 reports everything, local rank 0 of the other nodes
    only samples its node into the same job, and other ranks report nothing.
    """
    server, token = resolve(server, token)
    mode = _mode(mode, token)
    name, uid = _name_and_uid(name, uid)
    if system_metrics is None:
        system_metrics = _env_flag("TUNEBOARD_SYSTEM_METRICS", True)
    if capture_console is None:
        capture_console = _env_flag("TUNEBOARD_CAPTURE_CONSOLE", True)
    if capture_console not in (True, False, "python", "fd"):
        raise ValueError('capture_console: True, False, "python" or "fd"')
    role = distributed_role()
    host = host or hostname()
    if role != "main" and uid is None:
        if role == "node":
            print(
                "tuneboard: this node cannot find its job (set TUNEBOARD_RUN_ID, or torchrun "
                "--rdzv-id): its resources are not reported",
                file=sys.stderr,
                flush=True,
            )
        role = "idle"
    run = Run(
        server=server,
        token=token or "",
        uid=uid or _uid_from_name(name),
        transport_options=transport_options,
        role=role,
        host=host,
        offline=mode == "offline",
    )
    run.on_stop = on_stop
    run.raise_on_stop = bool(raise_on_stop)
    if role == "idle":
        return run
    body = _job_body(
        run.uid,
        name=name,
        model=model,
        dataset=dataset,
        config=config,
        tags=tags,
        total_steps=total_steps,
        total_epochs=total_epochs,
        host=host if role == "main" else None,
    )
    if total_steps is not None:
        run.total_steps = int(total_steps)
    # Every node posts the creation (idempotent: a known uid answers with that job), so
    # a node's samples never reach the server before the job exists.
    run._post("/api/jobs", body)
    if role == "main":
        run._post(
            f"/api/jobs/{run.uid}/status",
            {"status": "running", "host": host, "time": time.time()},
        )
        if capture_console:
            run._console = True
            console.attach(run, "fd" if capture_console == "fd" else "python")
    if system_metrics:
        run._system = SystemMetrics(
            run.transport, host=host, job=run.uid, interval=system_metrics_interval
        )
    return run
