"""B7: CPU cost of `manage.py sample_resources --interval 1`.

Runs the sampler as a subprocess against a fresh, migrated SQLite database in a
temporary data dir, lets it settle, then measures its CPU time (user + system, from
psutil) over `--seconds` of wall time. Target: at most 1 % of one core.

    .venv/bin/python bench/bench_sampler.py [--seconds 60] [--interval 1] [--out DIR]

Writes `sampler.json` and `sampler.md` into `--out` (default `bench/results/`).
"""

import argparse
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
TARGET_PERCENT = 1.0
SETTLE_SECONDS = 3.0


def versions():
    import django

    out = {
        "python": platform.python_version(),
        "django": django.__version__,
        "psutil": psutil.__version__,
        "sqlite": sqlite3.sqlite_version,
    }
    try:
        out["nvidia_ml_py"] = metadata.version("nvidia-ml-py")
    except metadata.PackageNotFoundError:
        out["nvidia_ml_py"] = "installed" if find_spec("pynvml") else None
    return out


def machine():
    memory = psutil.virtual_memory().total
    info = {
        "platform": platform.platform(),
        "cpu_model": platform.processor() or platform.machine(),
        "logical_cores": psutil.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(memory / 2**30, 1),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def run(seconds, interval):
    with tempfile.TemporaryDirectory(prefix="tb-bench-") as data_dir:
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        env.pop("SQLITE_PATH", None)
        env.update(TUNEBOARD_DATA_DIR=data_dir, PYTHONUNBUFFERED="1")
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v", "0"], env=env, check=True, cwd=ROOT)
        process = subprocess.Popen(
            [*manage, "sample_resources", "--interval", str(interval), "--host", "bench"],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for line in process.stderr:
                if "Sampling bench every" in line:
                    break
            # Django's start-up is not what is measured: let the loop settle first.
            time.sleep(SETTLE_SECONDS)
            proc = psutil.Process(process.pid)
            before, wall_before = proc.cpu_times(), time.monotonic()
            db = sqlite3.connect(Path(data_dir) / "tuneboard.sqlite3", timeout=10)
            rows_before = db.execute("SELECT count(*) FROM monitoring_resourcesample").fetchone()
            time.sleep(seconds)
            after, wall_after = proc.cpu_times(), time.monotonic()
            rows_after = db.execute("SELECT count(*) FROM monitoring_resourcesample").fetchone()
            gpus = db.execute(
                "SELECT gpus FROM monitoring_resourcesample ORDER BY id DESC LIMIT 1"
            ).fetchone()
            db.close()
            rss = proc.memory_info().rss
            process.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            returncode = process.wait(timeout=10)
            stop_seconds = time.monotonic() - stopped
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    cpu = (after.user - before.user) + (after.system - before.system)
    wall = wall_after - wall_before
    return {
        "interval_s": interval,
        "measured_wall_s": round(wall, 2),
        "cpu_user_s": round(after.user - before.user, 3),
        "cpu_system_s": round(after.system - before.system, 3),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 3),
        "samples_stored": rows_after[0] - rows_before[0],
        "gpus_in_last_sample": len(json.loads(gpus[0])) if gpus else 0,
        "rss_mib": round(rss / 2**20, 1),
        "sigterm_exit_code": returncode,
        "sigterm_stop_s": round(stop_seconds, 3),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    figures = run(args.seconds, args.interval)
    result = {
        "benchmark": "B7 sample_resources CPU cost",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "versions": versions(),
        "target_percent_of_one_core": TARGET_PERCENT,
        "passed": figures["cpu_percent_of_one_core"] <= TARGET_PERCENT,
        **figures,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sampler.json").write_text(json.dumps(result, indent=2) + "\n")
    m, v = result["machine"], result["versions"]
    verdict = "meets" if result["passed"] else "MISSES"
    (args.out / "sampler.md").write_text(
        "# B7: resource sampler CPU cost\n\n"
        f"`manage.py sample_resources --interval {args.interval:g}` on SQLite, measured "
        f"over {figures['measured_wall_s']} s after a {SETTLE_SECONDS:g} s settle "
        f"({result['date']}).\n\n"
        f"Machine: {m['cpu_model']}, {m['logical_cores']} logical cores, "
        f"{m['memory_gib']} GiB RAM, {m['platform']}.  \n"
        f"Versions: Python {v['python']}, Django {v['django']}, psutil {v['psutil']}, "
        f"SQLite {v['sqlite']}, nvidia-ml-py {v['nvidia_ml_py']}.\n\n"
        "| figure | value |\n| --- | --- |\n"
        f"| CPU, % of one core | **{figures['cpu_percent_of_one_core']}** "
        f"(target ≤ {TARGET_PERCENT:g}: {verdict}) |\n"
        f"| CPU user / system | {figures['cpu_user_s']} s / {figures['cpu_system_s']} s |\n"
        f"| samples stored | {figures['samples_stored']} |\n"
        f"| GPUs per sample | {figures['gpus_in_last_sample']} |\n"
        f"| resident memory | {figures['rss_mib']} MiB |\n"
        f"| SIGTERM → exit | {figures['sigterm_stop_s']} s, exit code "
        f"{figures['sigterm_exit_code']} |\n"
    )
    print(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
