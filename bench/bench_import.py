"""B12 — importing a TensorBoard run: 200,000 scalars written by torch's SummaryWriter.

What a user runs, timed as they would see it: `python manage.py import_runs tensorboard
DIR` as a process (Django's start, reading the event file with TensorBoard's reader, the
upserts, rollups and summaries), on a fresh, migrated SQLite database each time; then the
same import again on the imported database, which must change nothing. The points read
back equal the points written (count, first and last step).

Target: the import < 10 s (the slowest of the measured runs).
"""

import json
import subprocess
import tempfile
import time
from pathlib import Path

from harness import PYTHON, ROOT, check, machine, migrate, server_env, write_result

POINTS = 200_000
RUNS = 3

COUNT = """
import json
from jobs.models import Job, MetricPoint
job = Job.objects.get()
steps = MetricPoint.objects.filter(job=job).order_by("step").values_list("step", flat=True)
print(json.dumps({"jobs": Job.objects.count(), "points": steps.count(),
                  "first": steps.first(), "last": steps.last(), "status": job.status}))
"""


def write_run(root):
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(str(root / "llama-sft"))
    for step in range(POINTS):
        writer.add_scalar("train/loss", 3.0 / (1 + step / 1000), step, walltime=1.7e9 + step)
    writer.close()


def timed_import(env, source):
    started = time.perf_counter()
    result = subprocess.run(
        [PYTHON, "manage.py", "import_runs", "tensorboard", str(source)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return time.perf_counter() - started, result.stdout.strip()


def stored(env):
    out = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", COUNT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    with tempfile.TemporaryDirectory(prefix="b12-") as tmp:
        tmp = Path(tmp)
        source = tmp / "tb"
        started = time.perf_counter()
        write_run(source)
        write_seconds = time.perf_counter() - started
        runs = []
        for n in range(RUNS):
            env = server_env(tmp / f"data-{n}", LOG_LEVEL="WARNING")
            migrate(env)
            seconds, out = timed_import(env, source)
            again, out_again = timed_import(env, source)
            runs.append(
                {
                    "import_s": round(seconds, 2),
                    "output": out,
                    "reimport_s": round(again, 2),
                    "reimport_output": out_again,
                    "stored": stored(env),
                }
            )
    slowest = max(r["import_s"] for r in runs)
    exact = all(
        r["stored"]
        == {"jobs": 1, "points": POINTS, "first": 0, "last": POINTS - 1, "status": "completed"}
        and "0 created, 1 unchanged" in r["reimport_output"]
        for r in runs
    )
    result = {
        "id": "B12",
        "name": "TensorBoard import",
        "machine": machine(),
        "method": (
            f"{POINTS:,} train/loss scalars written by torch's SummaryWriter (one event file, "
            f"written in {write_seconds:.1f} s); `manage.py import_runs tensorboard DIR` run as "
            f"a process on a fresh migrated SQLite database, {RUNS} times, wall clock of the "
            "whole process; then the same import again on that database."
        ),
        "runs": runs,
        "checks": [
            check(
                f"B12 {POINTS:,}-point TensorBoard import, slowest of {RUNS} (whole process)",
                f"{slowest:.1f} s",
                "< 10 s",
                slowest < 10,
            ),
            check(
                "B12 read back exactly; a second import changes nothing",
                "yes" if exact else "no",
                "yes",
                exact,
            ),
        ],
    }
    print(json.dumps(result, indent=2))
    write_result("b12_import", result)


if __name__ == "__main__":
    main()
